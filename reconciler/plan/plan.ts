// The pure diff between two desired states (or desired vs. what an agent
// reports): per host, interface and hook, what kind of change a swap makes.
// This is what a reviewer reads on a pull request.

import { canonicalJson } from '../../schemas/canonical-json.js';
import type { FleetDesiredState, Hook, HookPolicy, HookState, HostDesiredState } from '../../schemas/desired-state.js';

export type HookChangeKind =
  | 'added' // the hook had no chain, now has one
  | 'removed' // the hook's chain (and root) goes away
  | 'replaced' // members added, removed or upgraded: a new generation is swapped in
  | 'reordered' // same members, different order: a new generation is swapped in
  | 'params' // same members, only parameter values: updated in place, no reload
  | 'policy' // only the no-chain fallback policy changes
  | 'unchanged';

export interface MemberRef {
  program: string;
  version: string;
}

export interface HookChange {
  iface: string;
  hook: Hook;
  kind: HookChangeKind;
  from: MemberRef[];
  to: MemberRef[];
  /** For `replaced`: what happened to members, by program name. */
  members?: { added: MemberRef[]; removed: MemberRef[]; upgraded: { program: string; from: string; to: string }[] };
  /** For `params`: the members whose parameters changed, with old (when known) and new values. */
  params?: { program: string; from?: Record<string, unknown>; to: Record<string, unknown> }[];
  policy?: { from: HookPolicy; to: HookPolicy };
}

export interface HostPlan {
  host: string;
  kind: 'added' | 'removed' | 'changed' | 'unchanged';
  hooks: HookChange[];
}

export interface FleetPlan {
  from?: string;
  to: string;
  hosts: HostPlan[];
  summary: { hostsChanged: number; hostsAdded: number; hostsRemoved: number; hostsUnchanged: number; hooksChanged: number };
}

/**
 * A chain member as the diff sees it. `id` is what needs a reload when it
 * differs; `paramsKey` what an in-place update changes (null: not known).
 */
export interface MemberView {
  program: string;
  version: string;
  id: string;
  paramsKey: string | null;
  /** The values, when known (desired states have them; what runs reports only a hash). */
  params?: Record<string, unknown>;
}

export interface HookView {
  policy: HookPolicy;
  chain: MemberView[];
}

/** Identity of a loaded member: a different object, entry or version needs a reload. */
export function desiredView(h: HookState): HookView {
  return {
    policy: h.policy,
    chain: h.chain.map((m) => ({ program: m.program, version: m.version, id: `${m.program}@${m.version}#${m.object.sha256}:${m.entry}`, paramsKey: canonicalJson(m.params), params: m.params })),
  };
}

export function planHook(iface: string, hook: Hook, from: HookState | undefined, to: HookState | undefined): HookChange {
  return diffHook(iface, hook, from && desiredView(from), to && desiredView(to));
}

const ref = (m: MemberView): MemberRef => ({ program: m.program, version: m.version });

export function diffHook(iface: string, hook: Hook, from: HookView | undefined, to: HookView | undefined): HookChange {
  const f = from?.chain ?? [];
  const t = to?.chain ?? [];
  const base = { iface, hook, from: f.map(ref), to: t.map(ref) };
  if (!from && to) return { ...base, kind: 'added' };
  if (from && !to) return { ...base, kind: 'removed' };
  const fi = f.map((m) => m.id);
  const ti = t.map((m) => m.id);
  if (fi.join('|') === ti.join('|')) {
    const params = f
      .map((m, i) => ({ m, n: t[i]! }))
      .filter(({ m, n }) => m.paramsKey !== null && n.paramsKey !== null && m.paramsKey !== n.paramsKey)
      .map(({ m, n }) => ({ program: m.program, ...(m.params ? { from: m.params } : {}), to: n.params ?? {} }));
    if (params.length) return { ...base, kind: 'params', params };
    if (from!.policy !== to!.policy) return { ...base, kind: 'policy', policy: { from: from!.policy, to: to!.policy } };
    return { ...base, kind: 'unchanged' };
  }
  if (fi.length === ti.length && [...fi].sort().join('|') === [...ti].sort().join('|')) return { ...base, kind: 'reordered' };
  const fByName = new Map(f.map((m) => [m.program, m]));
  const tByName = new Map(t.map((m) => [m.program, m]));
  const members = {
    added: t.filter((m) => !fByName.has(m.program)).map(ref),
    removed: f.filter((m) => !tByName.has(m.program)).map(ref),
    upgraded: t
      .filter((m) => fByName.has(m.program) && fByName.get(m.program)!.id !== m.id)
      .map((m) => ({ program: m.program, from: fByName.get(m.program)!.version, to: m.version })),
  };
  return { ...base, kind: 'replaced', members };
}

export function planHost(host: string, from: HostDesiredState | undefined, to: HostDesiredState | undefined): HostPlan {
  const hooks: HookChange[] = [];
  const index = (s?: HostDesiredState) => {
    const m = new Map<string, HookState>();
    for (const i of s?.interfaces ?? []) for (const h of i.hooks) m.set(`${i.name}\0${h.hook}`, h);
    return m;
  };
  const fi = index(from);
  const ti = index(to);
  const keys = [...new Set([...fi.keys(), ...ti.keys()])].sort(compareHookKeys);
  for (const k of keys) {
    const [iface, hook] = k.split('\0') as [string, Hook];
    hooks.push(planHook(iface, hook, fi.get(k), ti.get(k)));
  }
  // A host leaving the fleet is not torn down (its agent keeps what it runs), so no hook changes.
  if (from && !to) return { host, kind: 'removed', hooks: [] };
  const kind = !from ? 'added' : hooks.some((h) => h.kind !== 'unchanged') ? 'changed' : 'unchanged';
  return { host, kind, hooks };
}

const HOOK_ORDER: Record<Hook, number> = { xdp: 0, 'tc-ingress': 1, 'tc-egress': 2 };
/** Orders `iface\0hook` keys: by interface, then xdp, tc-ingress, tc-egress. */
export function compareHookKeys(a: string, b: string): number {
  const [ai, ah] = a.split('\0') as [string, Hook];
  const [bi, bh] = b.split('\0') as [string, Hook];
  return ai < bi ? -1 : ai > bi ? 1 : HOOK_ORDER[ah] - HOOK_ORDER[bh];
}

export function planFleet(from: FleetDesiredState | undefined, to: FleetDesiredState): FleetPlan {
  const names = [...new Set([...Object.keys(from?.hosts ?? {}), ...Object.keys(to.hosts)])].sort();
  return fleetPlan(from?.commit, to.commit, names.map((n) => planHost(n, from?.hosts[n]?.state, to.hosts[n]?.state)));
}

export function fleetPlan(from: string | undefined, to: string, hosts: HostPlan[]): FleetPlan {
  return {
    from,
    to,
    hosts,
    summary: {
      hostsChanged: hosts.filter((h) => h.kind === 'changed').length,
      hostsAdded: hosts.filter((h) => h.kind === 'added').length,
      hostsRemoved: hosts.filter((h) => h.kind === 'removed').length,
      hostsUnchanged: hosts.filter((h) => h.kind === 'unchanged').length,
      hooksChanged: hosts.reduce((n, h) => n + h.hooks.filter((k) => k.kind !== 'unchanged').length, 0),
    },
  };
}

export function hasChanges(plan: FleetPlan): boolean {
  return plan.hosts.some((h) => h.kind !== 'unchanged');
}
