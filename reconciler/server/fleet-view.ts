// Pure summary of the fleet for GET /v1/fleet, `bpfleet status` and the
// hosts-by-state metric: per host, what is desired against what it last
// reported, and how long ago.

import type { FleetStatus, HostState, HostStatus, PendingHead, TrustStatus } from '../../schemas/protocol.js';
import type { HostGeneration, StoredStatus } from '../state/state-store.js';

export interface HostFacts {
  host: string;
  desired: HostGeneration | null;
  status: StoredStatus | null;
}

/** State of one host at `now`. A report older than `staleAfterMs` makes it unreachable, whatever it said. */
export function summarizeHost(facts: HostFacts, now: Date, staleAfterMs: number, withHooks = false): HostStatus {
  const { host, desired, status } = facts;
  const desiredView = desired ? { commit: desired.commit, generation: desired.generation, hash: desired.hash } : null;
  if (!status) return { host, state: 'unreachable', reason: 'NeverReported', desired: desiredView, reported: null };
  const r = status.report;
  const reported: NonNullable<HostStatus['reported']> = {
    commit: r.commit,
    generation: r.generation,
    state: r.state,
    reportedAt: r.reportedAt,
    receivedAt: status.receivedAt,
    driftCount: r.drift.length,
    datapath: r.datapath,
    agentVersion: r.agentVersion,
    ...(r.error ? { error: r.error } : {}),
    ...(withHooks ? { hooks: r.hooks } : {}),
  };
  const verdict = (state: HostState, reason: string): HostStatus => ({ host, state, reason, desired: desiredView, reported });
  if (now.getTime() - Date.parse(status.receivedAt) > staleAfterMs) return verdict('unreachable', 'Stale');
  if (r.state === 'error') return verdict('error', 'AgentError');
  if (r.state === 'drifted' || r.drift.length > 0) return verdict('drifted', 'Drift');
  // No Host in the fleet (never added, or its file was deleted). The agent keeps
  // what it last applied — a deleted file may be an accident — so a host still
  // running chains is reported, not torn down: commit `interfaces: []` to empty it.
  if (!desired) return r.hooks.length > 0 ? verdict('unmanaged', 'NotInFleet') : verdict('converged', 'NothingDesired');
  // Generations are persisted before they are served, so an agent can never be
  // ahead legitimately: the reconciler's state was lost or restored from an old
  // backup, and the agent will (rightly) refuse every older generation.
  if (r.generation > desired.generation) return verdict('error', 'AgentAhead');
  if (r.generation < desired.generation) return verdict('applying', 'BehindDesired');
  if (r.state === 'applying') return verdict('applying', 'Applying');
  return verdict('converged', 'Converged');
}

export function summarizeFleet(args: {
  hosts: HostFacts[];
  trust: TrustStatus;
  pending?: PendingHead;
  commit: string | null;
  now: Date;
  staleAfterMs: number;
  /** Include what each host last reported running (for `bpfleet plan --running`). */
  withHooks?: boolean;
}): FleetStatus {
  const hosts = [...args.hosts].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0)).map((h) => summarizeHost(h, args.now, args.staleAfterMs, args.withHooks));
  const byState: Partial<Record<HostState, number>> = {};
  for (const h of hosts) byState[h.state] = (byState[h.state] ?? 0) + 1;
  return {
    generatedAt: args.now.toISOString(),
    staleAfterSeconds: args.staleAfterMs / 1000,
    commit: args.commit,
    trust: args.trust,
    ...(args.pending ? { pending: args.pending } : {}),
    hosts,
    summary: { total: hosts.length, byState },
  };
}
