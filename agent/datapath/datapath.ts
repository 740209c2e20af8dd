// The one interface between the agent's transaction logic (agent/apply) and
// whatever executes chains: the kernel (libbpf via koffi) or the in-memory sim.
// Both implementations pass the same conformance suite (test/datapath/).

import type { ChainMember, Hook, HookPolicy, HookState } from '../../schemas/desired-state.js';

export interface HookRef {
  iface: string;
  hook: Hook;
}

/** Object bytes by sha256; the datapath re-checks the digest before loading. */
export type ObjectSource = (sha256: string) => Promise<Uint8Array>;

export interface LiveMember {
  program: string;
  version: string;
  sha256: string;
  entry: string;
  /** sha256 of the canonical JSON of the member's params: tells a params-only change apart. */
  paramsHash: string;
  /** Kernel program id and tag (sim: synthetic, stable per load). */
  progId: number;
  tag: string;
}

export type DriftKind =
  | 'root-detached' // our root link is gone from the hook
  | 'root-replaced' // something else is attached where our root was
  | 'slot-empty' // the root's slot 0 no longer points at the active generation
  | 'foreign-program' // a program we did not attach runs on a managed hook
  | 'pins-missing'; // pinned maps/arrays of the active generation vanished

export interface Drift {
  iface: string;
  hook: Hook;
  kind: DriftKind;
  detail: string;
}

export interface LiveHook extends HookRef {
  policy: HookPolicy;
  /** Monotonic per hook; bumps on every swap. */
  generation: number;
  members: LiveMember[];
  rootProgId: number;
}

export interface MemberCounters {
  program: string;
  version: string;
  packets: number;
  /** verdict name (pass, drop, redirect, tx, aborted, ok, shot, ...) → packets */
  verdicts: Record<string, number>;
}

export interface HookCounters extends HookRef {
  /** Packets that reached the root and found no chain (policy applied). */
  fallback: number;
  members: MemberCounters[];
}

/**
 * A generation that is fully loaded, verified and wired but not yet live.
 * Opaque to callers; pass it to activate() or discard().
 */
export interface StagedGeneration extends HookRef {
  readonly generation: number;
  readonly state: HookState;
}

export interface Datapath {
  readonly kind: 'kernel' | 'sim';
  /** Managed hooks as they run now (adopting pinned state after a restart). */
  live(): Promise<LiveHook[]>;
  /** Drift between what we pinned and what the kernel runs. Never changes anything. */
  drift(): Promise<Drift[]>;
  /**
   * Load, verify and wire a whole chain for one hook without touching traffic.
   * Throws DatapathError (with the verifier log when the verifier refused) and
   * leaves nothing behind on failure.
   */
  stage(ref: HookRef, state: HookState, objects: ObjectSource): Promise<StagedGeneration>;
  /**
   * Make a staged generation live with one atomic update of the root's slot
   * (attaching the root first if the hook had none). The previous generation
   * is released after a grace period, never at once.
   */
  activate(staged: StagedGeneration): Promise<void>;
  /** Release a staged generation that will not be activated. */
  discard(staged: StagedGeneration): Promise<void>;
  /** Change parameters of the live chain in place (no reload). Members must match by position, program and version. */
  updateParams(ref: HookRef, chain: ChainMember[]): Promise<void>;
  /** Detach the hook's root and remove its pins (the chain goes away). */
  remove(ref: HookRef): Promise<void>;
  counters(ref: HookRef): Promise<HookCounters>;
  /** Release in-process resources. Never detaches anything: the datapath outlives the agent. */
  close(): Promise<void>;
}

export type DatapathErrorCode =
  | 'VerifierRejected'
  | 'InterfaceNotFound'
  | 'BadObject'
  | 'DigestMismatch'
  | 'BadParameter'
  | 'EntryNotFound'
  | 'ChainTooLong'
  | 'KernelError'
  | 'NotStaged';

export class DatapathError extends Error {
  constructor(
    readonly code: DatapathErrorCode,
    message: string,
    /** Extra context: verifier log, errno, iface, hook, member. */
    readonly data: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DatapathError';
  }
}

/** The kernel's tail-call limit bounds a chain: root + 32 tail calls. */
export const MAX_CHAIN_LENGTH = 32;
