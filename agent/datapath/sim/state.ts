// The sim's "kernel": everything that would outlive the agent process in the
// real datapath (attached roots, pinned prog arrays and maps). Pass the same
// SimState to a second createSimDatapath() to model an agent restart that must
// adopt what runs without touching it.

import type { DriftKind, LiveMember } from '../datapath.js';
import type { ChainMember, Hook, HookPolicy } from '../../../schemas/desired-state.js';

/** A map's contents; keys are strings (a CIDR for LPM maps, a counter name otherwise). */
export type SimMap = Map<string, number>;

export interface SimMember extends LiveMember {
  /** The desired member this load came from (params included). */
  spec: ChainMember;
  /** Global name → value written at load time or by updateParams. */
  globals: Map<string, number>;
  maps: Map<string, SimMap>;
  /** Per-load run counters, like a kernel program's stats: a reload starts at zero. */
  packets: number;
  verdicts: Record<string, number>;
}

export interface SimGeneration {
  generation: number;
  policy: HookPolicy;
  members: SimMember[];
}

export interface SimHook {
  iface: string;
  hook: Hook;
  rootProgId: number;
  /** Highest generation number handed out on this hook (staged ones included), so numbers never repeat. */
  lastGeneration: number;
  active: SimGeneration;
  /** Superseded generations still held open for packets in flight, with the time they may be released. */
  retired: { generation: SimGeneration; releaseAt: number }[];
  /** Persistent maps pinned per hook: reused by every later generation. */
  pinnedMaps: Map<string, SimMap>;
  /** Packets that reached the root and found no chain. */
  fallback: number;
  drift: Set<DriftKind>;
}

export interface SimState {
  hooks: Map<string, SimHook>;
  nextProgId: number;
  /** Generation counters survive remove(), so a re-added hook never reuses a number. */
  lastGeneration: Map<string, number>;
  /** Hooks where another tool attached a program we do not manage: attaching our root there fails, as in the kernel (EBUSY). */
  occupied: Set<string>;
}

export function createSimState(): SimState {
  return { hooks: new Map(), nextProgId: 1000, lastGeneration: new Map(), occupied: new Set() };
}

export function hookKey(iface: string, hook: Hook): string {
  return `${iface}/${hook}`;
}
