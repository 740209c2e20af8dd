// Shared fixtures of the transport tests: temp dirs, a sample desired state.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FleetDesiredState, HostDesiredState } from '../../schemas/desired-state.js';
import { canonicalHash } from '../../schemas/canonical-json.js';

export async function tempDir(prefix = 'bpfleet-transport-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

export const OBJ_A = 'a'.repeat(64);
export const OBJ_B = 'b'.repeat(64);

export function hostState(host: string, object = OBJ_A, rate = 100): HostDesiredState {
  return {
    host,
    labels: { role: 'edge' },
    interfaces: [
      {
        name: 'eth0',
        hooks: [
          {
            hook: 'xdp',
            policy: 'pass',
            chain: [
              {
                program: 'ratelimit',
                version: '1.0.0',
                object: { sha256: object, size: 4 },
                entry: 'xdp_ratelimit',
                params: { rate },
                bindings: [{ kind: 'global', parameter: 'rate', symbol: 'cfg_rate' }],
                maps: [{ name: 'buckets', persistent: true }],
              },
            ],
          },
        ],
      },
    ],
  };
}

export function fleet(commit: string, hosts: string[], opts: { object?: string; rate?: number } = {}): FleetDesiredState {
  const out: FleetDesiredState = { commit, hosts: {}, objects: {} };
  for (const h of hosts) {
    const state = hostState(h, opts.object ?? OBJ_A, opts.rate ?? 100);
    out.hosts[h] = { state, hash: canonicalHash(state) };
  }
  out.objects[opts.object ?? OBJ_A] = 'objects/ratelimit.o';
  return out;
}

export const C1 = '1'.repeat(40);
export const C2 = '2'.repeat(40);
export const C3 = '3'.repeat(40);
