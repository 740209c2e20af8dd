// Prometheus metrics of the API, registered in a registry the daemon owns so
// it can add its own (reconcile cycles, trust refusals) beside these.

import { Counter, Gauge, type Registry } from 'prom-client';
import { HOST_STATES, type FleetStatus } from '../../schemas/protocol.js';

export interface ApiMetrics {
  requests: Counter<'route' | 'code'>;
  generation: Gauge<'host'>;
  longPolls: Gauge;
}

export function createApiMetrics(registry: Registry, sources: { fleet: () => FleetStatus; waiting: () => number }): ApiMetrics {
  const requests = new Counter({ name: 'bpfleet_api_requests_total', help: 'API requests by route and status code', labelNames: ['route', 'code'] as const, registers: [registry] });
  const generation = new Gauge({ name: 'bpfleet_desired_generation', help: 'Published desired-state generation per host', labelNames: ['host'] as const, registers: [registry] });
  new Gauge({
    name: 'bpfleet_hosts',
    help: 'Hosts by summarised state (converged, applying, drifted, error, unreachable)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const byState = sources.fleet().summary.byState;
      for (const s of HOST_STATES) this.set({ state: s }, byState[s] ?? 0);
    },
  });
  const longPolls = new Gauge({
    name: 'bpfleet_longpolls_waiting',
    help: 'Desired-state long-polls currently parked',
    registers: [registry],
    collect() {
      this.set(sources.waiting());
    },
  });
  return { requests, generation, longPolls };
}
