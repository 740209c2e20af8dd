// The whole loop with the sim datapath (no kernel needed), and a remote
// repository fetched over file:// exactly like a hosted one.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from './fleet-harness.js';

const harnesses: Harness[] = [];
afterAll(async () => {
  for (const h of harnesses) await h.cleanup();
});

for (const remote of [false, true]) {
  describe(`control loop, sim datapath, ${remote ? 'file:// remote' : 'local repository'}`, () => {
    it('converges, follows a signed commit, refuses a force-push back', async () => {
      const h = await createHarness({ hosts: ['edge-1', 'edge-2'], datapath: 'sim', remote });
      harnesses.push(h);
      await h.startReconciler();
      await h.startAgent('edge-1');
      await h.startAgent('edge-2');
      const f0 = await h.waitConverged(h.introduction);
      expect(f0.hosts.every((x) => x.reported?.datapath === 'sim')).toBe(true);

      const next = h.commit('edge-1: lower the rate', (repo) => {
        const f = join(repo, 'hosts/edge-1.yaml');
        writeFileSync(f, readFileSync(f, 'utf8').replace('ratePps: 200000', 'ratePps: 1000'));
      });
      await h.waitConverged(next);

      // Rewrite history back to the introduction: a downgrade, refused; the fleet stays on `next`.
      const { git } = await import('../trust/fixtures.js');
      git(h.repo, ['reset', '-q', '--hard', h.introduction]);
      const f = await h.waitFor((x) => x.trust.status === 'refused', 'the downgrade to be refused');
      expect(f.trust.reason).toBe('Downgrade');
      expect(f.hosts.every((x) => x.reported?.commit === next && x.state === 'converged')).toBe(true);
    });
  });
}
