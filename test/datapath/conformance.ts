// The Datapath contract as executable cases. Every implementation (sim,
// kernel) registers the same suite, so the agent's transaction logic can be
// tested against the sim and trusted against the kernel.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DatapathError,
  MAX_CHAIN_LENGTH,
  type Datapath,
  type DatapathErrorCode,
  type HookRef,
  type ObjectSource,
} from '../../agent/datapath/datapath.js';
import { canonicalHash } from '../../schemas/canonical-json.js';
import type { ChainMember, HookPolicy, HookState } from '../../schemas/desired-state.js';
import type { FixtureMembers } from './fixtures.js';

export interface ConformanceTarget {
  datapath: Datapath;
  /** Interfaces the target created for the suite; ifaces[0] is used, ifaces[1] when present. */
  ifaces: string[];
  objects: ObjectSource;
  members: FixtureMembers;
  /** A second instance over the same live state (an agent restart). */
  reopen(): Promise<Datapath>;
  /**
   * Send `count` packets from `src` through the hook and wait until the
   * datapath has seen them. Targets without traffic leave it out; the
   * counter and persistent-map cases then are not registered.
   */
  send?(ref: HookRef, count: number, src: string): Promise<void>;
  /** Read a named map of the live chain as counter name → value (e.g. { packets: 3 }). */
  readCounter?(ref: HookRef, map: string): Promise<number>;
  cleanup(): Promise<void>;
}

export interface ConformanceOptions {
  /** Whether make() provides send() and readCounter(). */
  traffic: boolean;
}

export function datapathConformance(
  name: string,
  make: () => Promise<ConformanceTarget>,
  options: ConformanceOptions = { traffic: false },
): void {
  describe(`Datapath conformance: ${name}`, () => {
    let t: ConformanceTarget;
    let xdp: HookRef;
    let tc: HookRef;

    const hookState = (ref: HookRef, chain: ChainMember[], policy: HookPolicy = 'pass'): HookState => ({
      hook: ref.hook,
      policy,
      chain,
    });
    const install = async (ref: HookRef, chain: ChainMember[], policy: HookPolicy = 'pass') => {
      const staged = await t.datapath.stage(ref, hookState(ref, chain, policy), t.objects);
      await t.datapath.activate(staged);
      return staged;
    };
    const liveHook = async (ref: HookRef) =>
      (await t.datapath.live()).find((h) => h.iface === ref.iface && h.hook === ref.hook);
    const expectRefusal = async (promise: Promise<unknown>, code: DatapathErrorCode) => {
      const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, `expected DatapathError ${code}`).toBeInstanceOf(DatapathError);
      expect((error as DatapathError).code).toBe(code);
      return error as DatapathError;
    };

    beforeAll(async () => {
      t = await make();
      xdp = { iface: t.ifaces[0]!, hook: 'xdp' };
      tc = { iface: t.ifaces[1] ?? t.ifaces[0]!, hook: 'tc-ingress' };
    });
    afterEach(async () => {
      for (const h of await t.datapath.live()) await t.datapath.remove(h);
    });
    afterAll(async () => {
      await t?.datapath.close();
      await t?.cleanup();
    });

    it('stages without touching traffic, then activate makes the chain live', async () => {
      const m = t.members;
      const chain = [m.counter('xdp'), m.blocklist('xdp', ['192.0.2.0/24']), m.ratelimit('xdp', 1000, 50)];
      const staged = await t.datapath.stage(xdp, hookState(xdp, chain, 'drop'), t.objects);
      expect(staged).toMatchObject({ iface: xdp.iface, hook: 'xdp' });
      expect(await liveHook(xdp)).toBeUndefined();

      await t.datapath.activate(staged);
      const live = await liveHook(xdp);
      expect(live).toMatchObject({ policy: 'drop', generation: staged.generation });
      expect(live!.rootProgId).toBeGreaterThan(0);
      expect(live!.members.map((x) => [x.program, x.version, x.sha256, x.entry, x.paramsHash])).toEqual(
        chain.map((c) => [c.program, c.version, c.object.sha256, c.entry, canonicalHash(c.params)]),
      );
      const ids = live!.members.map((x) => x.progId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(live!.members.every((x) => x.tag.length > 0)).toBe(true);
    });

    it('a swap bumps the generation, keeps the root and loads new programs', async () => {
      const first = await install(xdp, [t.members.counter('xdp')]);
      const before = (await liveHook(xdp))!;
      const second = await install(xdp, [t.members.counter('xdp'), t.members.blocklist('xdp', ['198.51.100.7/32'])]);
      const after = (await liveHook(xdp))!;
      expect(second.generation).toBeGreaterThan(first.generation);
      expect(after.generation).toBe(second.generation);
      expect(after.rootProgId).toBe(before.rootProgId);
      expect(after.members).toHaveLength(2);
      expect(after.members[0]!.progId).not.toBe(before.members[0]!.progId);
    });

    it('a params-only update keeps program ids and changes the params hash', async () => {
      await install(xdp, [t.members.counter('xdp'), t.members.ratelimit('xdp', 1000, 10)]);
      const before = (await liveHook(xdp))!;
      const updated = [t.members.counter('xdp'), t.members.ratelimit('xdp', 5000, 20)];
      await t.datapath.updateParams(xdp, updated);
      const after = (await liveHook(xdp))!;
      expect(after.generation).toBe(before.generation);
      expect(after.members.map((x) => x.progId)).toEqual(before.members.map((x) => x.progId));
      expect(after.members[1]!.paramsHash).toBe(canonicalHash(updated[1]!.params));
      expect(after.members[1]!.paramsHash).not.toBe(before.members[1]!.paramsHash);
    });

    it('a params update that changes programs or carries a bad value is refused and changes nothing', async () => {
      await install(xdp, [t.members.ratelimit('xdp', 1000, 10)]);
      const before = await liveHook(xdp);
      await expectRefusal(t.datapath.updateParams(xdp, [t.members.counter('xdp')]), 'BadParameter');
      const badValue = { ...t.members.ratelimit('xdp', 1000, 10), params: { burst: 10, rate_pps: 'fast' } };
      await expectRefusal(t.datapath.updateParams(xdp, [badValue]), 'BadParameter');
      expect(await liveHook(xdp)).toEqual(before);
    });

    it('discard leaves the live chain untouched and the handle unusable', async () => {
      await install(xdp, [t.members.counter('xdp')]);
      const before = await liveHook(xdp);
      const staged = await t.datapath.stage(xdp, hookState(xdp, [t.members.blocklist('xdp', ['10.0.0.0/8'])]), t.objects);
      await t.datapath.discard(staged);
      expect(await liveHook(xdp)).toEqual(before);
      await expectRefusal(t.datapath.activate(staged), 'NotStaged');
      expect(await liveHook(xdp)).toEqual(before);
    });

    it('refuses an object whose digest is not the pinned one, leaving live untouched', async () => {
      await install(xdp, [t.members.counter('xdp')]);
      const before = await liveHook(xdp);
      // The artifact store hands back other bytes than the manifest pinned.
      const counter = t.members.counter('xdp');
      const swapped: ObjectSource = async () => t.objects(t.members.blocklist('xdp', []).object.sha256);
      const err = await expectRefusal(t.datapath.stage(xdp, hookState(xdp, [counter]), swapped), 'DigestMismatch');
      expect(err.data).toMatchObject({ iface: xdp.iface, hook: 'xdp', member: 0 });
      expect(await liveHook(xdp)).toEqual(before);
    });

    it('refuses an interface that does not exist', async () => {
      const ghost: HookRef = { iface: 'bpfleet-nosuch0', hook: 'xdp' };
      await expectRefusal(t.datapath.stage(ghost, hookState(ghost, [t.members.counter('xdp')]), t.objects), 'InterfaceNotFound');
      expect(await t.datapath.live()).toEqual([]);
    });

    it('reports a verifier rejection with its log and leaves live untouched', async () => {
      await install(xdp, [t.members.counter('xdp')]);
      const before = await liveHook(xdp);
      const chain = [t.members.counter('xdp'), t.members.bad('xdp')];
      const err = await expectRefusal(t.datapath.stage(xdp, hookState(xdp, chain), t.objects), 'VerifierRejected');
      expect(err.data).toMatchObject({ member: 1 });
      expect(String(err.data.log)).toMatch(/invalid access to packet/);
      expect(await liveHook(xdp)).toEqual(before);
    });

    it('refuses a missing entry, an object without BTF and a mistyped parameter', async () => {
      const noEntry = { ...t.members.counter('xdp'), entry: 'counter_nosuch' };
      await expectRefusal(t.datapath.stage(xdp, hookState(xdp, [noEntry]), t.objects), 'EntryNotFound');
      await expectRefusal(t.datapath.stage(xdp, hookState(xdp, [t.members.noBtf('xdp')]), t.objects), 'BadObject');
      const mistyped = { ...t.members.ratelimit('xdp', 1, 1), params: { burst: 1, rate_pps: -5 } };
      const err = await expectRefusal(t.datapath.stage(xdp, hookState(xdp, [mistyped]), t.objects), 'BadParameter');
      expect(err.data).toMatchObject({ parameter: 'rate_pps' });
      const notCidr = t.members.blocklist('xdp', ['10.0.0.0/33']);
      await expectRefusal(t.datapath.stage(xdp, hookState(xdp, [notCidr]), t.objects), 'BadParameter');
      expect(await t.datapath.live()).toEqual([]);
    });

    it(`refuses a chain longer than ${MAX_CHAIN_LENGTH}`, async () => {
      const chain = Array.from({ length: MAX_CHAIN_LENGTH + 1 }, () => t.members.counter('xdp'));
      await expectRefusal(t.datapath.stage(xdp, hookState(xdp, chain), t.objects), 'ChainTooLong');
      expect(await t.datapath.live()).toEqual([]);
    });

    it('runs xdp and tc hooks side by side and removes one without the other', async () => {
      await install(xdp, [t.members.counter('xdp')]);
      await install(tc, [t.members.counter('tc-ingress'), t.members.blocklist('tc-ingress', ['203.0.113.0/24'])]);
      expect((await t.datapath.live()).map((h) => `${h.iface}/${h.hook}`).sort()).toEqual(
        [`${xdp.iface}/xdp`, `${tc.iface}/tc-ingress`].sort(),
      );
      await t.datapath.remove(xdp);
      const rest = await t.datapath.live();
      expect(rest.map((h) => h.hook)).toEqual(['tc-ingress']);
      expect(await t.datapath.drift()).toEqual([]);
    });

    it('a second instance adopts the live state without changing it', async () => {
      await install(xdp, [t.members.counter('xdp'), t.members.ratelimit('xdp', 100, 5)], 'drop');
      const before = await t.datapath.live();
      const second = await t.reopen();
      try {
        expect(await second.live()).toEqual(before);
        expect(await second.drift()).toEqual([]);
        // The adopted hook keeps counting generations forward.
        const next = await second.stage(xdp, hookState(xdp, [t.members.counter('xdp')]), t.objects);
        expect(next.generation).toBeGreaterThan(before[0]!.generation);
        await second.discard(next);
      } finally {
        await second.close();
      }
      expect(await t.datapath.live()).toEqual(before);
    });

    if (options.traffic) {
      it('every member counts each packet; a blocked source stops at its blocklist', async () => {
        await install(xdp, [t.members.counter('xdp'), t.members.blocklist('xdp', ['10.99.0.0/16'])]);
        await t.send!(xdp, 5, '10.1.0.1');
        await t.send!(xdp, 3, '10.99.3.4');
        const counters = await t.datapath.counters(xdp);
        expect(counters.members.map((m) => m.packets)).toEqual([8, 8]);
        expect(counters.members[1]!.verdicts).toMatchObject({ pass: 5, drop: 3 });
        expect(counters.fallback).toBe(0);
      });

      it('a persistent map keeps its state across a swap', async () => {
        await install(xdp, [t.members.counter('xdp')]);
        await t.send!(xdp, 4, '10.1.0.1');
        await install(xdp, [t.members.counter('xdp', '1.1.0'), t.members.blocklist('xdp', [])]);
        await t.send!(xdp, 2, '10.1.0.1');
        expect(await t.readCounter!(xdp, 'counter_stats')).toBe(6);
      });
    }
  });
}
