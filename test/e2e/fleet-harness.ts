// A whole fleet on one machine, as real processes: a signed Git repository
// built from examples/repo, `bpfleet reconciler` and one `bpfleet agent` per
// host, each host a network namespace with a veth pair (kernel datapath) or
// nothing at all (sim). Everything it starts it stops, by pid.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { stringify } from 'yaml';
import type { FleetStatus } from '../../schemas/protocol.js';
import { generateSigningKey } from '../../reconciler/signing/key-files.js';
import { EXAMPLE_REPO } from '../fleet/example-tree.js';
import { createVethPair, type VethPair } from '../netns.js';
import { gitCommitSigned, initRepo, makeSshSigner, tempDir, writeAuthorizations, type SshSigner } from '../trust/fixtures.js';

const BIN = new URL('../../bin/bpfleet', import.meta.url).pathname;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

export interface HarnessOptions {
  hosts: string[];
  datapath: 'kernel' | 'sim';
  /** Serve the repository to the reconciler as a file:// remote instead of a local path. */
  remote?: boolean;
  /** Seconds between fetches of the remote (default 0.5). */
  fetchIntervalSeconds?: number;
  /** Enables POST /v1/webhook with this HMAC secret. */
  webhookSecret?: string;
}

export interface Harness {
  dir: string;
  repo: string;
  signer: SshSigner;
  introduction: string;
  pairs: Map<string, VethPair>;
  url: string;
  startReconciler(): Promise<void>;
  stopReconciler(signal?: NodeJS.Signals): Promise<void>;
  startAgent(host: string): Promise<void>;
  stopAgent(host: string, signal?: NodeJS.Signals): Promise<void>;
  fleet(): Promise<FleetStatus>;
  waitFor(pred: (f: FleetStatus) => boolean, what: string, timeoutMs?: number): Promise<FleetStatus>;
  waitConverged(commit: string, timeoutMs?: number): Promise<FleetStatus>;
  /** Edit files in the work tree, then commit (signed unless signer is null). */
  commit(message: string, edit: (repo: string) => void, signer?: SshSigner | null): string;
  logs(name: string): string;
  /** Runs the bpfleet CLI with the admin token in the environment. */
  cli(...args: string[]): { status: number | null; stdout: string; stderr: string };
  reconcilerStateDir: string;
  cleanup(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export async function createHarness(o: HarnessOptions): Promise<Harness> {
  const dir = tempDir('bpfleet-e2e-');
  const repo = initRepo(join(dir, 'fleet'));
  const signer = makeSshSigner(dir, 'ed25519', 'alice@example.org');
  cpSync(EXAMPLE_REPO, repo, { recursive: true });
  rmSync(join(repo, 'README.md'));
  // Keep only the hosts under test; their interface is the namespace's veth.
  for (const h of ['edge-1', 'edge-2', 'core-1']) if (!o.hosts.includes(h)) rmSync(join(repo, 'hosts', `${h}.yaml`));
  writeAuthorizations(repo, [signer]);
  const pairs = new Map<string, VethPair>();
  if (o.datapath === 'kernel') {
    o.hosts.forEach((h, i) => {
      const pair = createVethPair({ prefix: 'bfe', subnet: 210 + i, extraA: 1 });
      pairs.set(h, pair);
      const f = join(repo, 'hosts', `${h}.yaml`);
      writeFileSync(f, readFileSync(f, 'utf8').replaceAll('name: eth0', `name: ${pair.b.iface}`));
    });
  }
  const introduction = gitCommitSigned(repo, signer, 'fleet: introduce bpfleet');

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const key = join(dir, 'reconciler.key');
  await generateSigningKey(key);
  const adminToken = randomBytes(24).toString('hex');
  const tokens = new Map(o.hosts.map((h) => [h, randomBytes(24).toString('hex')]));
  const reconcilerCfg = join(dir, 'reconciler.yaml');
  writeFileSync(
    reconcilerCfg,
    stringify({
      listen: `127.0.0.1:${port}`,
      stateDir: join(dir, 'reconciler-state'),
      repo: o.remote ? { url: `file://${repo}`, branch: 'main', fetchInterval: o.fetchIntervalSeconds ?? 0.5 } : { path: repo, branch: 'main' },
      ...(o.webhookSecret ? { webhookSecretFile: join(dir, 'webhook.secret') } : {}),
      introduction: { commit: introduction, fingerprint: signer.fingerprint },
      signingKey: key,
      hosts: Object.fromEntries([...tokens].map(([h, t]) => [h, { tokenSha256: sha(t) }])),
      adminTokenSha256: sha(adminToken),
      staleAfterSeconds: 30,
      logLevel: 'debug',
    }),
  );
  if (o.webhookSecret) writeFileSync(join(dir, 'webhook.secret'), o.webhookSecret, { mode: 0o600 });
  for (const [h, t] of tokens) {
    mkdirSync(join(dir, h), { recursive: true });
    writeFileSync(join(dir, h, 'token'), t, { mode: 0o600 });
    const pair = pairs.get(h);
    writeFileSync(
      join(dir, h, 'agent.yaml'),
      stringify({
        host: h,
        reconcilerUrls: [url],
        tokenFile: join(dir, h, 'token'),
        reconcilerPublicKey: `${key}.pub`,
        datapath: o.datapath,
        stateDir: join(dir, h, 'state'),
        selfHeal: true,
        statusInterval: 1,
        ...(pair ? { netns: pair.b.path, pinRoot: `/sys/fs/bpf/${pair.prefix}` } : {}),
        logLevel: 'debug',
      }),
    );
  }

  const procs = new Map<string, ChildProcess>();
  const out = new Map<string, string>();
  const start = (name: string, args: string[]) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BPFLEET_LOG_FORMAT: 'json', NO_COLOR: '1' } });
    const append = (b: Buffer) => out.set(name, (out.get(name) ?? '') + b.toString());
    p.stdout!.on('data', append);
    p.stderr!.on('data', append);
    procs.set(name, p);
    return p;
  };
  const stop = async (name: string, signal: NodeJS.Signals = 'SIGTERM') => {
    const p = procs.get(name);
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
    procs.delete(name);
  };

  const fleet = async (): Promise<FleetStatus> => {
    const r = await request(`${url}/v1/fleet`, { headers: { authorization: `Bearer ${adminToken}` } });
    if (r.statusCode !== 200) throw new Error(`GET /v1/fleet: ${r.statusCode} ${await r.body.text()}`);
    return (await r.body.json()) as FleetStatus;
  };
  const waitFor = async (pred: (f: FleetStatus) => boolean, what: string, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    let last: FleetStatus | undefined;
    let lastErr: unknown;
    while (Date.now() < deadline) {
      try {
        last = await fleet();
        if (pred(last)) return last;
      } catch (err) {
        lastErr = err;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}; last fleet status: ${JSON.stringify(last ?? String(lastErr), null, 1)}\n--- logs ---\n${[...out].map(([n, l]) => `## ${n}\n${l.slice(-4000)}`).join('\n')}`);
  };

  const h: Harness = {
    dir,
    repo,
    signer,
    introduction,
    pairs,
    url,
    async startReconciler() {
      start('reconciler', ['reconciler', '--config', reconcilerCfg]);
      await waitFor(() => true, 'the reconciler to answer', 15_000);
    },
    stopReconciler: (signal) => stop('reconciler', signal),
    async startAgent(host) {
      start(`agent-${host}`, ['agent', '--config', join(dir, host, 'agent.yaml')]);
    },
    stopAgent: (host, signal) => stop(`agent-${host}`, signal),
    fleet,
    waitFor,
    waitConverged: (commit, timeoutMs) =>
      waitFor((f) => f.trust.status === 'authenticated' && f.hosts.length === o.hosts.length && f.hosts.every((x) => x.state === 'converged' && x.reported?.commit === commit), `every host converged on ${commit.slice(0, 12)}`, timeoutMs),
    commit(message, edit, who = signer) {
      edit(repo);
      return gitCommitSigned(repo, who, message);
    },
    logs: (name) => out.get(name) ?? '',
    cli: (...args) => {
      const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, BPFLEET_TOKEN: adminToken, NO_COLOR: '1' } });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    },
    reconcilerStateDir: join(dir, 'reconciler-state'),
    async cleanup() {
      for (const name of [...procs.keys()]) await stop(name, 'SIGTERM');
      for (const [, pair] of pairs) {
        rmSync(`/sys/fs/bpf/${pair.prefix}`, { recursive: true, force: true });
        pair.destroy();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}
