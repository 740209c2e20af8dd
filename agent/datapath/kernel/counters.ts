// Reads the per-CPU counters that bpfleet.h and root.bpf.c keep.

import { join } from 'node:path';
import type { Hook } from '../../../schemas/desired-state.js';
import type { MemberCounters } from '../datapath.js';
import * as bpf from '../libbpf.js';
import type { MemberMeta } from './meta.js';
import type { HookPins } from './pins.js';

const STAT_PACKETS = 0;
const STAT_MISSED = 1;
const VERDICT_BASE = 3;
const STAT_SLOTS = 16;

const XDP_VERDICTS = ['aborted', 'drop', 'pass', 'tx', 'redirect'];
const TC_VERDICTS: Record<number, string> = { [-1]: 'unspec', 0: 'ok', 1: 'reclassify', 2: 'shot', 3: 'pipe', 4: 'stolen', 5: 'queued', 6: 'repeat', 7: 'redirect', 8: 'trap' };

export function verdictName(hook: Hook, verdict: number): string {
  return (hook === 'xdp' ? XDP_VERDICTS[verdict] : TC_VERDICTS[verdict]) ?? `verdict_${verdict}`;
}

/** Sums every CPU's value of each key of a pinned PERCPU_ARRAY of __u64; null when the pin is gone. */
export function readPercpu(path: string, entries: number): number[] | null {
  const fd = bpf.getPinned(path);
  if (fd === null) return null;
  try {
    const value = Buffer.alloc(8 * bpf.possibleCpus);
    const key = Buffer.alloc(4);
    const out: number[] = [];
    for (let k = 0; k < entries; k++) {
      key.writeUInt32LE(k);
      let sum = 0n;
      if (bpf.mapLookup(fd, key, value)) for (let c = 0; c < bpf.possibleCpus; c++) sum += value.readBigUInt64LE(8 * c);
      out.push(Number(sum));
    }
    return out;
  } finally {
    bpf.closeFd(fd);
  }
}

export interface RootCounters {
  /** Packets that entered the root program. */
  entered: number;
  /** Packets for which the root's tail call fell through (no chain): policy applied. */
  fallback: number;
}

export function readRootCounters(hp: HookPins): RootCounters {
  const v = readPercpu(hp.rootStats, 2) ?? [0, 0];
  return { entered: v[0]!, fallback: v[1]! };
}

export interface KernelMemberCounters extends MemberCounters {
  /** Tail calls to a next member that should exist but failed. */
  missed: number;
}

export function readMemberCounters(hp: HookPins, hook: Hook, m: MemberMeta): KernelMemberCounters {
  const v = readPercpu(join(hp.dir, m.statsPin), STAT_SLOTS) ?? [];
  const verdicts: Record<string, number> = {};
  for (let k = VERDICT_BASE - 1; k < STAT_SLOTS; k++) if (v[k]) verdicts[verdictName(hook, k - VERDICT_BASE)] = v[k]!;
  return { program: m.program, version: m.version, packets: v[STAT_PACKETS] ?? 0, verdicts, missed: v[STAT_MISSED] ?? 0 };
}
