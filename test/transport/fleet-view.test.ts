import { describe, expect, test } from 'vitest';
import { summarizeFleet, summarizeHost, type HostFacts } from '../../reconciler/server/fleet-view.js';
import type { StatusReport } from '../../schemas/protocol.js';
import { C1, C2 } from './helpers.js';

const now = new Date('2026-01-01T12:00:00Z');
const STALE = 60_000;
const desired = (generation: number) => ({ generation, commit: C2, hash: 'f'.repeat(64), issuedAt: now.toISOString() });
function facts(report: Partial<StatusReport> | null, opts: { ageMs?: number; desiredGen?: number | null } = {}): HostFacts {
  return {
    host: 'edge-1',
    desired: opts.desiredGen === null ? null : desired(opts.desiredGen ?? 2),
    status: report && {
      receivedAt: new Date(now.getTime() - (opts.ageMs ?? 1000)).toISOString(),
      report: { host: 'edge-1', generation: 2, commit: C2, state: 'converged', hooks: [], drift: [], datapath: 'sim', agentVersion: '0.1.0', reportedAt: now.toISOString(), ...report },
    },
  };
}

describe('summarizeHost', () => {
  test.each([
    ['never reported', facts(null), 'unreachable', 'NeverReported'],
    ['converged at the desired generation', facts({}), 'converged', 'Converged'],
    ['stale report wins over what it said', facts({}, { ageMs: STALE + 1 }), 'unreachable', 'Stale'],
    ['behind the desired generation', facts({ generation: 1, commit: C1 }), 'applying', 'BehindDesired'],
    ['agent says applying', facts({ state: 'applying' }), 'applying', 'Applying'],
    ['agent error', facts({ state: 'error', error: { code: 'VerifierRejected', message: 'x' } }), 'error', 'AgentError'],
    ['drift listed', facts({ drift: [{ iface: 'eth0', hook: 'xdp', kind: 'root-detached', detail: '' }] }), 'drifted', 'Drift'],
    ['agent ahead of the reconciler (state lost)', facts({ generation: 3 }), 'error', 'AgentAhead'],
    ['no Host in the fleet and nothing running', facts({}, { desiredGen: null }), 'converged', 'NothingDesired'],
    ['no Host in the fleet (file deleted) but chains still running', facts({ hooks: [{ iface: 'eth0', hook: 'xdp', policy: 'pass', generation: 3, members: [] }] }, { desiredGen: null }), 'unmanaged', 'NotInFleet'],
  ] as const)('%s', (_name, f, state, reason) => {
    expect(summarizeHost(f, now, STALE)).toMatchObject({ state, reason });
  });
});

test('summarizeFleet sorts hosts and counts states', () => {
  const a = { ...facts({}), host: 'b-host' };
  const b = { ...facts(null), host: 'a-host' };
  const s = summarizeFleet({ hosts: [a, b], trust: { status: 'authenticated' }, commit: C2, now, staleAfterMs: STALE });
  expect(s.hosts.map((h) => h.host)).toEqual(['a-host', 'b-host']);
  expect(s.summary).toEqual({ total: 2, byState: { unreachable: 1, converged: 1 } });
  expect(s.staleAfterSeconds).toBe(60);
});
