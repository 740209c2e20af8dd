// Test helper: two fresh network namespaces joined by a veth pair, with
// addresses this helper assigns itself. Every name carries a unique prefix so
// parallel runs and other engineers' tests never collide; destroy() (also run
// on process exit) removes both namespaces and with them the veth pair.
//
// Enter a namespace with `nsenter --net=<path>` (see nsExec): `ip netns exec`
// remounts /sys and hides /sys/fs/bpf.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface NetnsSide {
  /** Namespace name (under /var/run/netns). */
  ns: string;
  /** Path to pass to nsenter --net= or to a datapath's netns option. */
  path: string;
  iface: string;
  /** First address is the primary one; the others are extra source addresses. */
  addrs: string[];
  mac: string;
}

export interface VethPair {
  prefix: string;
  a: NetnsSide;
  b: NetnsSide;
  destroy(): void;
}

export interface VethOptions {
  /** Name prefix; a random suffix is always added. */
  prefix?: string;
  /** Second octet of the 10.x.0.0/24 test subnet (private to the namespaces). */
  subnet?: number;
  /** Extra addresses on side a (e.g. a source that every chain must drop). */
  extraA?: number;
}

const live = new Set<VethPair>();
process.once('exit', () => {
  for (const p of live) p.destroy();
});

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

/** Runs a command inside a namespace, the way the project enters namespaces. */
export function nsExec(side: Pick<NetnsSide, 'path'>, cmd: string, args: string[]): string {
  return execFileSync('nsenter', [`--net=${side.path}`, cmd, ...args], { encoding: 'utf8' });
}

export function createVethPair(opts: VethOptions = {}): VethPair {
  const prefix = `${opts.prefix ?? 'bft'}${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
  const subnet = opts.subnet ?? 201;
  const side = (s: 'a' | 'b', host: number, extra: number): NetnsSide => ({
    ns: `${prefix}-${s}`,
    path: `/var/run/netns/${prefix}-${s}`,
    iface: `veth${s}`,
    addrs: [host, ...Array.from({ length: extra }, (_, i) => host + 10 + i)].map((h) => `10.${subnet}.0.${h}`),
    mac: `02:bf:${s === 'a' ? '0a' : '0b'}:00:00:01`,
  });
  const a = side('a', 1, opts.extraA ?? 0);
  const b = side('b', 2, 0);
  let destroyed = false;
  const pair: VethPair = {
    prefix,
    a,
    b,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      live.delete(pair);
      for (const s of [a, b]) {
        try {
          ip('netns', 'del', s.ns);
        } catch {
          /* already gone */
        }
      }
    },
  };
  live.add(pair);
  try {
    ip('netns', 'add', a.ns);
    ip('netns', 'add', b.ns);
    ip('link', 'add', a.iface, 'netns', a.ns, 'address', a.mac, 'type', 'veth', 'peer', 'name', b.iface, 'netns', b.ns, 'address', b.mac);
    for (const [s, peer] of [[a, b], [b, a]] as const) {
      // No IPv6 and no ARP: only the test's own packets cross the veth, so counters are exact.
      nsExec(s, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', '-w', 'net.ipv6.conf.default.disable_ipv6=1']);
      for (const addr of s.addrs) nsExec(s, 'ip', ['addr', 'add', `${addr}/24`, 'dev', s.iface]);
      nsExec(s, 'ip', ['link', 'set', 'dev', s.iface, 'arp', 'off', 'up']);
      nsExec(s, 'ip', ['link', 'set', 'dev', 'lo', 'up']);
      for (const addr of peer.addrs) nsExec(s, 'ip', ['neigh', 'replace', addr, 'lladdr', peer.mac, 'dev', s.iface, 'nud', 'permanent']);
    }
  } catch (err) {
    pair.destroy();
    throw err;
  }
  return pair;
}
