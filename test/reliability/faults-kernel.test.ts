// Faults on the kernel datapath with traffic flowing: the agent SIGKILLed at
// random points of ~20 applies, and a chain member the verifier rejects. The
// sender's every 10th packet comes from a source every chain version blocks,
// so a bypassed chain shows up at the receiver; good packets must all arrive.

import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD, skipKernel } from '../datapath-kernel/fixtures.js';
import { startTraffic } from '../datapath-kernel/traffic.js';
import { createHarness, type Harness } from '../e2e/fleet-harness.js';
import { git } from '../trust/fixtures.js';
import { commitEdits, programYaml, sha256 } from './hostile-repo.js';
import { pidsWith } from './proc.js';

/** BPFLEET_RELIABILITY_LONG=1 runs the long variant (100 kills). */
const KILLS = process.env.BPFLEET_RELIABILITY_LONG ? 100 : 20;
let h: Harness;
let good: string;
const E1 = 'hosts/edge-1.yaml';

const pinAgent = () => {
  for (const pid of pidsWith(join(h.dir, 'edge-1', 'agent.yaml'))) execFileSync('taskset', ['-a', '-p', '-c', '0', String(pid)], { stdio: 'ignore' });
};

beforeAll(async () => {
  if (skipKernel) return;
  h = await createHarness({ hosts: ['edge-1'], datapath: 'kernel' });
  const bad = h.pairs.get('edge-1')!.a.addrs[1]!;
  // Every version of the chain blocks the test's "bad" source; the rate limit never drops.
  good = commitEdits(h.repo, h.signer, 'edge-1: block the test source', {
    [E1]: (t) => t.replace('203.0.113.66/32]', `203.0.113.66/32, ${bad}/32]`).replace('ratePps: 200000, burst: 400000', 'ratePps: 90000000, burst: 90000000'),
  });
  await h.startReconciler();
  await h.startAgent('edge-1');
  await h.waitConverged(good, 30_000);
  pinAgent();
}, 90_000);
afterAll(async () => h?.cleanup());

const rateCommit = (n: number) => commitEdits(h.repo, h.signer, `edge-1: rate ${n}`, { [E1]: (t) => t.replace(/ratePps: \d+/, `ratePps: ${n}`) });

describe.skipIf(skipKernel)('kernel faults under traffic', () => {
  it(`SIGKILL of the agent at random points of ${KILLS} applies: no packet bypasses the chain, none lost`, async () => {
    const traffic = await startTraffic(h.pairs.get('edge-1')!, { senderCpu: 1, badEvery: 10 });
    let head = good;
    try {
      for (let i = 1; i <= KILLS; i++) {
        head = rateCommit(90_000_000 - i);
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 600));
        await h.stopAgent('edge-1', 'SIGKILL');
        await h.startAgent('edge-1');
        pinAgent();
      }
      await h.waitConverged(head, 60_000);
    } finally {
      const { sent, received } = await traffic.stop();
      console.log(`kernel kills: ${KILLS}; sent good ${sent.sentGood} bad ${sent.sentBad}; received good ${received.good} bad ${received.bad} dup ${received.dup}`);
      expect(sent.sentGood).toBeGreaterThan(10_000);
      expect(received.bad, 'packets from the blocked source reached the receiver: a chain was bypassed').toBe(0);
      expect(sent.sentGood - received.good, 'good packets lost').toBe(0);
      expect(received.dup).toBe(0);
    }
    good = head;
  }, KILLS * 15_000);

  it('a member the verifier rejects: status says why, the running chain keeps filtering', async () => {
    const traffic = await startTraffic(h.pairs.get('edge-1')!, { senderCpu: 1, badEvery: 10 });
    const before = (await h.fleet()).hosts[0]!;
    const obj = readFileSync(join(BUILD, 'test', 'bad.bpf.o'));
    let bad = '';
    try {
      copyFileSync(join(BUILD, 'test', 'bad.bpf.o'), join(h.repo, 'objects', 'bad.bpf.o'));
      bad = commitEdits(h.repo, h.signer, 'edge-1: add a member the verifier rejects', {
        'programs/bad/1.0.0.yaml': programYaml('bad', '1.0.0', { path: 'objects/bad.bpf.o', sha256: sha256(obj) }, 'bad_xdp'),
        [E1]: (t) => t.replace('          - program: counter@1.0.0', '          - program: bad@1.0.0\n          - program: counter@1.0.0'),
      });
      const f = await h.waitFor((x) => x.hosts[0]!.state === 'error' && x.hosts[0]!.desired?.commit === bad, 'the agent to report the verifier refusal', 30_000);
      const host = f.hosts[0]!;
      expect(JSON.stringify(host)).toMatch(/Verifier|verifier|EACCES|EINVAL|LoadFailed/);
      // The error is about the new commit; what runs is still the last applied document.
      expect(JSON.parse(readFileSync(join(h.dir, 'edge-1', 'state', 'last-desired.json'), 'utf8')).commit).toBe(good);
      expect(host.desired!.generation).toBeGreaterThan(before.desired!.generation);
    } finally {
      const { sent, received } = await traffic.stop();
      console.log(`verifier refusal: sent good ${sent.sentGood}, received good ${received.good}, bad ${received.bad}`);
      expect(received.bad).toBe(0);
      expect(sent.sentGood - received.good).toBe(0);
    }
    git(h.repo, [...h.signer.gitArgs, 'revert', '--no-edit', '-S', 'HEAD']);
    const revert = git(h.repo, ['rev-parse', 'HEAD']);
    await h.waitConverged(revert, 30_000);
  }, 120_000);
});
