// The plan against what runs: a compiled revision diffed with what agents
// report (digests and a params hash, not the values).

import { describe, expect, it } from 'vitest';
import { compileFleet } from '../../reconciler/compile/compile-fleet.js';
import { planFleetAgainstRunning, type RunningHost } from '../../reconciler/plan/plan-running.js';
import { renderText } from '../../reconciler/plan/render.js';
import { canonicalHash } from '../../schemas/canonical-json.js';
import type { FleetDesiredState } from '../../schemas/desired-state.js';
import type { ReportedHook } from '../../schemas/protocol.js';
import { exampleTree } from './example-tree.js';

async function fleet(edits: Parameters<typeof exampleTree>[0] = {}): Promise<FleetDesiredState> {
  const r = await compileFleet(exampleTree(edits));
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.fleet;
}

/** What an agent that applied `f` exactly would report. */
function reported(f: FleetDesiredState, host: string): ReportedHook[] {
  return f.hosts[host]!.state.interfaces.flatMap((i) =>
    i.hooks.map((h) => ({
      iface: i.name,
      hook: h.hook,
      policy: h.policy,
      generation: 1,
      members: h.chain.map((m, n) => ({ program: m.program, version: m.version, sha256: m.object.sha256, progId: 100 + n, tag: '0123456789abcdef', paramsHash: canonicalHash(m.params) })),
    })),
  );
}

const runningAll = (f: FleetDesiredState): RunningHost[] => Object.keys(f.hosts).map((host) => ({ host, commit: f.commit, hooks: reported(f, host) }));

describe('plan against what runs', () => {
  it('a fleet that runs exactly the revision has no changes', async () => {
    const f = await fleet();
    const plan = planFleetAgainstRunning(f, runningAll(f));
    expect(plan.summary).toMatchObject({ hostsChanged: 0, hostsAdded: 0, hostsRemoved: 0, hostsUnchanged: 3 });
  });

  it('finds params that differ by their hash, without claiming to know the running values', async () => {
    const f = await fleet();
    const running = runningAll(f);
    const edge1 = running.find((r) => r.host === 'edge-1')!;
    edge1.hooks![0]!.members[1]!.paramsHash = 'e'.repeat(64);
    const plan = planFleetAgainstRunning(f, running);
    const host = plan.hosts.find((h) => h.host === 'edge-1')!;
    expect(host.kind).toBe('changed');
    const change = host.hooks.find((h) => h.kind !== 'unchanged')!;
    expect(change).toMatchObject({ iface: 'eth0', hook: 'xdp', kind: 'params', params: [{ program: 'ratelimit', to: { ratePps: 200000, burst: 400000 } }] });
    expect(change.params![0]!.from).toBeUndefined();
    expect(renderText(plan, false)).toContain('ratelimit (other values) → {"burst":400000,"ratePps":200000}');
  });

  it('an agent that does not report params hashes (older agent) is not shown as changed', async () => {
    const f = await fleet();
    const running = runningAll(f);
    for (const r of running) for (const h of r.hooks!) for (const m of h.members) delete m.paramsHash;
    expect(planFleetAgainstRunning(f, running).summary.hostsChanged).toBe(0);
  });

  it('other objects, missing and extra hooks, silent and departed hosts', async () => {
    const f = await fleet();
    const running = runningAll(f).filter((r) => r.host !== 'core-1'); // core-1 never reported
    const edge1 = running.find((r) => r.host === 'edge-1')!;
    edge1.hooks![0]!.members[0]!.sha256 = 'a'.repeat(64); // a different blocklist object runs
    const edge2 = running.find((r) => r.host === 'edge-2')!;
    const extra = { ...edge2.hooks![0]!, iface: 'eth9' };
    edge2.hooks = [...edge2.hooks!.slice(1), extra]; // first hook missing, one extra
    running.push({ host: 'old-1', commit: f.commit, hooks: reported(f, 'edge-2') });
    const plan = planFleetAgainstRunning(f, running);
    const by = (h: string) => plan.hosts.find((x) => x.host === h)!;
    expect(by('core-1').kind).toBe('added');
    expect(by('old-1')).toMatchObject({ kind: 'removed', hooks: [] });
    expect(by('edge-1').hooks.find((h) => h.kind !== 'unchanged')).toMatchObject({ kind: 'replaced', members: { upgraded: [{ program: 'blocklist', from: '1.0.0', to: '1.0.0' }] } });
    const e2 = by('edge-2').hooks.filter((h) => h.kind !== 'unchanged').map((h) => `${h.iface}/${h.hook}:${h.kind}`);
    const first = reported(f, 'edge-2')[0]!;
    expect(e2).toEqual([`${first.iface}/${first.hook}:added`, `eth9/${extra.hook}:removed`]);
    expect(plan.from).toBe('running');
    expect(renderText(plan, false)).toMatch(/host old-1 \(removed\)\n {2}leaves the fleet: its agent keeps running/);
  });
});
