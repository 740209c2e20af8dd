// The agent's capability set, read from the systemd unit so the unit file is
// the one place it is written down and the tests check that very list.

import { readUnit, unitValue } from './systemd-unit.js';

export const AGENT_UNIT = new URL('../../deploy/systemd/bpfleet-agent.service', import.meta.url).pathname;

export function agentCapabilities(): string[] {
  const v = unitValue(readUnit(AGENT_UNIT), 'Service', 'CapabilityBoundingSet') ?? '';
  return v.split(/\s+/).filter(Boolean).sort();
}
