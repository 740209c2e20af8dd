// The demo's little lab: throwaway signing key, a signed fleet repository,
// network-namespace "hosts" behind one "gateway" namespace that sends them
// traffic, and the bpfleet processes. Everything it creates it records, and
// teardown() removes exactly that (also on Ctrl-C).

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = new URL('../../../', import.meta.url).pathname;
export const BIN = join(ROOT, 'bin/bpfleet');

export function sh(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): string {
  return execFileSync(cmd, args, { cwd: opts.cwd, input: opts.input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }).trim();
}

/** Why the kernel datapath cannot run here, or null. */
export function kernelUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not running as root';
  try {
    if (Number(statfsSync('/sys/fs/bpf').type) !== 0xcafe4a11) return '/sys/fs/bpf is not a bpffs mount';
  } catch {
    return '/sys/fs/bpf is missing';
  }
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 is not installed';
  return null;
}

export interface DemoHost {
  name: string;
  ns: string;
  /** Address of the host's eth0, and the gateway's addresses facing it. */
  addr: string;
  gwAddr: string;
  blockedSrc: string;
  gwIface: string;
}

export class Lab {
  readonly dir = mkdtempSync(join(tmpdir(), 'bpfleet-demo-'));
  readonly prefix = `bpfd${process.pid.toString(36)}`;
  readonly gwNs = `${this.prefix}-gw`;
  readonly pinRoot = `/sys/fs/bpf/${this.prefix}`;
  private namespaces: string[] = [];
  private procs: ChildProcess[] = [];
  private torn = false;

  /** One namespace per host with eth0, wired to the gateway namespace by a veth pair. */
  addHosts(names: string[]): DemoHost[] {
    sh('ip', ['netns', 'add', this.gwNs]);
    this.namespaces.push(this.gwNs);
    this.nsenter(this.gwNs, 'ip', ['link', 'set', 'lo', 'up']);
    return names.map((name, i) => {
      const ns = `${this.prefix}-h${i}`;
      sh('ip', ['netns', 'add', ns]);
      this.namespaces.push(ns);
      const host: DemoHost = { name, ns, addr: `10.77.${i}.2`, gwAddr: `10.77.${i}.1`, blockedSrc: `198.51.100.${10 + i}`, gwIface: `h${i}` };
      sh('ip', ['link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', host.gwIface, 'netns', this.gwNs]);
      this.nsenter(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1']);
      this.nsenter(ns, 'ip', ['addr', 'add', `${host.addr}/24`, 'dev', 'eth0']);
      this.nsenter(ns, 'ip', ['link', 'set', 'eth0', 'up']);
      this.nsenter(ns, 'ip', ['link', 'set', 'lo', 'up']);
      this.nsenter(ns, 'ip', ['route', 'add', '198.51.100.0/24', 'via', host.gwAddr]);
      this.nsenter(this.gwNs, 'ip', ['addr', 'add', `${host.gwAddr}/24`, 'dev', host.gwIface]);
      this.nsenter(this.gwNs, 'ip', ['addr', 'add', `${host.blockedSrc}/32`, 'dev', host.gwIface]);
      this.nsenter(this.gwNs, 'ip', ['link', 'set', host.gwIface, 'up']);
      return host;
    });
  }

  nsenter(ns: string, cmd: string, args: string[]): string {
    return sh('nsenter', [`--net=/var/run/netns/${ns}`, cmd, ...args]);
  }

  /** Sends `count` pings from the gateway to a host from `src`; returns how many were answered. */
  ping(host: DemoHost, src: string, count: number): number {
    const r = spawnSync('nsenter', [`--net=/var/run/netns/${this.gwNs}`, 'ping', '-q', '-n', '-c', String(count), '-i', '0.01', '-W', '1', '-I', src, host.addr], { encoding: 'utf8' });
    const m = /(\d+) received/.exec(r.stdout);
    return m ? Number(m[1]) : 0;
  }

  /** A fleet repository from examples/repo, authorizing one throwaway SSH key, ready for signed commits. */
  makeRepo(): { repo: string; key: string; fingerprint: string; principal: string } {
    const repo = join(this.dir, 'fleet');
    cpSync(join(ROOT, 'examples/repo'), repo, { recursive: true });
    rmSync(join(repo, 'README.md'), { force: true });
    const key = join(this.dir, 'operator_ed25519');
    const principal = 'operator@demo.bpfleet.dev';
    sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', principal, '-f', key]);
    const [type, b64] = readFileSync(`${key}.pub`, 'utf8').trim().split(/\s+/);
    const fingerprint = sh('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${key}.pub`]).split(/\s+/)[1]!;
    mkdirSync(join(repo, '.bpfleet'), { recursive: true });
    writeFileSync(
      join(repo, '.bpfleet/authorizations'),
      `apiVersion: bpfleet.dev/v1\nkind: Authorizations\nspec:\n  ssh:\n    - '${principal} namespaces="git" ${type} ${b64}'\n  openpgp: []\n`,
    );
    sh('git', ['init', '-q', '-b', 'main', repo]);
    for (const [k, v] of [['user.name', 'Demo Operator'], ['user.email', principal], ['gpg.format', 'ssh'], ['user.signingkey', key], ['commit.gpgsign', 'true']]) {
      sh('git', ['-C', repo, 'config', k!, v!]);
    }
    return { repo, key, fingerprint, principal };
  }

  /** Commits everything in the work tree; signed unless `signed` is false. Returns the commit id. */
  commit(repo: string, message: string, signed = true): string {
    sh('git', ['-C', repo, 'add', '-A']);
    sh('git', ['-C', repo, 'commit', '-q', signed ? '-S' : '--no-gpg-sign', '-m', message]);
    return sh('git', ['-C', repo, 'rev-parse', 'HEAD']);
  }

  start(args: string[], logFile: string): ChildProcess {
    const out = join(this.dir, logFile);
    writeFileSync(out, '');
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, BPFLEET_LOG_FORMAT: 'json' } });
    p.stderr!.on('data', (b: Buffer) => writeFileSync(out, b, { flag: 'a' }));
    this.procs.push(p);
    return p;
  }

  async teardown(keep = false): Promise<void> {
    if (this.torn) return;
    this.torn = true;
    for (const p of this.procs) {
      if (p.exitCode === null && p.signalCode === null) {
        const exited = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      }
    }
    for (const ns of this.namespaces.reverse()) spawnSync('ip', ['netns', 'del', ns]);
    rmSync(this.pinRoot, { recursive: true, force: true });
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
  }
}
