// A fleet on one machine for benchmarks (bench/ cannot import test/): a
// signed Git repository built from examples/repo, one network namespace pair
// per host with the kernel datapath on its veth, `bpfleet reconciler` and
// `bpfleet agent` as real processes, and the UDP traffic tool. Everything it
// creates carries a unique prefix and is removed by close(), also on SIGINT.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, cpSync, existsSync, openSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { generateSigningKey } from '../reconciler/signing/key-files.js';
import type { FleetStatus } from '../schemas/protocol.js';

/** The checkout: bench/ when run by tsx-like loaders, dist/bench/ after tsc. */
const REPO_ROOT = [resolve(import.meta.dirname, '..'), resolve(import.meta.dirname, '..', '..')].find((d) => existsSync(join(d, 'examples', 'repo')))!;
const BIN = join(REPO_ROOT, 'bin', 'bpfleet');
const sh = (cmd: string, args: string[], cwd?: string) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

export interface LabHost {
  name: string;
  prefix: string;
  /** Namespace of the sender (a) and of the host's interface (b). */
  nsA: string;
  nsB: string;
  addrA: string;
  badA: string;
  addrB: string;
}

export interface Lab {
  dir: string;
  repo: string;
  hosts: LabHost[];
  url: string;
  commit(message: string, edit: (repo: string) => void): string;
  fleet(): Promise<FleetStatus>;
  start(name: string): void;
  stop(name: string, signal?: NodeJS.Signals): Promise<void>;
  pid(name: string): number | undefined;
  close(): Promise<void>;
}

function veth(prefix: string, subnet: number): LabHost & { destroy(): void } {
  const h = { name: '', prefix, nsA: `${prefix}-a`, nsB: `${prefix}-b`, addrA: `10.${subnet}.0.1`, badA: `10.${subnet}.0.11`, addrB: `10.${subnet}.0.2` };
  const inNs = (ns: string, ...args: string[]) => sh('nsenter', [`--net=/var/run/netns/${ns}`, ...args]);
  const destroy = () => {
    for (const ns of [h.nsA, h.nsB]) {
      try {
        sh('ip', ['netns', 'del', ns]);
      } catch {
        /* gone */
      }
    }
  };
  sh('ip', ['netns', 'add', h.nsA]);
  sh('ip', ['netns', 'add', h.nsB]);
  sh('ip', ['link', 'add', 'vetha', 'netns', h.nsA, 'address', '02:bf:0a:00:00:01', 'type', 'veth', 'peer', 'name', 'vethb', 'netns', h.nsB, 'address', '02:bf:0b:00:00:01']);
  for (const [ns, ifc, addrs, peer, mac] of [
    [h.nsA, 'vetha', [h.addrA, h.badA], [h.addrB], '02:bf:0b:00:00:01'],
    [h.nsB, 'vethb', [h.addrB], [h.addrA, h.badA], '02:bf:0a:00:00:01'],
  ] as const) {
    inNs(ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', '-w', 'net.ipv6.conf.default.disable_ipv6=1');
    for (const a of addrs) inNs(ns, 'ip', 'addr', 'add', `${a}/24`, 'dev', ifc);
    inNs(ns, 'ip', 'link', 'set', 'dev', ifc, 'arp', 'off', 'up');
    inNs(ns, 'ip', 'link', 'set', 'dev', 'lo', 'up');
    for (const p of peer) inNs(ns, 'ip', 'neigh', 'replace', p, 'lladdr', mac, 'dev', ifc, 'nud', 'permanent');
  }
  return { ...h, destroy };
}

/** Builds a fleet of kernel hosts (processes not started yet); each host's blocklist also blocks its test source badA. */
export async function createLab(hostNames: string[]): Promise<Lab> {
  const dir = mkdtempSync(join(tmpdir(), 'bpfleet-soak-'));
  const repo = join(dir, 'fleet');
  mkdirSync(repo);
  const git = (...args: string[]) => sh('git', ['-c', 'user.name=Soak', '-c', 'user.email=soak@example.invalid', ...args], repo);
  git('init', '-q', '-b', 'main');
  cpSync(join(REPO_ROOT, 'examples', 'repo'), repo, { recursive: true });
  rmSync(join(repo, 'README.md'), { force: true });
  for (const f of ['edge-1', 'edge-2', 'core-1']) if (!hostNames.includes(f)) rmSync(join(repo, 'hosts', `${f}.yaml`));

  const key = join(dir, 'signer');
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'soak@example.org', '-f', key]);
  const [type, b64] = readFileSync(`${key}.pub`, 'utf8').trim().split(/\s+/);
  const fingerprint = sh('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${key}.pub`]).split(/\s+/)[1]!;
  mkdirSync(join(repo, '.bpfleet'), { recursive: true });
  writeFileSync(join(repo, '.bpfleet', 'authorizations'), `apiVersion: bpfleet.dev/v1\nkind: Authorizations\nspec:\n  ssh:\n    - ${JSON.stringify(`soak@example.org namespaces="git" ${type} ${b64} soak@example.org`)}\n  openpgp: []\n`);
  const signed = (message: string) => {
    git('add', '-A');
    git('-c', 'gpg.format=ssh', '-c', `user.signingkey=${key}`, 'commit', '-S', '-q', '--allow-empty', '-m', message);
    return git('rev-parse', 'HEAD');
  };

  const pairs: (LabHost & { destroy(): void })[] = [];
  const cleanupNs = () => pairs.forEach((p) => p.destroy());
  process.once('exit', cleanupNs);
  hostNames.forEach((name, i) => {
    const p = veth(`bfs${process.pid.toString(36)}${randomBytes(2).toString('hex')}`, 220 + i);
    p.name = name;
    pairs.push(p);
    const f = join(repo, 'hosts', `${name}.yaml`);
    // The host's interface is the namespace's veth; the test's bad source is blocked by every chain version.
    writeFileSync(f, readFileSync(f, 'utf8').replaceAll('name: eth0', 'name: vethb').replace(/prefixes: \[([^\]]*)\]/, `prefixes: [$1, ${p.badA}/32]`));
  });
  const introduction = signed('fleet: introduce bpfleet (soak)');

  const port = await new Promise<number>((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  await generateSigningKey(join(dir, 'reconciler.key'));
  const admin = randomBytes(24).toString('hex');
  const tokens = new Map(hostNames.map((h) => [h, randomBytes(24).toString('hex')]));
  writeFileSync(
    join(dir, 'reconciler.yaml'),
    stringify({
      listen: `127.0.0.1:${port}`,
      stateDir: join(dir, 'reconciler-state'),
      repo: { path: repo, branch: 'main' },
      introduction: { commit: introduction, fingerprint },
      signingKey: join(dir, 'reconciler.key'),
      hosts: Object.fromEntries([...tokens].map(([h, t]) => [h, { tokenSha256: sha(t) }])),
      adminTokenSha256: sha(admin),
      staleAfterSeconds: 30,
      logLevel: 'info',
    }),
  );
  for (const p of pairs) {
    mkdirSync(join(dir, p.name), { recursive: true });
    writeFileSync(join(dir, p.name, 'token'), tokens.get(p.name)!, { mode: 0o600 });
    writeFileSync(
      join(dir, p.name, 'agent.yaml'),
      stringify({
        host: p.name,
        reconcilerUrls: [url],
        tokenFile: join(dir, p.name, 'token'),
        reconcilerPublicKey: join(dir, 'reconciler.key.pub'),
        datapath: 'kernel',
        stateDir: join(dir, p.name, 'state'),
        selfHeal: true,
        statusInterval: 1,
        netns: `/var/run/netns/${p.nsB}`,
        pinRoot: `/sys/fs/bpf/${p.prefix}`,
        logLevel: 'info',
      }),
    );
  }

  const procs = new Map<string, ChildProcess>();
  const start = (name: string) => {
    const args = name === 'reconciler' ? ['reconciler', '--config', join(dir, 'reconciler.yaml')] : ['agent', '--config', join(dir, name, 'agent.yaml')];
    // Control plane on CPU 0; the traffic sender gets CPU 1.
    const log = openSync(join(dir, `${name}.log`), 'a');
    const p = spawn('taskset', ['-c', '0', process.execPath, BIN, ...args], { stdio: ['ignore', log, log], env: { ...process.env, BPFLEET_LOG_FORMAT: 'json' } });
    closeSync(log);
    procs.set(name, p);
  };
  const stop = async (name: string, signal: NodeJS.Signals = 'SIGTERM') => {
    const p = procs.get(name);
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await gone;
  };
  const fleet = async (): Promise<FleetStatus> => {
    const r = await fetch(`${url}/v1/fleet`, { headers: { authorization: `Bearer ${admin}` } });
    if (r.status !== 200) throw new Error(`GET /v1/fleet: ${r.status}`);
    return (await r.json()) as FleetStatus;
  };

  return {
    dir,
    repo,
    hosts: pairs,
    url,
    commit(message, edit) {
      edit(repo);
      return signed(message);
    },
    fleet,
    start,
    stop,
    pid: (name) => procs.get(name)?.pid,
    async close() {
      for (const name of [...procs.keys()]) await stop(name);
      for (const p of pairs) rmSync(`/sys/fs/bpf/${p.prefix}`, { recursive: true, force: true });
      cleanupNs();
      if (!process.env.SOAK_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
}

// --- traffic ----------------------------------------------------------------

export interface TrafficResult {
  sent: { sentGood: number; sentBad: number; retries: number };
  received: { good: number; bad: number; dup: number; maxSeq: number };
}

/** The traffic tool of the kernel tests (C source in the repository), built once into the temp dir. */
export function trafficBinary(): string {
  const src = join(REPO_ROOT, 'test', 'datapath-kernel', 'traffic.c');
  const bin = join(tmpdir(), `bpfleet-traffic-${createHash('sha256').update(readFileSync(src)).digest('hex').slice(0, 12)}`);
  if (!existsSync(bin)) sh('cc', ['-O2', '-Wall', '-o', bin, src]);
  return bin;
}

function runTool<T>(ns: string, cpu: number, args: string[]): Promise<{ stop(): Promise<T> }> {
  const child = spawn('nsenter', [`--net=/var/run/netns/${ns}`, 'taskset', '-c', String(cpu), trafficBinary(), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let ready = false;
  return new Promise((res, rej) => {
    const early = (code: number | null) => rej(new Error(`traffic ${args[0]} exited early (${code})`));
    child.once('exit', early);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (ready || !out.startsWith('ready\n')) return;
      ready = true;
      child.off('exit', early);
      res({
        stop: () =>
          new Promise<T>((ok) => {
            // 'close', not 'exit': by then all of stdout (the final JSON) has been read.
            child.once('close', () => ok(JSON.parse(out.slice(6)) as T));
            child.kill('SIGINT');
          }),
      });
    });
  });
}

/** Receiver on the host side, sender pinned to `senderCpu`; every `badEvery`-th packet from the blocked source. */
export async function startTraffic(h: LabHost, opts: { senderCpu: number; badEvery: number }) {
  const PORT = '7999';
  const receiver = await runTool<TrafficResult['received']>(h.nsB, 0, ['recv', h.addrB, PORT]);
  const sender = await runTool<TrafficResult['sent']>(h.nsA, opts.senderCpu, ['send', h.addrA, h.badA, h.addrB, PORT, String(opts.badEvery), '0']);
  return {
    async stop(): Promise<TrafficResult> {
      const sent = await sender.stop();
      await new Promise((r) => setTimeout(r, 300));
      return { sent, received: await receiver.stop() };
    },
  };
}

export function rssMiB(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : null;
  } catch {
    return null;
  }
}
