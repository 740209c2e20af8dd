import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../schemas/canonical-json.js';
import { compileFleet } from '../../reconciler/compile/compile-fleet.js';
import { hasChanges, planFleet, planHook } from '../../reconciler/plan/plan.js';
import { renderMarkdown, renderText } from '../../reconciler/plan/render.js';
import type { ChainMember, FleetDesiredState, HookState } from '../../schemas/desired-state.js';
import { exampleTree } from './example-tree.js';

async function fleet(edits: Parameters<typeof exampleTree>[0] = {}): Promise<FleetDesiredState> {
  const r = await compileFleet(exampleTree(edits));
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.fleet;
}

describe('compile', () => {
  it('is deterministic: the same tree compiles to byte-identical output', async () => {
    const a = canonicalJson(await fleet());
    const b = canonicalJson(await fleet());
    expect(a).toBe(b);
  });

  it('produces one sorted desired state per host with resolved members', async () => {
    const f = await fleet();
    expect(Object.keys(f.hosts)).toEqual(['core-1', 'edge-1', 'edge-2']);
    const edge1 = f.hosts['edge-1']!.state;
    expect(edge1.labels).toEqual({ role: 'edge', site: 'fra1' });
    const xdp = edge1.interfaces[0]!.hooks.find((h) => h.hook === 'xdp')!;
    expect(xdp.chain.map((m) => `${m.program}@${m.version}:${m.entry}`)).toEqual([
      'blocklist@1.0.0:blocklist_xdp',
      'ratelimit@1.0.0:ratelimit_xdp',
      'counter@1.0.0:counter_xdp',
    ]);
    expect(xdp.chain[1]!.bindings).toEqual([
      { kind: 'global', parameter: 'ratePps', symbol: 'rate_pps' },
      { kind: 'global', parameter: 'burst', symbol: 'burst' },
    ]);
    expect(xdp.chain[1]!.maps).toEqual([{ name: 'ratelimit_buckets', persistent: true }]);
    expect(edge1.interfaces[0]!.hooks.map((h) => h.hook)).toEqual(['xdp', 'tc-egress']);
    // Only objects a host runs are listed, each with its path in the repository.
    expect(Object.values(f.objects).sort()).toEqual(['objects/blocklist.bpf.o', 'objects/counter.bpf.o', 'objects/ratelimit.bpf.o']);
  });

  it('hashes change with content, not with formatting or key order', async () => {
    const base = await fleet();
    const reformatted = await fleet({ 'hosts/edge-1.yaml': (t) => t.replace('{ ratePps: 200000, burst: 400000 }', '\n              burst: 400000\n              ratePps: 200000') });
    expect(reformatted.hosts['edge-1']!.hash).toBe(base.hosts['edge-1']!.hash);
    const changed = await fleet({ 'hosts/edge-1.yaml': (t) => t.replace('ratePps: 200000', 'ratePps: 100000') });
    expect(changed.hosts['edge-1']!.hash).not.toBe(base.hosts['edge-1']!.hash);
    expect(changed.hosts['edge-2']!.hash).toBe(base.hosts['edge-2']!.hash);
  });
});

const member = (program: string, version = '1.0.0', params: Record<string, unknown> = {}, sha = program): ChainMember => ({
  program,
  version,
  object: { sha256: sha.padEnd(64, '0'), size: 1 },
  entry: `${program}_xdp`,
  params,
  bindings: [],
  maps: [],
});
const hook = (chain: ChainMember[], policy: 'pass' | 'drop' = 'pass'): HookState => ({ hook: 'xdp', policy, chain });

describe('plan', () => {
  const cases: { name: string; from?: HookState; to?: HookState; kind: string; check?: (c: ReturnType<typeof planHook>) => void }[] = [
    { name: 'hook added', to: hook([member('a')]), kind: 'added' },
    { name: 'hook removed', from: hook([member('a')]), kind: 'removed' },
    { name: 'unchanged', from: hook([member('a'), member('b')]), to: hook([member('a'), member('b')]), kind: 'unchanged' },
    {
      name: 'params only (no reload)',
      from: hook([member('a', '1.0.0', { x: 1 }), member('b')]),
      to: hook([member('a', '1.0.0', { x: 2 }), member('b')]),
      kind: 'params',
      check: (c) => expect(c.params).toEqual([{ program: 'a', from: { x: 1 }, to: { x: 2 } }]),
    },
    { name: 'reordered', from: hook([member('a'), member('b')]), to: hook([member('b'), member('a')]), kind: 'reordered' },
    {
      name: 'member added',
      from: hook([member('a')]),
      to: hook([member('a'), member('b')]),
      kind: 'replaced',
      check: (c) => expect(c.members).toEqual({ added: [{ program: 'b', version: '1.0.0' }], removed: [], upgraded: [] }),
    },
    {
      name: 'member upgraded',
      from: hook([member('a'), member('b')]),
      to: hook([member('a'), member('b', '2.0.0', {}, 'b2')]),
      kind: 'replaced',
      check: (c) => expect(c.members?.upgraded).toEqual([{ program: 'b', from: '1.0.0', to: '2.0.0' }]),
    },
    {
      name: 'same version, different object (a re-pinned digest) needs a reload',
      from: hook([member('a', '1.0.0', {}, 'x')]),
      to: hook([member('a', '1.0.0', {}, 'y')]),
      kind: 'replaced',
    },
    { name: 'policy only', from: hook([member('a')], 'pass'), to: hook([member('a')], 'drop'), kind: 'policy' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = planHook('eth0', 'xdp', c.from, c.to);
      expect(r.kind).toBe(c.kind);
      c.check?.(r);
    });
  }

  it('plans a fleet change: host added, removed, changed, unchanged', async () => {
    const before = await fleet();
    const after = await fleet({
      'hosts/edge-2.yaml': null,
      'hosts/edge-3.yaml': String((await import('./example-tree.js')).exampleFiles()['hosts/edge-2.yaml']).replace('name: edge-2', 'name: edge-3'),
      'hosts/edge-1.yaml': (t: string) => t.replace('ratePps: 200000', 'ratePps: 1000'),
    } as never);
    const plan = planFleet(before, after);
    expect(plan.hosts.map((h) => `${h.host}:${h.kind}`)).toEqual(['core-1:unchanged', 'edge-1:changed', 'edge-2:removed', 'edge-3:added']);
    expect(plan.hosts[1]!.hooks.map((h) => `${h.iface}/${h.hook}:${h.kind}`)).toEqual(['eth0/xdp:params', 'eth0/tc-egress:unchanged']);
    expect(hasChanges(plan)).toBe(true);
    expect(renderText(plan, false)).toContain('~ eth0/xdp: parameters only, no reload: ratelimit');
    expect(renderText(plan, false)).not.toContain('\x1b[');
    expect(renderText(plan, true)).toContain('\x1b[');
    const md = renderMarkdown(plan);
    expect(md).toContain('| edge-1 | `eth0/xdp` | params:');
    expect(md).toContain('| edge-3 (added) |');
    // A host leaving the fleet is not torn down: no hook removals are planned, and the plan says so.
    expect(plan.hosts[2]!.hooks).toEqual([]);
    expect(renderText(plan, false)).toMatch(/host edge-2 \(removed\)\n {2}leaves the fleet: its agent keeps running what it runs now/);
    expect(md).toContain('| edge-2 (removed) | | leaves the fleet');
    expect(hasChanges(planFleet(before, before))).toBe(false);
  });
});
