// The CLI is a public surface: commands and flags change only on purpose.
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../cli/main.js';

describe('CLI surface', () => {
  it('has exactly these commands and options', () => {
    const surface = Object.fromEntries(
      buildProgram().commands.map((c) => [c.name(), c.options.map((o) => o.long).sort()]),
    );
    expect(surface).toEqual({
      validate: ['--json', '--repo', '--rev'],
      plan: ['--format', '--from', '--json', '--repo', '--running', '--server', '--timeout', '--to', '--token-file'],
      verify: expect.arrayContaining(['--allow-downgrade', '--introduction', '--json', '--repo', '--since', '--to']),
      reconciler: ['--config'],
      agent: ['--config'],
      history: ['--host', '--json', '--repo', '--rev', '--state-dir'],
      status: ['--json', '--server', '--timeout', '--token-file'],
    });
  });

  it('every reporting command offers --json', () => {
    for (const c of buildProgram().commands) {
      if (['reconciler', 'agent'].includes(c.name())) continue;
      expect(c.options.map((o) => o.long), c.name()).toContain('--json');
    }
  });
});
