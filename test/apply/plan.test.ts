import { describe, expect, it } from 'vitest';
import type { Drift, LiveHook } from '../../agent/datapath/datapath.js';
import { planHostSteps, type Step } from '../../agent/apply/plan.js';
import { canonicalHash } from '../../schemas/canonical-json.js';
import type { ChainMember, Hook, HookPolicy, HostDesiredState } from '../../schemas/desired-state.js';

const sha = (name: string, version: string) => canonicalHash([name, version]);

function member(program: string, version = '1.0.0', params: Record<string, unknown> = {}): ChainMember {
  return {
    program,
    version,
    object: { sha256: sha(program, version), size: 100 },
    entry: `${program}_xdp`,
    params,
    bindings: [],
    maps: [],
  };
}

function host(hooks: { iface?: string; hook?: Hook; policy?: HookPolicy; chain: ChainMember[] }[]): HostDesiredState {
  const ifaces = new Map<string, HostDesiredState['interfaces'][number]>();
  for (const h of hooks) {
    const name = h.iface ?? 'eth0';
    const iface = ifaces.get(name) ?? { name, hooks: [] };
    iface.hooks.push({ hook: h.hook ?? 'xdp', policy: h.policy ?? 'pass', chain: h.chain });
    ifaces.set(name, iface);
  }
  return { host: 'edge-1', labels: {}, interfaces: [...ifaces.values()] };
}

function live(chain: ChainMember[], opts: { iface?: string; hook?: Hook; policy?: HookPolicy; generation?: number } = {}): LiveHook {
  return {
    iface: opts.iface ?? 'eth0',
    hook: opts.hook ?? 'xdp',
    policy: opts.policy ?? 'pass',
    generation: opts.generation ?? 7,
    rootProgId: 99,
    members: chain.map((m, i) => ({
      program: m.program,
      version: m.version,
      sha256: m.object.sha256,
      entry: m.entry,
      paramsHash: canonicalHash(m.params),
      progId: 100 + i,
      tag: 'abcd',
    })),
  };
}

const A = member('counter');
const B = member('blocklist', '1.0.0', { prefixes: ['10.0.0.0/8'] });
const C = member('ratelimit', '1.0.0', { rate_pps: 100 });

const brief = (steps: Step[]) => steps.map((s) => [`${s.iface}/${s.hook}`, s.action, s.reason]);

const cases: { name: string; desired: HostDesiredState; live: LiveHook[]; drift?: Drift[]; expected: [string, string, string][] }[] = [
  { name: 'a hook not yet running is staged as added', desired: host([{ chain: [A] }]), live: [], expected: [['eth0/xdp', 'stage', 'added']] },
  { name: 'an identical chain is unchanged', desired: host([{ chain: [A, B] }]), live: [live([A, B])], expected: [['eth0/xdp', 'unchanged', 'up to date']] },
  {
    name: 'params that differ only in key order are unchanged',
    desired: host([{ chain: [member('x', '1', { b: 2, a: 1 })] }]),
    live: [live([member('x', '1', { a: 1, b: 2 })])],
    expected: [['eth0/xdp', 'unchanged', 'up to date']],
  },
  {
    name: 'only params changed: updated in place',
    desired: host([{ chain: [A, member('blocklist', '1.0.0', { prefixes: ['10.1.0.0/16'] }), C] }]),
    live: [live([A, B, C])],
    expected: [['eth0/xdp', 'params', 'params of members 1']],
  },
  {
    name: 'a new version of a member is a replace',
    desired: host([{ chain: [A, member('blocklist', '1.1.0', B.params), member('ratelimit', '2.0.0', C.params)] }]),
    live: [live([A, B, C])],
    expected: [['eth0/xdp', 'stage', 'replaced members 1,2']],
  },
  {
    name: 'the same version with another object digest is a replace',
    desired: host([{ chain: [{ ...A, object: { sha256: sha('counter', 'rebuilt'), size: 101 } }] }]),
    live: [live([A])],
    expected: [['eth0/xdp', 'stage', 'replaced members 0']],
  },
  {
    name: 'another entry of the same object is a replace',
    desired: host([{ chain: [{ ...A, entry: 'counter_other' }] }]),
    live: [live([A])],
    expected: [['eth0/xdp', 'stage', 'replaced members 0']],
  },
  { name: 'the same members in another order are reordered', desired: host([{ chain: [B, A] }]), live: [live([A, B])], expected: [['eth0/xdp', 'stage', 'reordered']] },
  { name: 'an appended member is staged', desired: host([{ chain: [A, B, C] }]), live: [live([A, B])], expected: [['eth0/xdp', 'stage', 'added members 2']] },
  { name: 'a dropped member is staged', desired: host([{ chain: [A] }]), live: [live([A, B, C])], expected: [['eth0/xdp', 'stage', 'removed members 1,2']] },
  {
    name: 'a policy change alone is staged',
    desired: host([{ chain: [A], policy: 'drop' }]),
    live: [live([A])],
    expected: [['eth0/xdp', 'stage', 'policy pass→drop']],
  },
  {
    name: 'a policy change with new params is one stage, not a params update',
    desired: host([{ chain: [member('counter', '1.0.0', { x: 1 })], policy: 'drop' }]),
    live: [live([A])],
    expected: [['eth0/xdp', 'stage', 'policy pass→drop']],
  },
  {
    name: 'drift on a matching hook is repaired by staging',
    desired: host([{ chain: [A] }]),
    live: [live([A])],
    drift: [
      { iface: 'eth0', hook: 'xdp', kind: 'root-detached', detail: '' },
      { iface: 'eth0', hook: 'xdp', kind: 'pins-missing', detail: '' },
    ],
    expected: [['eth0/xdp', 'stage', 'repair root-detached,pins-missing']],
  },
  {
    name: 'drift on another hook does not touch this one',
    desired: host([{ chain: [A] }]),
    live: [live([A])],
    drift: [{ iface: 'eth1', hook: 'xdp', kind: 'slot-empty', detail: '' }],
    expected: [['eth0/xdp', 'unchanged', 'up to date']],
  },
  {
    name: 'a running hook no longer desired is removed',
    desired: host([{ chain: [A] }]),
    live: [live([A]), live([B], { iface: 'eth0', hook: 'tc-egress' })],
    expected: [
      ['eth0/xdp', 'unchanged', 'up to date'],
      ['eth0/tc-egress', 'remove', 'not in desired state'],
    ],
  },
  {
    name: 'an empty desired chain replaces a running one (root only, policy applies)',
    desired: host([{ chain: [], policy: 'drop' }]),
    live: [live([A])],
    expected: [['eth0/xdp', 'stage', 'policy pass→drop; removed members 0']],
  },
  {
    name: 'steps come in interface order, then xdp, tc-ingress, tc-egress',
    desired: host([
      { iface: 'eth1', hook: 'tc-egress', chain: [A] },
      { iface: 'eth1', hook: 'xdp', chain: [A] },
      { iface: 'eth0', hook: 'tc-ingress', chain: [A] },
    ]),
    live: [],
    expected: [
      ['eth0/tc-ingress', 'stage', 'added'],
      ['eth1/xdp', 'stage', 'added'],
      ['eth1/tc-egress', 'stage', 'added'],
    ],
  },
];

describe('planHostSteps', () => {
  for (const c of cases) {
    it(c.name, () => {
      expect(brief(planHostSteps(c.desired, c.live, c.drift ?? []))).toEqual(c.expected);
    });
  }

  it('carries the desired hook state and the generation it starts from', () => {
    const desired = host([{ chain: [A, member('blocklist', '1.0.0', { prefixes: [] })] }]);
    const [step] = planHostSteps(desired, [live([A, B], { generation: 12 })], []);
    expect(step).toMatchObject({ action: 'params', fromGeneration: 12, desired: desired.interfaces[0]!.hooks[0] });
  });

  it('is pure: planning twice gives equal steps and leaves its inputs alone', () => {
    const desired = host([{ chain: [B, A] }]);
    const running = [live([A, B])];
    const snapshot = JSON.stringify([desired, running]);
    expect(planHostSteps(desired, running, [])).toEqual(planHostSteps(desired, running, []));
    expect(JSON.stringify([desired, running])).toBe(snapshot);
  });
});
