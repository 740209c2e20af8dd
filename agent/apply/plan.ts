// The pure half of an apply: compare what a host should run with what runs
// and decide, per (iface, hook), the least disruptive action. A params-only
// change is written in place (no reload, programs and state untouched);
// anything that changes code, order or policy gets a whole fresh generation.

import type { Drift, LiveHook, LiveMember } from '../datapath/datapath.js';
import { canonicalHash } from '../../schemas/canonical-json.js';
import { HOOKS, type ChainMember, type Hook, type HookState, type HostDesiredState } from '../../schemas/desired-state.js';

export type StepAction = 'unchanged' | 'params' | 'stage' | 'remove';

export interface Step {
  iface: string;
  hook: Hook;
  action: StepAction;
  /** Why, for humans: `added`, `replaced members 1,2`, `reordered`, `policy pass→drop`, `repair root-detached`, ... */
  reason: string;
  /** What to stage or write (stage, params, unchanged). */
  desired?: HookState;
  /** The live generation this step starts from, when the hook runs. */
  fromGeneration?: number;
}

/** What makes two chain members the same loaded program: anything else is a parameter. */
function identity(m: { program: string; version: string; entry: string }, sha256: string): string {
  return `${m.program}@${m.version}#${sha256}:${m.entry}`;
}
const desiredIdentity = (m: ChainMember) => identity(m, m.object.sha256);
const liveIdentity = (m: LiveMember) => identity(m, m.sha256);

/**
 * Plan one host's apply. Pure: same inputs, same steps, in interface order
 * then HOOKS order. Pass `drift` only when drift should be repaired; a hook
 * with drift is restaged even when its chain matches.
 */
export function planHostSteps(desired: HostDesiredState, live: LiveHook[], drift: Drift[]): Step[] {
  const steps: Step[] = [];
  const liveByKey = new Map(live.map((h) => [`${h.iface}/${h.hook}`, h]));
  const seen = new Set<string>();
  for (const iface of desired.interfaces) {
    for (const hookState of iface.hooks) {
      const key = `${iface.name}/${hookState.hook}`;
      seen.add(key);
      const running = liveByKey.get(key);
      const hookDrift = drift.filter((d) => d.iface === iface.name && d.hook === hookState.hook);
      steps.push(planHook(iface.name, hookState, running, hookDrift));
    }
  }
  for (const running of live) {
    if (seen.has(`${running.iface}/${running.hook}`)) continue;
    steps.push({
      iface: running.iface,
      hook: running.hook,
      action: 'remove',
      reason: 'not in desired state',
      fromGeneration: running.generation,
    });
  }
  return steps.sort((a, b) => a.iface.localeCompare(b.iface) || HOOKS.indexOf(a.hook) - HOOKS.indexOf(b.hook));
}

function planHook(iface: string, desired: HookState, running: LiveHook | undefined, drift: Drift[]): Step {
  const base = { iface, hook: desired.hook, desired };
  if (!running) return { ...base, action: 'stage', reason: 'added' };
  const from = { ...base, fromGeneration: running.generation };

  const reasons: string[] = [];
  if (drift.length > 0) reasons.push(`repair ${[...new Set(drift.map((d) => d.kind))].join(',')}`);
  if (running.policy !== desired.policy) reasons.push(`policy ${running.policy}→${desired.policy}`);
  const chainReason = describeChainChange(desired.chain, running.members);
  if (chainReason) reasons.push(chainReason);
  if (reasons.length > 0) return { ...from, action: 'stage', reason: reasons.join('; ') };

  const changedParams = desired.chain.flatMap((m, i) =>
    canonicalHash(m.params) === running.members[i]!.paramsHash ? [] : [i],
  );
  if (changedParams.length > 0) return { ...from, action: 'params', reason: `params of members ${changedParams.join(',')}` };
  return { ...from, action: 'unchanged', reason: 'up to date' };
}

/** Undefined when the same programs run in the same order (params aside). */
function describeChainChange(desired: ChainMember[], running: LiveMember[]): string | undefined {
  const want = desired.map(desiredIdentity);
  const have = running.map(liveIdentity);
  if (want.length === have.length && want.every((id, i) => id === have[i])) return undefined;
  if (want.length === have.length && [...want].sort().join('\n') === [...have].sort().join('\n')) return 'reordered';
  const parts: string[] = [];
  const common = Math.min(want.length, have.length);
  const replaced = want.slice(0, common).flatMap((id, i) => (id === have[i] ? [] : [i]));
  if (replaced.length > 0) parts.push(`replaced members ${replaced.join(',')}`);
  if (want.length > have.length) parts.push(`added members ${range(have.length, want.length)}`);
  if (have.length > want.length) parts.push(`removed members ${range(want.length, have.length)}`);
  return parts.join(', ');
}

function range(from: number, to: number): string {
  return Array.from({ length: to - from }, (_, i) => from + i).join(',');
}
