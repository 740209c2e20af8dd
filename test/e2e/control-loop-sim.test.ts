// Smoke of the whole loop with the sim datapath: fast, no kernel needed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from './fleet-harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ hosts: ['edge-1', 'edge-2'], datapath: 'sim' });
  await h.startReconciler();
  await h.startAgent('edge-1');
  await h.startAgent('edge-2');
});
afterAll(async () => h?.cleanup());

describe('control loop (sim datapath)', () => {
  it('converges every agent on the introduction commit', async () => {
    const f = await h.waitConverged(h.introduction);
    expect(f.hosts.map((x) => x.host).sort()).toEqual(['edge-1', 'edge-2']);
  });
});
