// The CLI against a real Git repository built from examples/repo: what a CI
// job on a pull request runs. Needs the compiled CLI (npm run setup).

import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_REPO } from './example-tree.js';

const BIN = new URL('../../bin/bpfleet', import.meta.url).pathname;
let repo: string;

const git = (...args: string[]) =>
  execFileSync('git', ['-C', repo, '-c', 'user.name=Test', '-c', 'user.email=test@example.org', '-c', 'commit.gpgsign=false', ...args], { encoding: 'utf8' });
const bpfleet = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
const edit = (file: string, f: (t: string) => string) => writeFileSync(join(repo, file), f(readFileSync(join(repo, file), 'utf8')));

beforeAll(() => {
  repo = mkdtempSync(join(tmpdir(), 'bpfleet-cli-'));
  cpSync(EXAMPLE_REPO, repo, { recursive: true });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'fleet: initial');
  edit('hosts/edge-1.yaml', (t) => t.replace('ratePps: 200000', 'ratePps: 50000'));
  edit('hosts/edge-2.yaml', (t) => t.replace('          - program: counter@1.0.0', '          - program: ratelimit@1.0.0\n            params: { ratePps: 1000, burst: 2000 }\n          - program: counter@1.0.0'));
  git('commit', '-qam', 'edge: tighten rate limits');
});
afterAll(() => rmSync(repo, { recursive: true, force: true }));

describe('bpfleet CLI on a real repository', () => {
  it('validate: exit 0 on a valid commit', () => {
    const r = bpfleet('validate', '--repo', repo);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^valid: [0-9a-f]{12}: 3 host\(s\)/);
  });

  it('plan: exit 2 with the per-host changes', () => {
    const r = bpfleet('plan', '--repo', repo, '--from', 'HEAD~1', '--to', 'HEAD');
    expect(r.status).toBe(2);
    expect(r.stdout).toContain('host edge-1');
    expect(r.stdout).toContain('~ eth0/xdp: parameters only, no reload: ratelimit {"burst":400000,"ratePps":200000} → {"burst":400000,"ratePps":50000}');
    expect(r.stdout).toContain('~ eth0/xdp: replace blocklist@1.0.0 → counter@1.0.0  ⇒  blocklist@1.0.0 → ratelimit@1.0.0 → counter@1.0.0 (+ratelimit@1.0.0)');
    expect(r.stdout).not.toContain('core-1');
    expect(r.stdout).toMatch(/Plan: 2 host\(s\) to change, 0 to add, 0 to remove \(2 hook\(s\)\); 1 unchanged\./);
  });

  it('plan: exit 0 when nothing changes', () => {
    const r = bpfleet('plan', '--repo', repo, '--from', 'HEAD', '--to', 'HEAD');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('No changes.');
  });

  it('plan: JSON and Markdown for machines and pull requests', () => {
    const j = bpfleet('plan', '--repo', repo, '--from', 'HEAD~1', '--format', 'json');
    expect(j.status).toBe(2);
    const plan = JSON.parse(j.stdout);
    expect(plan.to).toBe(git('rev-parse', 'HEAD').trim());
    expect(plan.summary.hostsChanged).toBe(2);
    const md = bpfleet('plan', '--repo', repo, '--from', 'HEAD~1', '--format', 'markdown');
    expect(md.status).toBe(2);
    expect(md.stdout).toMatch(/^### bpfleet plan `[0-9a-f]{12}` → `[0-9a-f]{12}`/);
    expect(md.stdout).toContain('| edge-2 | `eth0/xdp` | replaced:');
  });

  it('plan and validate: exit 1 on an unknown revision or a bad format', () => {
    const r = bpfleet('plan', '--repo', repo, '--from', 'no-such-branch');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('cannot resolve revision "no-such-branch"');
    expect(bpfleet('plan', '--repo', repo, '--format', 'yaml').status).toBe(1);
    expect(bpfleet('validate', '--repo', join(repo, 'nope')).status).toBe(1);
  });

  it('validate reads the commit, never the working tree', () => {
    edit('hosts/core-1.yaml', (t) => t.replace('kind: Host', 'kind: Hots'));
    try {
      expect(bpfleet('validate', '--repo', repo).status).toBe(0);
      git('commit', '-qam', 'typo');
      const r = bpfleet('validate', '--repo', repo);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('hosts/core-1.yaml:2:7: kind: expected "Host", got "Hots"');
      const j = bpfleet('validate', '--repo', repo, '--json');
      expect(j.status).toBe(1);
      expect(JSON.parse(j.stdout).diagnostics[0]).toMatchObject({ file: 'hosts/core-1.yaml', line: 2, col: 7, code: 'SchemaViolation' });
      // A plan towards an invalid commit is an error, not a plan.
      const p = bpfleet('plan', '--repo', repo, '--from', 'HEAD~1', '--to', 'HEAD');
      expect(p.status).toBe(1);
      expect(p.stderr).toContain('hosts/core-1.yaml:2:7');
    } finally {
      git('reset', '-q', '--hard', 'HEAD~1');
    }
  });

  it('--help works on every command', () => {
    for (const cmd of [[], ['validate'], ['plan']]) {
      const r = bpfleet(...cmd, '--help');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('Usage: bpfleet');
    }
  });
});
