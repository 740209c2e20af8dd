// Pure: which hosts get a new generation when a fleet is published. A host's
// generation bumps only when its state hash or the commit changes, so
// re-publishing the same commit (e.g. after a restart) wakes nobody.

import type { FleetDesiredState } from '../../schemas/desired-state.js';
import type { HostGeneration } from '../state/state-store.js';

export function nextGenerations(fleet: FleetDesiredState, current: Readonly<Record<string, HostGeneration>>, now: Date): Record<string, HostGeneration> {
  const changes: Record<string, HostGeneration> = {};
  for (const [host, { hash }] of Object.entries(fleet.hosts)) {
    const cur = current[host];
    if (cur && cur.hash === hash && cur.commit === fleet.commit) continue;
    changes[host] = { generation: (cur?.generation ?? 0) + 1, commit: fleet.commit, hash, issuedAt: now.toISOString() };
  }
  return changes;
}
