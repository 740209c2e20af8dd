// Parameters in place, state across swaps, verifier rejection and drift, on
// one hook each, with small bursts of real traffic where behaviour matters.

import { closeSync, existsSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatapathError } from '../../agent/datapath/datapath.js';
import { createKernelDatapath, type KernelDatapath, type KernelMemberCounters } from '../../agent/datapath/kernel/index.js';
import { removePins } from '../../agent/datapath/kernel/pins.js';
import * as bpf from '../../agent/datapath/libbpf.js';
import { createVethPair, type VethPair } from '../netns.js';
import { BUILD, buildBpf, exampleChain, member, objectFile, objects, skipKernel, uniquePinRoot } from './fixtures.js';
import { startTraffic } from './traffic.js';

const FAST = { ratePps: 50_000_000, burst: 50_000_000 };

describe.skipIf(skipKernel)('kernel datapath lifecycle', () => {
  let pair: VethPair;
  let dp: KernelDatapath;
  const pinRoot = uniquePinRoot('life');
  beforeAll(async () => {
    buildBpf();
    pair = createVethPair({ prefix: 'bflc', extraA: 1 });
    dp = await createKernelDatapath({ host: 'life', pinRoot, netns: pair.b.path, rootObjectDir: BUILD, graceMs: 50 });
  });
  afterAll(async () => {
    await dp?.close();
    pair?.destroy();
    removePins(pinRoot);
  });

  async function burst(n: number) {
    const t = await startTraffic(pair, { senderCpu: 1, badEvery: 10, max: n });
    await new Promise((r) => setTimeout(r, 300));
    return t.stop();
  }

  it('changes parameters in place and keeps state across a swap', async () => {
    const ref = { iface: pair.b.iface, hook: 'tc-ingress' as const };
    const bad = pair.a.addrs[1]!;
    await dp.activate(await dp.stage(ref, exampleChain('tc-ingress', { blocked: [bad], ...FAST }), objects));
    const before = (await dp.live()).find((h) => h.hook === ref.hook)!;
    expect((await burst(2000)).received.bad).toBe(0);

    // Unblock the bad source and throttle hard, without reloading anything.
    const slow = exampleChain('tc-ingress', { blocked: [], ratePps: 1, burst: 5 });
    await dp.updateParams(ref, slow.chain);
    const after = (await dp.live()).find((h) => h.hook === ref.hook)!;
    expect(after.members.map((m) => m.progId)).toEqual(before.members.map((m) => m.progId));
    expect(after.generation).toBe(before.generation);
    expect(after.members[0]!.paramsHash).not.toBe(before.members[0]!.paramsHash);
    const throttled = await burst(2000);
    expect(throttled.received.bad).toBeGreaterThan(0); // blocklist emptied in place
    expect(throttled.received.good).toBeLessThan(50); // rate_pps=1, burst=5 per source
    const counted = (await dp.counters(ref)).members as KernelMemberCounters[];

    // A swap to a new generation reuses pinned buckets and counters.
    const bucketsPin = join(dp.hookDir(ref), 'maps', 'ratelimit_ratelimit_buckets');
    const bucketsId = bpf.mapInfo(bpf.getPinned(bucketsPin)!).id;
    await dp.activate(await dp.stage(ref, slow, objects));
    const swapped = (await dp.live()).find((h) => h.hook === ref.hook)!;
    expect(swapped.generation).toBe(before.generation + 1);
    expect(bpf.mapInfo(bpf.getPinned(bucketsPin)!).id).toBe(bucketsId);
    // Buckets are still empty after the swap: a fresh bucket would let `burst` packets through.
    const again = await burst(500);
    expect(again.received.good).toBeLessThan(5);
    const c = (await dp.counters(ref)).members as KernelMemberCounters[];
    expect(c[2]!.packets).toBeGreaterThanOrEqual(counted[2]!.packets);
    expect(c[0]!.packets).toBe(counted[0]!.packets + again.sent.sentGood + again.sent.sentBad);
    await expect(dp.updateParams(ref, [slow.chain[1]!])).rejects.toMatchObject({ code: 'BadParameter' });
  });

  it('a verifier-rejected member leaves the running chain untouched', async () => {
    const ref = { iface: pair.b.iface, hook: 'xdp' as const };
    const good = exampleChain('xdp', { blocked: [pair.a.addrs[1]!], ...FAST });
    await dp.activate(await dp.stage(ref, good, objects));
    const live = await dp.live();
    const gensBefore = readdirSync(join(dp.hookDir(ref), 'gen'));
    const statsBefore = readdirSync(join(dp.hookDir(ref), 'stats'));
    const broken = { ...good, chain: [good.chain[0]!, member('test/bad.bpf.o', 'bad', '0.0.1', 'xdp'), good.chain[2]!] };
    const err = await dp.stage(ref, broken, objects).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(DatapathError);
    expect((err as DatapathError).code).toBe('VerifierRejected');
    expect(String((err as DatapathError).data.log)).toMatch(/invalid access to packet/);
    expect((err as DatapathError).data).toMatchObject({ program: 'bad', member: 1, iface: ref.iface, hook: 'xdp' });
    expect(await dp.live()).toEqual(live);
    expect(readdirSync(join(dp.hookDir(ref), 'gen'))).toEqual(gensBefore);
    expect(readdirSync(join(dp.hookDir(ref), 'stats'))).toEqual(statsBefore);
    expect(await dp.drift()).toEqual([]);
    expect((await burst(1000)).received.bad).toBe(0);

    const wrongEntry = { ...good, chain: [{ ...good.chain[0]!, entry: 'nope' }] };
    await expect(dp.stage(ref, wrongEntry, objects)).rejects.toMatchObject({ code: 'EntryNotFound' });
    const wrongDigest = { ...good, chain: [{ ...good.chain[0]!, object: { ...good.chain[0]!.object, sha256: good.chain[1]!.object.sha256 } }] };
    await expect(dp.stage(ref, wrongDigest, objects)).rejects.toMatchObject({ code: 'DigestMismatch' });
  });

  it('reports drift and repairs it on the next activation', async () => {
    const ref = { iface: pair.b.iface, hook: 'xdp' as const };
    const hookDir = dp.hookDir(ref);
    // Someone empties the root slot.
    const slot = bpf.getPinned(join(hookDir, 'root_slot'))!;
    bpf.mapDelete(slot, Buffer.alloc(4));
    bpf.closeFd(slot);
    expect((await dp.drift()).map((d) => d.kind)).toEqual(['slot-empty']);
    // Someone detaches our root link.
    const link = bpf.getPinned(join(hookDir, 'root_link'))!;
    bpf.linkDetach(link);
    bpf.closeFd(link);
    expect((await dp.drift()).map((d) => d.kind).sort()).toEqual(['root-detached', 'slot-empty']);
    await dp.activate(await dp.stage(ref, exampleChain('xdp', { blocked: [pair.a.addrs[1]!], ...FAST }), objects));
    expect(await dp.drift()).toEqual([]);
    expect((await burst(1000)).received.bad).toBe(0);

    // A foreign tcx program beside our root on tc-ingress.
    const tcRef = { iface: pair.b.iface, hook: 'tc-ingress' as const };
    const obj = bpf.openObject(objectFile('counter.bpf.o').bytes, 'foreign');
    for (const p of bpf.programs(obj)) bpf.setAutoload(p, bpf.programName(p) === 'counter_tc');
    bpf.loadObject(obj, 'foreign', Buffer.alloc(1 << 16));
    const foreignFd = bpf.programFd(bpf.programs(obj).find((p) => bpf.programName(p) === 'counter_tc')!);
    const nsFd = openSync(pair.b.path, 'r');
    const home = openSync('/proc/thread-self/ns/net', 'r');
    let linkFd = -1;
    bpf.setNetns(nsFd);
    try {
      linkFd = bpf.linkCreate(foreignFd, bpf.ifindexOf(pair.b.iface), bpf.BPF_ATTACH_TYPE.TCX_INGRESS);
    } finally {
      bpf.setNetns(home);
      closeSync(nsFd);
      closeSync(home);
    }
    const drift = await dp.drift();
    bpf.closeFd(linkFd); // the link goes with its last fd
    bpf.closeObject(obj);
    expect(drift.filter((d) => d.hook === 'tc-ingress').map((d) => d.kind)).toEqual(['foreign-program']);

    await dp.remove(ref);
    await dp.remove(tcRef);
    expect(existsSync(hookDir)).toBe(false);
    expect(await dp.live()).toEqual([]);
    expect((await burst(500)).received.bad).toBeGreaterThan(0); // nothing filters any more
  });
});
