import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { Command } from 'commander';
import { registerStatus, runStatus, type StatusIo } from '../../cli/commands/status.js';
import type { StatusReport } from '../../schemas/protocol.js';
import { ADMIN_TOKEN, C1, C2, TOKENS, fleet, startApi, tempDir, type Running } from './helpers.js';

let api: Running;
beforeEach(async () => {
  api = await startApi();
  await api.api.publish(fleet(C1, ['edge-1', 'edge-2']));
});
afterEach(async () => {
  await api.stop();
});

function io(env: Record<string, string> = { BPFLEET_TOKEN: ADMIN_TOKEN }, colour = false): StatusIo & { out: string; err: string } {
  const r = { out: '', err: '', colour, env } as StatusIo & { out: string; err: string };
  r.stdout = (s) => void (r.out += s);
  r.stderr = (s) => void (r.err += s);
  return r;
}
async function report(host: string, generation: number, state: StatusReport['state'] = 'converged') {
  const body: StatusReport = { host, generation, commit: C1, state, hooks: [], drift: [], datapath: 'sim', agentVersion: '0.1.0', reportedAt: new Date().toISOString() };
  const res = await request(`${api.url}/v1/hosts/${host}/status`, { method: 'POST', body: JSON.stringify(body), headers: { authorization: `Bearer ${TOKENS[host]}`, 'content-type': 'application/json' } });
  await res.body.dump();
  expect(res.statusCode).toBe(204);
}

describe('bpfleet status', () => {
  test('all converged: table, summary, exit 0, no colour when not a TTY', async () => {
    await report('edge-1', 1);
    await report('edge-2', 1);
    api.api.setFleetInfo({ trust: { status: 'authenticated', lastAuthenticatedCommit: C1 } });
    const o = io();
    expect(await runStatus({ server: api.url }, o)).toBe(0);
    const lines = o.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^HOST\s+DESIRED\s+APPLIED\s+STATE\s+LAST SEEN\s+REASON$/);
    expect(lines[1]).toMatch(new RegExp(`^edge-1\\s+${C1.slice(0, 12)}\\s+${C1.slice(0, 12)}\\s+converged\\s+\\d+s ago$`));
    expect(lines.at(-1)).toBe('2 hosts: 2 converged');
    expect(o.out).not.toContain('\x1b[');
    expect(o.err).toBe('');
  });

  test('some not converged and the trust gate refusing: exit 2 with reasons; colour on a TTY', async () => {
    await report('edge-1', 1, 'error');
    api.api.setFleetInfo({ trust: { status: 'refused', reason: 'UnsignedCommit', commit: C2, lastAuthenticatedCommit: C1, message: 'commit is not signed' } });
    const o = io(undefined, true);
    expect(await runStatus({ server: api.url }, o)).toBe(2);
    expect(o.out).toContain('2 hosts: ');
    expect(o.out).toContain('1 error');
    expect(o.out).toContain('1 unreachable');
    expect(o.out).toContain('NeverReported');
    expect(o.out).toContain(`trust gate: refused\x1b[0m (UnsignedCommit at ${C2.slice(0, 12)}): commit is not signed; fleet stays on ${C1.slice(0, 12)}`);
    expect(o.out).toContain('\x1b[31m');
  });

  test('--json prints the reconciler document; --token-file works', async () => {
    const d = await tempDir();
    try {
      const tokenFile = join(d.path, 'admin-token');
      await writeFile(tokenFile, `${ADMIN_TOKEN}\n`);
      const o = io({});
      expect(await runStatus({ server: api.url, tokenFile, json: true }, o)).toBe(2);
      const doc = JSON.parse(o.out);
      expect(doc.summary).toEqual({ total: 2, byState: { unreachable: 2 } });
    } finally {
      await d.cleanup();
    }
  });

  test('errors exit 1: no token, wrong token, unreachable server', async () => {
    const none = io({});
    expect(await runStatus({ server: api.url }, none)).toBe(1);
    expect(none.err).toContain('BPFLEET_TOKEN');
    const wrong = io({ BPFLEET_TOKEN: TOKENS['edge-1']! });
    expect(await runStatus({ server: api.url }, wrong)).toBe(1);
    expect(wrong.err).toContain('403 AdminOnly');
    const down = io();
    expect(await runStatus({ server: 'http://127.0.0.1:9', timeout: '2' }, down)).toBe(1);
    expect(down.err).toContain('cannot reach http://127.0.0.1:9');
  });

  test('registers a `status` command with its options', () => {
    const program = new Command();
    registerStatus(program);
    const cmd = program.commands.find((c) => c.name() === 'status')!;
    expect(cmd.options.map((o) => o.long).sort()).toEqual(['--json', '--server', '--timeout', '--token-file']);
  });
});
