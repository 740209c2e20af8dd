import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyHost, ApplyError, type ApplyEvent } from '../../agent/apply/index.js';
import { createSimDatapath, type SimDatapath } from '../../agent/datapath/sim/index.js';
import type { HookState, HostDesiredState } from '../../schemas/desired-state.js';
import { buildFixtureObjects, type FixtureObjects } from '../datapath/fixtures.js';

let fx: FixtureObjects;
beforeAll(() => {
  fx = buildFixtureObjects();
});
afterAll(() => fx.cleanup());

const IFACES = ['eth0', 'eth1'];

/** edge-1: eth0 xdp + tc-ingress, eth1 xdp. */
function edge(opts: { prefixes?: string[]; rate?: number; eth1Bad?: boolean; dropEth1Tc?: boolean } = {}): HostDesiredState {
  const m = fx.members;
  const eth0: HookState[] = [
    { hook: 'xdp', policy: 'pass', chain: [m.counter('xdp'), m.blocklist('xdp', opts.prefixes ?? ['10.66.0.0/16'])] },
    { hook: 'tc-ingress', policy: 'pass', chain: [m.ratelimit('tc-ingress', opts.rate ?? 1000, 10)] },
  ];
  const eth1: HookState[] = [
    { hook: 'xdp', policy: 'drop', chain: [m.counter('xdp'), ...(opts.eth1Bad ? [m.bad('xdp')] : [])] },
  ];
  return {
    host: 'edge-1',
    labels: { role: 'edge' },
    interfaces: [
      { name: 'eth0', hooks: eth0 },
      { name: 'eth1', hooks: eth1 },
    ],
  };
}

async function fresh(): Promise<SimDatapath> {
  const datapath = createSimDatapath({ interfaces: IFACES });
  await applyHost({ datapath, desired: edge(), objects: fx.source });
  return datapath;
}

async function failure(promise: Promise<unknown>): Promise<ApplyError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ApplyError);
  return error as ApplyError;
}

describe('applyHost against the sim', () => {
  it('applies a new host: every hook staged and activated, with a receipt', async () => {
    const datapath = createSimDatapath({ interfaces: IFACES });
    const receipt = await applyHost({ datapath, desired: edge(), objects: fx.source, commit: 'c0ffee' });
    expect(receipt).toMatchObject({ host: 'edge-1', commit: 'c0ffee', result: 'applied', drift: [] });
    expect(receipt.steps.map((s) => [s.iface, s.hook, s.action, s.reason, s.generation])).toEqual([
      ['eth0', 'xdp', 'stage', 'added', 1],
      ['eth0', 'tc-ingress', 'stage', 'added', 1],
      ['eth1', 'xdp', 'stage', 'added', 1],
    ]);
    expect(Date.parse(receipt.finishedAt)).toBeGreaterThanOrEqual(Date.parse(receipt.startedAt));
    expect(receipt.durationMs).toBeGreaterThan(0);
    expect((await datapath.live()).map((h) => `${h.iface}/${h.hook}/${h.members.length}`)).toEqual([
      'eth0/xdp/2',
      'eth0/tc-ingress/1',
      'eth1/xdp/1',
    ]);
    expect(datapath.inject({ iface: 'eth0', hook: 'xdp' }, { src: '10.66.1.1', bytes: 64 })).toBe('drop');
  });

  it('applying the same state again changes nothing and says unchanged', async () => {
    const datapath = await fresh();
    const before = await datapath.live();
    const events: ApplyEvent[] = [];
    const receipt = await applyHost({ datapath, desired: edge(), objects: fx.source, log: (e) => events.push(e) });
    expect(receipt.result).toBe('unchanged');
    expect(receipt.steps.every((s) => s.action === 'unchanged')).toBe(true);
    expect(events.map((e) => e.event)).toEqual(['planned']);
    expect(await datapath.live()).toEqual(before);
  });

  it('is all-or-nothing: a verifier rejection on the 3rd hook leaves all 3 hooks as they were', async () => {
    const datapath = await fresh();
    const before = await datapath.live();
    const events: ApplyEvent[] = [];
    // All three hooks change; only the last one's object is refused.
    const desired = edge({ prefixes: ['10.77.0.0/16'], rate: 5, eth1Bad: true });
    desired.interfaces[0]!.hooks[0]!.chain.reverse();
    desired.interfaces[0]!.hooks[1]!.policy = 'drop';
    const error = await failure(applyHost({ datapath, desired, objects: fx.source, log: (e) => events.push(e) }));
    expect(error.code).toBe('StageFailed');
    expect(error.data).toMatchObject({
      host: 'edge-1',
      iface: 'eth1',
      hook: 'xdp',
      member: 1,
      datapath: { code: 'VerifierRejected', data: { program: 'bad', entry: 'bad_xdp' } },
    });
    expect(String((error.data.datapath as { data: { log: string } }).data.log)).toMatch(/invalid access to packet/);
    expect(error.message).toMatch(/eth1\/xdp.*nothing was changed/);
    expect(error.receipt).toMatchObject({ result: 'failed', error: { code: 'StageFailed' }, steps: [] });
    // The two generations staged before the refusal were discarded, none activated.
    expect(events.filter((e) => e.event === 'staged')).toHaveLength(2);
    expect(events.filter((e) => e.event === 'discarded')).toHaveLength(2);
    expect(events.some((e) => e.event === 'activated' || e.event === 'params-updated')).toBe(false);
    expect(await datapath.live()).toEqual(before);
    // Traffic still sees the old chain: the old prefix drops, the new one does not.
    expect(datapath.inject({ iface: 'eth0', hook: 'xdp' }, { src: '10.66.1.1', bytes: 64 })).toBe('drop');
    expect(datapath.inject({ iface: 'eth0', hook: 'xdp' }, { src: '10.77.1.1', bytes: 64 })).toBe('pass');
  });

  it('a params-only change is written in place, without staging or reloading', async () => {
    const datapath = await fresh();
    const before = await datapath.live();
    const events: ApplyEvent[] = [];
    const receipt = await applyHost({
      datapath,
      desired: edge({ prefixes: ['10.77.0.0/16'], rate: 5 }),
      objects: fx.source,
      log: (e) => events.push(e),
    });
    expect(receipt.result).toBe('applied');
    expect(receipt.steps.map((s) => [s.iface, s.hook, s.action, s.reason])).toEqual([
      ['eth0', 'xdp', 'params', 'params of members 1'],
      ['eth0', 'tc-ingress', 'params', 'params of members 0'],
      ['eth1', 'xdp', 'unchanged', 'up to date'],
    ]);
    expect(events.some((e) => e.event === 'staged')).toBe(false);
    const after = await datapath.live();
    expect(after.map((h) => [h.generation, h.members.map((m) => m.progId)])).toEqual(
      before.map((h) => [h.generation, h.members.map((m) => m.progId)]),
    );
    expect(datapath.globals({ iface: 'eth0', hook: 'tc-ingress' }, 0)).toMatchObject({ rate_pps: 5 });
    expect(datapath.inject({ iface: 'eth0', hook: 'xdp' }, { src: '10.77.1.1', bytes: 64 })).toBe('drop');
  });

  it('reports drift without repairing it when self-heal is off, repairs it when on', async () => {
    const datapath = await fresh();
    const eth0xdp = { iface: 'eth0', hook: 'xdp' as const };
    datapath.injectDrift(eth0xdp, 'root-detached');
    const generation = (await datapath.live())[0]!.generation;

    const reported = await applyHost({ datapath, desired: edge(), objects: fx.source });
    expect(reported.result).toBe('unchanged');
    expect(reported.drift).toEqual([expect.objectContaining({ iface: 'eth0', hook: 'xdp', kind: 'root-detached' })]);
    expect(await datapath.drift()).toHaveLength(1);
    expect(datapath.inject(eth0xdp, { src: '10.66.1.1', bytes: 64 })).toBe('pass');

    const healed = await applyHost({ datapath, desired: edge(), objects: fx.source, selfHeal: true });
    expect(healed.result).toBe('applied');
    expect(healed.steps.filter((s) => s.action !== 'unchanged')).toEqual([
      expect.objectContaining({ iface: 'eth0', hook: 'xdp', action: 'stage', reason: 'repair root-detached', generation: generation + 1 }),
    ]);
    expect(await datapath.drift()).toEqual([]);
    expect(datapath.inject(eth0xdp, { src: '10.66.1.1', bytes: 64 })).toBe('drop');
  });

  it("is all-or-nothing when a new hook cannot attach (another tool's program is there): hooks attached in the same apply are removed, live hooks keep their chain and params", async () => {
    const datapath = await fresh();
    const before = await datapath.live();
    datapath.occupy({ iface: 'eth1', hook: 'tc-ingress' });
    const m = fx.members;
    const desired = edge({ prefixes: ['10.77.0.0/16'] }); // eth0/xdp: params only
    desired.interfaces[0]!.hooks[1]!.policy = 'drop'; // eth0/tc-ingress: a swap
    desired.interfaces[0]!.hooks.push({ hook: 'tc-egress', policy: 'pass', chain: [m.counter('tc-egress')] }); // attaches
    desired.interfaces[1]!.hooks.push({ hook: 'tc-ingress', policy: 'pass', chain: [m.counter('tc-ingress')] }); // cannot attach
    const events: ApplyEvent[] = [];
    const error = await failure(applyHost({ datapath, desired, objects: fx.source, log: (e) => events.push(e) }));
    expect(error.code).toBe('ActivateFailed');
    expect(error.message).toMatch(/attaching eth1\/tc-ingress failed, nothing was changed; eth0\/tc-egress attached in this apply was removed again: .*EBUSY/);
    expect(error.data).toMatchObject({ iface: 'eth1', hook: 'tc-ingress', datapath: { code: 'KernelError' } });
    expect(error.receipt).toMatchObject({ result: 'failed', steps: [] });
    expect(events.some((e) => e.event === 'params-updated')).toBe(false);
    expect(await datapath.live()).toEqual(before);
    expect(datapath.inject({ iface: 'eth0', hook: 'xdp' }, { src: '10.66.1.1', bytes: 64 })).toBe('drop');
    expect(datapath.inject({ iface: 'eth0', hook: 'xdp' }, { src: '10.77.1.1', bytes: 64 })).toBe('pass');
    // Once the other program is gone (sim: a fresh instance over the same state), the same document applies.
    datapath.state.occupied.clear();
    const receipt = await applyHost({ datapath, desired, objects: fx.source });
    expect(receipt.result).toBe('applied');
    expect((await datapath.live()).map((h) => `${h.iface}/${h.hook}`)).toEqual(['eth0/xdp', 'eth0/tc-ingress', 'eth0/tc-egress', 'eth1/xdp', 'eth1/tc-ingress']);
  });

  it('removes a hook that is no longer desired and swaps the others in the same apply', async () => {
    const datapath = await fresh();
    const desired = edge({ prefixes: ['10.66.0.0/16'] });
    desired.interfaces[0]!.hooks.splice(1, 1); // drop eth0/tc-ingress
    desired.interfaces[1]!.hooks[0]!.policy = 'pass';
    const receipt = await applyHost({ datapath, desired, objects: fx.source });
    expect(receipt.steps.map((s) => [s.iface, s.hook, s.action, s.reason])).toEqual([
      ['eth0', 'xdp', 'unchanged', 'up to date'],
      ['eth1', 'xdp', 'stage', 'policy drop→pass'],
      ['eth0', 'tc-ingress', 'remove', 'not in desired state'],
    ]);
    expect((await datapath.live()).map((h) => `${h.iface}/${h.hook}`)).toEqual(['eth0/xdp', 'eth1/xdp']);
  });

  it('a missing interface fails staging and names it', async () => {
    const datapath = createSimDatapath({ interfaces: ['eth0'] });
    const error = await failure(applyHost({ datapath, desired: edge(), objects: fx.source }));
    expect(error.data).toMatchObject({ iface: 'eth1', datapath: { code: 'InterfaceNotFound' } });
    expect(await datapath.live()).toEqual([]);
  });

  it('a missing object fails staging with the digest it could not fetch', async () => {
    const datapath = createSimDatapath({ interfaces: IFACES });
    const error = await failure(applyHost({ datapath, desired: edge(), objects: async (sha) => { throw new Error(`no artifact ${sha}`); } }));
    expect(error.code).toBe('StageFailed');
    expect(error.data).toMatchObject({ iface: 'eth0', hook: 'xdp', member: 0, datapath: { code: 'BadObject', data: { reason: 'ObjectUnavailable' } } });
  });
});
