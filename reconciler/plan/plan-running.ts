// The plan against what runs: a revision's desired state diffed with what each
// agent last reported, not with another revision. This is what an operator
// reads before a roll-out to a fleet that may have drifted from Git, or to see
// what a host that failed to apply still runs. Pure.

import { canonicalHash } from '../../schemas/canonical-json.js';
import type { FleetDesiredState, Hook, HookState, HostDesiredState } from '../../schemas/desired-state.js';
import type { ReportedHook } from '../../schemas/protocol.js';
import { compareHookKeys, diffHook, fleetPlan, type FleetPlan, type HookChange, type HookView, type HostPlan } from './plan.js';

/** What a host last reported running; `hooks: null` when it never reported. */
export interface RunningHost {
  host: string;
  commit: string | null;
  hooks: ReportedHook[] | null;
}

// Reports carry the object digest and a hash of the params, not the entry or the values:
// both sides are compared on (program, version, sha256) and the params hash.
const desiredAsReported = (chain: HookState): HookView => ({
  policy: chain.policy,
  chain: chain.chain.map((m) => ({ program: m.program, version: m.version, id: `${m.program}@${m.version}#${m.object.sha256}`, paramsKey: canonicalHash(m.params), params: m.params })),
});

const runningView = (h: ReportedHook): HookView => ({
  policy: h.policy,
  chain: h.members.map((m) => ({ program: m.program, version: m.version, id: `${m.program}@${m.version}#${m.sha256}`, paramsKey: m.paramsHash ?? null })),
});

export function planHostAgainstRunning(host: string, desired: HostDesiredState | undefined, running: ReportedHook[] | null): HostPlan {
  if (!desired) return { host, kind: running?.length ? 'removed' : 'unchanged', hooks: [] };
  const want = new Map<string, HookView>();
  for (const i of desired.interfaces) for (const h of i.hooks) want.set(`${i.name}\0${h.hook}`, desiredAsReported(h));
  const have = new Map<string, HookView>();
  for (const h of running ?? []) have.set(`${h.iface}\0${h.hook}`, runningView(h));
  const keys = [...new Set([...want.keys(), ...have.keys()])].sort(compareHookKeys);
  const hooks: HookChange[] = keys.map((k) => {
    const [iface, hook] = k.split('\0') as [string, Hook];
    return diffHook(iface, hook, have.get(k), want.get(k));
  });
  const kind = running === null ? 'added' : hooks.some((h) => h.kind !== 'unchanged') ? 'changed' : 'unchanged';
  return { host, kind, hooks };
}

export function planFleetAgainstRunning(to: FleetDesiredState, running: RunningHost[]): FleetPlan {
  const byHost = new Map(running.map((r) => [r.host, r]));
  const names = [...new Set([...Object.keys(to.hosts), ...byHost.keys()])].sort();
  return fleetPlan('running', to.commit, names.map((n) => planHostAgainstRunning(n, to.hosts[n]?.state, byHost.get(n)?.hooks ?? null)));
}
