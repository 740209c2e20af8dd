// Whole-chain swap benchmark on a veth between two fresh namespaces, under
// real traffic: stage time per chain, activate latency (p50/p99), packets sent
// during N swaps and how many bypassed the chain. Writes bench/results/swap.json.
//
//   npx tsc -p tsconfig.json && make -s -C bpf && node dist/bench/swap.js [swaps]

import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ChainMember, Hook, HookState } from '../schemas/desired-state.js';
import { createKernelDatapath } from '../agent/datapath/kernel/index.js';
import type { KernelMemberCounters } from '../agent/datapath/kernel/index.js';
import { removePins } from '../agent/datapath/kernel/pins.js';
import { createVethPair } from '../test/netns.js';
import { pinSelf, startTraffic } from '../test/datapath-kernel/traffic.js';

const REPO = resolve(import.meta.dirname, import.meta.dirname.includes('/dist/') ? '../..' : '..');
const BUILD = join(REPO, 'bpf/build');
const SWAPS = Number(process.argv[2] ?? 1000);
const blobs = new Map<string, Uint8Array>();

function member(file: string, program: string, hook: Hook, extra: Partial<ChainMember>): ChainMember {
  const bytes = readFileSync(join(BUILD, file));
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  blobs.set(sha256, bytes);
  return { program, version: '1.0.0', object: { sha256, size: bytes.byteLength }, entry: `${program}_${hook === 'xdp' ? 'xdp' : 'tc'}`, params: {}, bindings: [], maps: [], ...extra };
}

function chain(hook: Hook, blocked: string[], rate: number): HookState {
  return {
    hook,
    policy: 'pass',
    chain: [
      member('blocklist.bpf.o', 'blocklist', hook, { params: { blocked }, bindings: [{ kind: 'lpm-prefixes', parameter: 'blocked', map: 'blocklist_v4' }] }),
      member('ratelimit.bpf.o', 'ratelimit', hook, { params: { burst: rate, rate_pps: rate }, bindings: [{ kind: 'global', parameter: 'rate_pps', symbol: 'rate_pps' }, { kind: 'global', parameter: 'burst', symbol: 'burst' }], maps: [{ name: 'ratelimit_buckets', persistent: true }] }),
      member('counter.bpf.o', 'counter', hook, { maps: [{ name: 'counter_stats', persistent: true }] }),
    ],
  };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const now = () => Number(process.hrtime.bigint()) / 1e3; // µs

async function benchHook(hook: Hook) {
  const pair = createVethPair({ prefix: 'bfbn', extraA: 1 });
  const pinRoot = `/sys/fs/bpf/bpfleet-bench-${process.pid}`;
  try {
    const dp = await createKernelDatapath({ host: 'bench', pinRoot, netns: pair.b.path, rootObjectDir: BUILD, graceMs: 200 });
    const ref = { iface: pair.b.iface, hook };
    const bad = pair.a.addrs[1]!;
    const versions = [chain(hook, [bad], 50_000_000), chain(hook, [`${bad}/32`, '10.99.0.0/16'], 60_000_000)];
    const objects = async (sha: string) => blobs.get(sha)!;
    await dp.activate(await dp.stage(ref, versions[0]!, objects));
    const restore = pinSelf(0);
    const traffic = await startTraffic(pair, { senderCpu: 1, badEvery: 10 });
    const stageUs: number[] = [];
    const activateUs: number[] = [];
    const swapUs: number[] = [];
    const t0 = now();
    try {
      for (let i = 1; i <= SWAPS; i++) {
        const a = now();
        const staged = await dp.stage(ref, versions[i % 2]!, objects);
        const b = now();
        await dp.activate(staged);
        activateUs.push(now() - b);
        swapUs.push(dp.lastSwapUs());
        stageUs.push(b - a);
      }
    } finally {
      restore();
    }
    const seconds = (now() - t0) / 1e6;
    const { sent, received } = await traffic.stop();
    const c = await dp.counters(ref);
    const root = dp.rootCounters(ref);
    const first = c.members[0] as KernelMemberCounters;
    const last = c.members[c.members.length - 1] as KernelMemberCounters;
    const passed = last.verdicts[hook === 'xdp' ? 'pass' : 'ok'] ?? 0;
    dp.flushReleases();
    await dp.remove(ref);
    await dp.close();
    removePins(pinRoot);
    return {
      hook,
      swaps: SWAPS,
      seconds: +seconds.toFixed(2),
      stageMs: { p50: +(pct(stageUs, 50) / 1e3).toFixed(3), p99: +(pct(stageUs, 99) / 1e3).toFixed(3) },
      // The swap itself: the one bpf_map_update_elem on the root's slot 0.
      swapUs: { p50: +pct(swapUs, 50).toFixed(2), p99: +pct(swapUs, 99).toFixed(2) },
      // activate() as a whole: root checks, the swap, metadata record, release scheduling.
      activateUs: { p50: +pct(activateUs, 50).toFixed(1), p99: +pct(activateUs, 99).toFixed(1) },
      packets: { sent: sent.sentGood + sent.sentBad, enteredRoot: root.entered, fallback: root.fallback, receivedGood: received.good, receivedBlocked: received.bad },
      // A bypass is a packet that reached the root but not a whole chain, or a blocked one that arrived.
      bypassed: root.fallback + (root.entered - first.packets) + (received.good - passed) + received.bad,
    };
  } finally {
    pair.destroy();
  }
}

const results = [];
for (const hook of ['xdp', 'tc-ingress'] as Hook[]) results.push(await benchHook(hook));
const out = { date: new Date().toISOString(), kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(), results };
mkdirSync(join(REPO, 'bench/results'), { recursive: true });
writeFileSync(join(REPO, 'bench/results/swap.json'), JSON.stringify(out, null, 2) + '\n');
console.log(JSON.stringify(out, null, 2));
