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

/** A fleet whose reconciler and agents run and have converged on the introduction. */
async function convergedFleet(opts: Parameters<typeof createHarness>[0]): Promise<Harness> {
  const h = await createHarness(opts);
  harnesses.push(h);
  await h.startReconciler();
  for (const host of opts.hosts) await h.startAgent(host);
  await h.waitConverged(h.introduction);
  return h;
}

for (const remote of [false, true]) {
  describe(`control loop, sim datapath, ${remote ? 'file:// remote' : 'local repository'}`, () => {
    it('converges, follows a signed commit, refuses a force-push back', async () => {
      const h = await convergedFleet({ hosts: ['edge-1', 'edge-2'], datapath: 'sim', remote });
      const f0 = await h.fleet();
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

describe('webhook and metrics', () => {
  it('a signed webhook makes the reconciler fetch now; /metrics records commit-to-converged', async () => {
    const { webhookSignature } = await import('../../reconciler/server/webhook-signature.js');
    const secret = 'hook-secret-for-tests';
    // Fetch only once a minute: without the webhook the change would take up to 60 s.
    const h = await convergedFleet({ hosts: ['edge-1'], datapath: 'sim', remote: true, fetchIntervalSeconds: 60, webhookSecret: secret });

    const next = h.commit('edge-1: lower the rate', (repo) => {
      const f = join(repo, 'hosts/edge-1.yaml');
      writeFileSync(f, readFileSync(f, 'utf8').replace('ratePps: 200000', 'ratePps: 500'));
    });
    const body = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', after: next }));
    const bad = await fetch(`${h.url}/v1/webhook`, { method: 'POST', body, headers: { 'x-hub-signature-256': webhookSignature('wrong', body) } });
    expect(bad.status).toBe(401);
    const ok = await fetch(`${h.url}/v1/webhook`, { method: 'POST', body, headers: { 'x-hub-signature-256': webhookSignature(secret, body) } });
    expect(ok.status).toBe(202);
    const t0 = Date.now();
    await h.waitConverged(next, 10_000);
    expect(Date.now() - t0).toBeLessThan(10_000);

    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    expect(metrics).toMatch(/bpfleet_commits_total\{result="published",reason=""\} [1-9]/);
    await h.waitFor(() => true, 'a tick');
    const again = await (await fetch(`${h.url}/metrics`)).text();
    expect(again).toMatch(/bpfleet_commit_to_converged_seconds_count [1-9]/);
    expect(again).toMatch(/bpfleet_hosts\{state="converged"\} 1/);
  });
});

describe('program objects given by URL', () => {
  it('a head waits (status says why) while the origin fails, converges when it answers, and survives the origin going away', async () => {
    const { createServer } = await import('node:http');
    const { existsSync } = await import('node:fs');
    const { createHash } = await import('node:crypto');
    const object = readFileSync(new URL('../../examples/repo/objects/counter.bpf.o', import.meta.url));
    const sha = createHash('sha256').update(object).digest('hex');
    let ready = false;
    const origin = createServer((req, res) => {
      if (req.url !== '/objects/counter.bpf.o') return void res.writeHead(404).end();
      if (!ready) return void res.writeHead(503).end('warming up');
      res.end(object);
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(origin.address() as { port: number }).port}/objects/counter.bpf.o`;

    const h = await convergedFleet({ hosts: ['edge-1'], datapath: 'sim' });

    // The origin answers 503: the head is authenticated but waits, and status says why.
    const next = h.commit('counter: object from the artifact server', (repo) => {
      const f = join(repo, 'programs/counter/1.0.0.yaml');
      writeFileSync(f, readFileSync(f, 'utf8').replace(/path: objects\/counter\.bpf\.o/, `url: ${url}`));
    });
    const waiting = await h.waitFor((x) => x.pending?.commit === next, 'the head to show as pending');
    expect(waiting.pending).toMatchObject({ reason: 'ObjectFetchFailed', message: expect.stringMatching(/HTTP 503, expected 200/) });
    expect(waiting.trust.status).toBe('authenticated');
    expect(waiting.hosts[0]!.reported!.commit).toBe(h.introduction);
    const st = h.cli('status', '--server', h.url);
    expect(st.status).toBe(2);
    expect(st.stdout).toMatch(new RegExp(`head ${next.slice(0, 12)} pending \\(ObjectFetchFailed`));

    // The origin recovers: the same head is retried and converges, no new commit needed.
    ready = true;
    const f = await h.waitConverged(next, 45_000);
    expect(f.pending).toBeUndefined();
    expect(existsSync(join(h.reconcilerStateDir, 'objects', sha))).toBe(true);

    // A new object at a URL that is wrong for good (404) is a verdict on the commit, not a retry.
    // (The same digest at another URL would not even be fetched: the cache is keyed by sha256.)
    const wrong = h.commit('counter: a new build, at a URL with a typo', (repo) => {
      const p = join(repo, 'programs/counter/1.0.0.yaml');
      writeFileSync(p, readFileSync(p, 'utf8').replace('/objects/counter.bpf.o', '/objects/countr-2.bpf.o').replace(sha, 'b'.repeat(64)));
    });
    const refused = await h.waitFor((x) => x.trust.status === 'refused' && x.trust.commit === wrong, 'the typo to be refused');
    expect(refused.trust).toMatchObject({ reason: 'InvalidCommit', message: expect.stringMatching(/ObjectUrlRefused|HTTP 404/) });

    // The origin goes away for good; a restarted reconciler and agent (the sim agent
    // re-loads every object through the reconciler) come back on `next` from the reconciler's cache.
    origin.closeAllConnections();
    await new Promise((r) => origin.close(r));
    await h.stopReconciler('SIGKILL');
    await h.stopAgent('edge-1', 'SIGKILL');
    await h.startReconciler();
    await h.startAgent('edge-1');
    await h.waitFor((x) => x.hosts[0]!.state === 'converged' && x.hosts[0]!.reported?.commit === next && x.hosts[0]!.reported.reportedAt > f.hosts[0]!.reported!.reportedAt, 'edge-1 to converge again after the restarts');
  });
});

describe('taking a host out of the fleet', () => {
  it('a deleted Host file leaves its chains running and shows the host unmanaged; an empty Host removes them', async () => {
    const { rmSync } = await import('node:fs');
    const h = await convergedFleet({ hosts: ['edge-1', 'edge-2'], datapath: 'sim' });
    const reportedHooks = () => (JSON.parse(readFileSync(join(h.reconcilerStateDir, 'state/status/edge-2.json'), 'utf8')) as { report: { hooks: unknown[] } }).report.hooks;
    expect(reportedHooks().length).toBeGreaterThan(0);

    // Deleting the file may be an accident: nothing is torn down, status says so (and exits non-zero).
    const deleted = h.commit('fleet: edge-2 leaves', (repo) => rmSync(join(repo, 'hosts/edge-2.yaml')));
    const f = await h.waitFor(
      (x) => x.commit === deleted && x.hosts.find((y) => y.host === 'edge-2')?.state === 'unmanaged' && x.hosts.find((y) => y.host === 'edge-1')?.state === 'converged',
      'edge-2 to show unmanaged, edge-1 converged',
    );
    expect(f.hosts.find((y) => y.host === 'edge-2')!.reason).toBe('NotInFleet');
    expect(f.hosts.find((y) => y.host === 'edge-1')!.reported!.commit).toBe(deleted);
    expect(reportedHooks().length).toBeGreaterThan(0);
    const status = h.cli('status', '--server', h.url);
    expect(status.status).toBe(2); // not all converged
    expect(status.stdout).toMatch(/edge-2 .* unmanaged/);

    // Decommission on purpose: an empty Host, then the chains go.
    const emptied = h.commit('fleet: edge-2 runs nothing', (repo) =>
      writeFileSync(join(repo, 'hosts/edge-2.yaml'), 'apiVersion: bpfleet.dev/v1\nkind: Host\nmetadata:\n  name: edge-2\nspec:\n  interfaces: []\n'),
    );
    await h.waitConverged(emptied);
    expect(reportedHooks()).toEqual([]);
    // With the chains gone, deleting the file leaves a host that runs nothing: converged.
    const gone = h.commit('fleet: edge-2 file removed', (repo) => rmSync(join(repo, 'hosts/edge-2.yaml')));
    const g = await h.waitFor((x) => x.commit === gone, 'the deletion to publish');
    expect(g.hosts.find((y) => y.host === 'edge-2')).toMatchObject({ state: 'converged', reason: 'NothingDesired' });
  });
});

describe('bpfleet plan --running', () => {
  it('diffs HEAD with what each agent reports: only the host that missed a commit has changes', async () => {
    const h = await convergedFleet({ hosts: ['edge-1', 'edge-2'], datapath: 'sim' });
    const none = h.cli('plan', '--repo', h.repo, '--running', '--server', h.url);
    expect(none.stderr).toBe('');
    expect(none.status).toBe(0);
    expect(none.stdout).toMatch(/No changes\. 2 host\(s\) unchanged/);

    // edge-2 is down while a rate change lands.
    await h.stopAgent('edge-2', 'SIGTERM');
    const next = h.commit('edge: lower the rate, block one more prefix', (repo) => {
      const e1 = join(repo, 'hosts/edge-1.yaml');
      writeFileSync(e1, readFileSync(e1, 'utf8').replace(/ratePps: \d+/, 'ratePps: 777'));
      const e2 = join(repo, 'hosts/edge-2.yaml');
      writeFileSync(e2, readFileSync(e2, 'utf8').replace('prefixes: [198.51.100.0/24]', 'prefixes: [198.51.100.0/24, 192.0.2.0/24]'));
    });
    await h.waitFor((x) => x.hosts.find((y) => y.host === 'edge-1')?.reported?.commit === next, 'edge-1 to apply');
    const r = h.cli('plan', '--repo', h.repo, '--running', '--server', h.url, '--json');
    expect(r.status).toBe(2);
    const plan = JSON.parse(r.stdout) as { from: string; to: string; hosts: { host: string; kind: string; hooks: { kind: string; params?: { program: string; to: Record<string, unknown> }[] }[] }[] };
    expect(plan.from).toBe('running');
    expect(plan.to).toBe(next);
    expect(plan.hosts.find((x) => x.host === 'edge-1')!.kind).toBe('unchanged');
    const edge2 = plan.hosts.find((x) => x.host === 'edge-2')!;
    expect(edge2.kind).toBe('changed');
    expect(edge2.hooks.filter((k) => k.kind !== 'unchanged')).toEqual([expect.objectContaining({ kind: 'params', params: [{ program: 'blocklist', to: { prefixes: ['198.51.100.0/24', '192.0.2.0/24'] } }] })]);

    // Usage errors are plain and exit 1.
    expect(h.cli('plan', '--repo', h.repo, '--running').stderr).toMatch(/--running needs --server/);
    expect(h.cli('plan', '--repo', h.repo, '--running', '--from', 'HEAD', '--server', h.url).status).toBe(1);
  });
});
