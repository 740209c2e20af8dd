import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimDatapath, createSimState, type SimDatapath } from '../../agent/datapath/sim/index.js';
import type { HookRef } from '../../agent/datapath/datapath.js';
import { datapathConformance } from './conformance.js';
import { buildFixtureObjects, type FixtureObjects } from './fixtures.js';

datapathConformance(
  'sim',
  async () => {
    const fx = buildFixtureObjects();
    const state = createSimState();
    const ifaces = ['sim0', 'sim1'];
    const datapath = createSimDatapath({ interfaces: ifaces, state });
    return {
      datapath,
      ifaces,
      objects: fx.source,
      members: fx.members,
      reopen: async () => createSimDatapath({ interfaces: ifaces, state }),
      send: async (ref, count, src) => {
        for (let i = 0; i < count; i++) datapath.inject(ref, { src, bytes: 64 });
      },
      readCounter: async (ref, map) => datapath.mapContents(ref, map)?.packets ?? 0,
      cleanup: async () => fx.cleanup(),
    };
  },
  { traffic: true },
);

describe('sim datapath beyond the contract', () => {
  let fx: FixtureObjects;
  const xdp: HookRef = { iface: 'sim0', hook: 'xdp' };
  beforeAll(() => {
    fx = buildFixtureObjects();
  });
  afterAll(() => fx.cleanup());

  const install = async (dp: SimDatapath, chain = [fx.members.counter('xdp')], policy: 'pass' | 'drop' = 'pass') =>
    dp.activate(await dp.stage(xdp, { hook: 'xdp', policy, chain }, fx.source));

  it('keeps the previous generation for the grace period, then releases it', async () => {
    let clock = 1_000;
    const dp = createSimDatapath({ graceMs: 500, now: () => clock });
    await install(dp);
    await install(dp, [fx.members.counter('xdp'), fx.members.blocklist('xdp', [])]);
    const [live] = await dp.live();
    expect(dp.retainedGenerations(xdp)).toEqual([live!.generation - 1]);
    clock += 499;
    expect(dp.retainedGenerations(xdp)).toHaveLength(1);
    clock += 1;
    expect(dp.retainedGenerations(xdp)).toEqual([]);
  });

  it('reports injected drift, keeps running, and a fresh generation repairs it', async () => {
    const dp = createSimDatapath();
    await install(dp, [fx.members.blocklist('xdp', ['10.9.0.0/16'])]);
    expect(dp.inject(xdp, { src: '10.9.1.1', bytes: 64 })).toBe('drop');
    dp.injectDrift(xdp, 'root-detached');
    expect(await dp.drift()).toEqual([expect.objectContaining({ iface: 'sim0', hook: 'xdp', kind: 'root-detached' })]);
    // Detached root: traffic no longer sees the chain.
    expect(dp.inject(xdp, { src: '10.9.1.1', bytes: 64 })).toBe('pass');
    await install(dp, [fx.members.blocklist('xdp', ['10.9.0.0/16'])]);
    expect(await dp.drift()).toEqual([]);
    expect(dp.inject(xdp, { src: '10.9.1.1', bytes: 64 })).toBe('drop');
  });

  it('an empty slot sends packets to the fallback, where the policy applies', async () => {
    const dp = createSimDatapath();
    await install(dp, [fx.members.counter('xdp')], 'drop');
    dp.injectDrift(xdp, 'slot-empty');
    expect(dp.inject(xdp, { src: '10.0.0.1', bytes: 64 })).toBe('drop');
    expect((await dp.counters(xdp)).fallback).toBe(1);
  });

  it('writes parameters into globals and LPM maps, in place on update', async () => {
    const dp = createSimDatapath();
    await install(dp, [fx.members.ratelimit('xdp', 1000, 10), fx.members.blocklist('xdp', ['10.1.0.0/16'])]);
    expect(dp.globals(xdp, 0)).toMatchObject({ rate_pps: 1000, burst: 10 });
    expect(dp.inject(xdp, { src: '10.2.0.1', bytes: 64 })).toBe('pass');
    await dp.updateParams(xdp, [fx.members.ratelimit('xdp', 7, 3), fx.members.blocklist('xdp', ['10.2.0.0/16'])]);
    expect(dp.globals(xdp, 0)).toMatchObject({ rate_pps: 7, burst: 3 });
    expect(dp.inject(xdp, { src: '10.2.0.1', bytes: 64 })).toBe('drop');
    expect(dp.inject(xdp, { src: '10.1.0.1', bytes: 64 })).toBe('pass');
  });

  it('tc hooks answer with tc verdicts', async () => {
    const dp = createSimDatapath();
    const tc: HookRef = { iface: 'sim0', hook: 'tc-egress' };
    await dp.activate(await dp.stage(tc, { hook: 'tc-egress', policy: 'pass', chain: [fx.members.blocklist('tc-egress', ['10.0.0.0/8'])] }, fx.source));
    expect(dp.inject(tc, { src: '10.3.3.3', bytes: 64 })).toBe('shot');
    expect(dp.inject(tc, { src: '192.0.2.1', bytes: 64 })).toBe('ok');
  });

  it('refuses an xdp entry on a tc hook', async () => {
    const dp = createSimDatapath();
    const tc: HookRef = { iface: 'sim0', hook: 'tc-ingress' };
    await expect(dp.stage(tc, { hook: 'tc-ingress', policy: 'pass', chain: [fx.members.counter('xdp')] }, fx.source)).rejects.toMatchObject({
      code: 'BadObject',
      data: { reason: 'WrongProgramType' },
    });
  });

  it('a closed instance refuses work but the state lives on for the next one', async () => {
    const state = createSimState();
    const dp = createSimDatapath({ state });
    await install(dp);
    await dp.close();
    await expect(dp.live()).rejects.toMatchObject({ code: 'KernelError' });
    expect(await createSimDatapath({ state }).live()).toHaveLength(1);
  });
});
