// 1,000 whole-chain swaps on a veth carrying real traffic, on XDP and on tcx
// ingress: every packet that reaches the root runs exactly one complete chain,
// nothing falls through, and the source every chain version drops never
// reaches the receiver.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hook } from '../../schemas/desired-state.js';
import { createKernelDatapath, type KernelDatapath } from '../../agent/datapath/kernel/index.js';
import type { KernelMemberCounters } from '../../agent/datapath/kernel/index.js';
import { removePins } from '../../agent/datapath/kernel/pins.js';
import { createVethPair, type VethPair } from '../netns.js';
import { BUILD, buildBpf, exampleChain, objects, skipKernel, uniquePinRoot } from './fixtures.js';
import { pinSelf, startTraffic } from './traffic.js';

const SWAPS = 1000;

describe.skipIf(skipKernel)('whole-chain swaps under traffic', () => {
  let pair: VethPair;
  const pinRoot = uniquePinRoot('swap');
  beforeAll(() => {
    buildBpf();
    pair = createVethPair({ prefix: 'bfsw', extraA: 1 });
  });
  afterAll(() => {
    pair?.destroy();
    removePins(pinRoot);
  });

  for (const hook of ['xdp', 'tc-ingress'] as Hook[]) {
    it(`${hook}: ${SWAPS} swaps, zero bypass, zero fallback`, async () => {
      const dp: KernelDatapath = await createKernelDatapath({ host: `swap-${hook}`, pinRoot, netns: pair.b.path, rootObjectDir: BUILD, graceMs: 100 });
      const ref = { iface: pair.b.iface, hook };
      const bad = pair.a.addrs[1]!;
      // Two chain versions that differ in content; both drop `bad`.
      const versions = [
        exampleChain(hook, { blocked: [bad], ratePps: 50_000_000, burst: 50_000_000 }),
        exampleChain(hook, { blocked: [`${bad}/32`, '10.99.0.0/16'], ratePps: 60_000_000, burst: 60_000_000 }),
      ];
      await dp.activate(await dp.stage(ref, versions[0]!, objects));
      const first = (await dp.live())[0]!.generation;

      const restore = pinSelf(0);
      const traffic = await startTraffic(pair, { senderCpu: 1, badEvery: 10 });
      const started = process.hrtime.bigint();
      try {
        for (let i = 1; i <= SWAPS; i++) await dp.activate(await dp.stage(ref, versions[i % 2]!, objects));
      } finally {
        restore();
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const { sent, received } = await traffic.stop();

      const c = await dp.counters(ref);
      const root = dp.rootCounters(ref);
      const [blocklist, ratelimit, counter] = c.members as KernelMemberCounters[];
      const pass = hook === 'xdp' ? 'pass' : 'ok';
      const drop = hook === 'xdp' ? 'drop' : 'shot';
      console.log(JSON.stringify({ hook, swaps: SWAPS, seconds, sent, received, root, members: c.members }));

      expect((await dp.live())[0]!.generation).toBe(first + SWAPS);
      expect(sent.sentGood).toBeGreaterThan(10_000); // traffic really flowed during the swaps
      // Nothing fell through the root, nothing skipped a member.
      expect(c.fallback).toBe(0);
      expect(root.entered).toBe(sent.sentGood + sent.sentBad);
      expect(blocklist!.packets).toBe(root.entered);
      expect(blocklist!.verdicts[drop]).toBe(sent.sentBad);
      expect(ratelimit!.packets).toBe(blocklist!.verdicts[pass]);
      expect(counter!.packets).toBe(ratelimit!.verdicts[pass]);
      expect(counter!.verdicts[pass]).toBe(sent.sentGood);
      for (const m of c.members as KernelMemberCounters[]) expect(m.missed).toBe(0);
      // And the receiver agrees, packet by packet.
      expect(received.bad).toBe(0);
      expect(received.dup).toBe(0);
      expect(received.good).toBe(sent.sentGood);
      expect(await dp.drift()).toEqual([]);

      dp.flushReleases();
      await dp.remove(ref);
      await dp.close();
    }, 120_000);
  }
});
