// Faults against a running sim fleet (real processes): agents and the
// reconciler SIGKILLed at random points, the Git remote gone or serving
// garbage, corrupted state files, a full disk, a long reconciler outage.
// After each: the fleet re-converges on the newest good commit, or the
// problem is reported with a reason, and nothing half-applied remains.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FleetStatus } from '../../schemas/protocol.js';
import { createHarness, type Harness } from '../e2e/fleet-harness.js';
import { git } from '../trust/fixtures.js';

const BIN = new URL('../../bin/bpfleet', import.meta.url).pathname;
const rate = (h: Harness, pps: number, host = 'edge-1') =>
  h.commit(`${host}: rate ${pps}`, (repo) => {
    const f = join(repo, 'hosts', `${host}.yaml`);
    writeFileSync(f, readFileSync(f, 'utf8').replace(/ratePps: \d+/, `ratePps: ${pps}`));
  });
/** BPFLEET_RELIABILITY_LONG=1 runs the long variants (500 applies instead of 100). */
const APPLIES = process.env.BPFLEET_RELIABILITY_LONG ? 500 : 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lastDesired = (h: Harness, host: string) => JSON.parse(readFileSync(join(h.dir, host, 'state', 'last-desired.json'), 'utf8')) as { commit: string; generation: number; state: { interfaces: { hooks: { chain: { params: Record<string, unknown> }[] }[] }[] } };
const ratePpsOf = (h: Harness, host: string) => lastDesired(h, host).state.interfaces[0]!.hooks[0]!.chain[1]!.params.ratePps;
const noDrift = (f: FleetStatus) => f.hosts.every((x) => x.state === 'converged' && (x.reported?.driftCount ?? 0) === 0);

const harnesses: Harness[] = [];
async function fleet(opts: Parameters<typeof createHarness>[0], before?: (h: Harness) => void): Promise<Harness> {
  const h = await createHarness(opts);
  harnesses.push(h);
  before?.(h);
  await h.startReconciler();
  for (const host of opts.hosts) await h.startAgent(host);
  await h.waitConverged(h.introduction);
  return h;
}
const mounts: string[] = [];
afterAll(async () => {
  for (const h of harnesses) await h.stopReconciler('SIGKILL').catch(() => undefined);
  for (const m of mounts) execFileSync('umount', ['-l', m]);
  for (const h of harnesses) await h.cleanup();
});

describe('process crashes', () => {
  it(`SIGKILL of an agent at random points during ${APPLIES} applies`, async () => {
    const h = await fleet({ hosts: ['edge-1', 'edge-2'], datapath: 'sim' });
    let kills = 0;
    let head = h.introduction;
    for (let i = 1; i <= APPLIES; i++) {
      head = rate(h, 1000 + i);
      await sleep(Math.random() * 120);
      if (Math.random() < 0.25) {
        await h.stopAgent('edge-1', 'SIGKILL');
        kills++;
        await h.startAgent('edge-1');
      }
    }
    const f = await h.waitConverged(head, 60_000);
    expect(noDrift(f)).toBe(true);
    expect(ratePpsOf(h, 'edge-1')).toBe(1000 + APPLIES);
    expect(ratePpsOf(h, 'edge-2')).toBeUndefined();
    // The applied record and the last document agree after every crash.
    const applied = JSON.parse(readFileSync(join(h.dir, 'edge-1', 'state', 'applied-desired.json'), 'utf8'));
    expect(applied.commit).toBe(head);
    expect(lastDesired(h, 'edge-1').generation).toBe(applied.generation);
    console.log(`agent SIGKILLs: ${kills} during ${APPLIES} commits; converged on the last`);
    expect(kills).toBeGreaterThan(5);
  }, APPLIES * 3_000);

  it('SIGKILL of the reconciler right after commits, ten times', async () => {
    const h = harnesses[0]!;
    let head = '';
    for (let i = 0; i < 10; i++) {
      head = rate(h, 5000 + i);
      await sleep(Math.random() * 200);
      await h.stopReconciler('SIGKILL');
      await h.startReconciler();
      await h.waitConverged(head, 30_000);
    }
    expect(ratePpsOf(h, 'edge-1')).toBe(5009);
    // State files are intact JSON after ten crashes.
    for (const f of readdirSync(join(h.dir, 'reconciler-state', 'state'))) {
      if (f.endsWith('.json')) expect(() => JSON.parse(readFileSync(join(h.dir, 'reconciler-state', 'state', f), 'utf8'))).not.toThrow();
    }
  }, 180_000);
});

describe('the Git remote', () => {
  it('disappears (file:// path gone), then comes back', async () => {
    const h = await fleet({ hosts: ['edge-1'], datapath: 'sim', remote: true });
    const moved = `${h.repo}.away`;
    renameSync(h.repo, moved);
    await sleep(2000);
    let f = await h.fleet();
    expect(f.trust.status).toBe('authenticated');
    expect(noDrift(f)).toBe(true);
    expect(h.logs('reconciler')).toMatch(/"result":"unavailable"|SourceUnavailable|FetchFailed/);
    renameSync(moved, h.repo);
    const head = rate(h, 4242);
    f = await h.waitConverged(head, 20_000);
    expect(ratePpsOf(h, 'edge-1')).toBe(4242);
  }, 60_000);

  it('serves garbage (a corrupted object in the remote), then is repaired', async () => {
    const h = harnesses.at(-1)!;
    const before = (await h.fleet()).hosts[0]!.desired!.generation;
    const head = rate(h, 777);
    // Corrupt the loose object of the new host file's blob in the remote.
    const blob = git(h.repo, ['rev-parse', `${head}:hosts/edge-1.yaml`]);
    const path = join(h.repo, '.git', 'objects', blob.slice(0, 2), blob.slice(2));
    const good = readFileSync(path);
    execFileSync('chmod', ['u+w', path]);
    writeFileSync(path, Buffer.from('garbage, not zlib'));
    await sleep(3000);
    const f = await h.fleet();
    expect(f.hosts[0]!.desired!.generation).toBe(before);
    expect(noDrift(f)).toBe(true);
    expect(h.logs('reconciler')).toMatch(/"result":"unavailable"|"result":"refused"|"result":"invalid"/);
    writeFileSync(path, good);
    await h.waitConverged(head, 20_000);
    expect(ratePpsOf(h, 'edge-1')).toBe(777);
  }, 60_000);
});

describe('state files', () => {
  it('a truncated last-desired.json: the agent says so and re-syncs from the reconciler', async () => {
    const h = harnesses[0]!;
    const head = (await h.fleet()).commit!;
    await h.stopAgent('edge-2', 'SIGKILL');
    const p = join(h.dir, 'edge-2', 'state', 'last-desired.json');
    writeFileSync(p, readFileSync(p).subarray(0, 37));
    const mark = h.logs('agent-edge-2').length;
    await h.startAgent('edge-2');
    const until = Date.now() + 20_000;
    while (!/unreadable last-desired/.test(h.logs('agent-edge-2').slice(mark)) && Date.now() < until) await sleep(100);
    expect(h.logs('agent-edge-2').slice(mark)).toMatch(/ignoring unreadable last-desired\.json/);
    await h.waitFor(() => { try { return lastDesired(h, 'edge-2').commit === head; } catch { return false; } }, 'edge-2 to rewrite its state');
    await h.waitConverged(head);
  }, 60_000);

  it('a truncated applied-desired.json (the replay floor): the agent refuses to start naming it; removing it recovers', async () => {
    const h = harnesses[0]!;
    const head = (await h.fleet()).commit!;
    await h.stopAgent('edge-2', 'SIGKILL');
    const p = join(h.dir, 'edge-2', 'state', 'applied-desired.json');
    writeFileSync(p, readFileSync(p).subarray(0, 20));
    const r = spawnSync(process.execPath, [BIN, 'agent', '--config', join(h.dir, 'edge-2', 'agent.yaml')], { timeout: 15_000, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('applied-desired.json');
    rmSync(p);
    await h.startAgent('edge-2');
    await h.waitConverged(head);
  }, 60_000);

  it('a truncated status file is moved aside with a warning; the reconciler keeps running and the host reports again', async () => {
    const h = harnesses[0]!;
    const head = (await h.fleet()).commit!;
    await h.stopReconciler('SIGKILL');
    const p = join(h.dir, 'reconciler-state', 'state/status/edge-1.json');
    writeFileSync(p, readFileSync(p).subarray(0, 20));
    await h.startReconciler();
    await h.waitConverged(head, 20_000);
    expect(h.logs('reconciler')).toMatch(/edge-1\.json[^"]*moved aside to [^"]*edge-1\.json\.corrupt-/);
    expect(readdirSync(join(h.dir, 'reconciler-state', 'state/status')).some((f) => f.startsWith('edge-1.json.corrupt-'))).toBe(true);
  }, 60_000);

  for (const [what, rel, restore] of [
    ['commits.json (the forward-only anchor)', 'state/commits.json', 'restore'],
    ['generations.json', 'state/generations.json', 'restore'],
  ] as const) {
    it(`a truncated ${what}: the reconciler refuses to start naming it; the operator's fix recovers`, async () => {
      const h = harnesses[0]!;
      const head = (await h.fleet()).commit!;
      await h.stopReconciler('SIGKILL');
      const p = join(h.dir, 'reconciler-state', rel);
      const saved = readFileSync(p);
      writeFileSync(p, saved.subarray(0, 20));
      const r = spawnSync(process.execPath, [BIN, 'reconciler', '--config', join(h.dir, 'reconciler.yaml')], { timeout: 15_000, encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/CorruptFile|corrupt/);
      expect(r.stdout + r.stderr).toContain(rel.split('/').pop()!);
      if (restore === 'restore') writeFileSync(p, saved);
      else rmSync(p);
      await h.startReconciler();
      await h.waitConverged(head, 20_000);
    }, 60_000);
  }

  it('a garbage authenticated-commits cache is rebuilt, not trusted', async () => {
    const h = harnesses[0]!;
    await h.stopReconciler('SIGKILL');
    writeFileSync(join(h.dir, 'reconciler-state', 'authenticated-commits.json'), '\u0000\u0000garbage');
    await h.startReconciler();
    const head = rate(h, 6060);
    await h.waitConverged(head, 20_000);
    expect(() => JSON.parse(readFileSync(join(h.dir, 'reconciler-state', 'authenticated-commits.json'), 'utf8'))).not.toThrow();
  }, 60_000);
});

describe('resources', () => {
  it('a full disk under the reconciler state dir, then freed', async () => {
    const h = await fleet({ hosts: ['edge-1'], datapath: 'sim' }, (x) => {
      const dir = join(x.dir, 'reconciler-state');
      mkdirSync(dir, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', dir]);
      mounts.push(dir);
    });
    const dir = join(h.dir, 'reconciler-state');
    const filler = join(dir, 'filler');
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k', 'count=100'], { stdio: 'ignore' });
    } catch {
      /* ENOSPC is the point */
    }
    expect(statSync(filler).size).toBeGreaterThan(1_000_000);
    const gen = (await h.fleet()).hosts[0]!.desired!.generation;
    const head = rate(h, 31337);
    await sleep(3000);
    const f = await h.fleet();
    // Nothing half-published: either still the old generation, or fully the new one.
    const host = f.hosts[0]!;
    expect([gen, gen + 1]).toContain(host.desired!.generation);
    expect(h.logs('reconciler')).toMatch(/ENOSPC|StateWriteFailed|no space/i);
    // A full disk is not a verdict on the commit.
    expect(f.trust.status).not.toBe('refused');
    rmSync(filler);
    // Nothing else happens: the reconciler must retry by itself once space is back.
    await h.waitConverged(head, 30_000);
    expect(ratePpsOf(h, 'edge-1')).toBe(31337);
  }, 90_000);

  it('the reconciler unreachable for a while: agents keep their datapath, back off, reconverge', async () => {
    const h = harnesses[0]!;
    const before = await h.fleet();
    const mark = { 'edge-1': h.logs('agent-edge-1').length, 'edge-2': h.logs('agent-edge-2').length };
    await h.stopReconciler('SIGKILL');
    await sleep(8000);
    for (const host of ['edge-1', 'edge-2'] as const) {
      const tail = h.logs(`agent-${host}`).slice(mark[host]);
      expect(tail).toMatch(/retryInMs/);
      expect(tail).not.toMatch(/desired state applied|"msg":"apply: stage/);
      const delays = [...tail.matchAll(/"retryInMs":(\d+)/g)].map((m) => Number(m[1]));
      expect(Math.max(...delays)).toBeGreaterThan(1000);
    }
    await h.startReconciler();
    await h.waitConverged(before.commit!, 30_000);
    const head = rate(h, 999);
    await h.waitConverged(head, 30_000);
  }, 90_000);
});
