// Shared set-up of the kernel tests: the example objects from bpf/build, chain
// states built from them, and the check that this machine can run BPF (a
// missing capability fails the suite under CI instead of skipping it).

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ChainMember, Hook, HookPolicy, HookState } from '../../schemas/desired-state.js';
import type { ObjectSource } from '../../agent/datapath/datapath.js';

export const REPO = resolve(import.meta.dirname, '../..');
export const BUILD = join(REPO, 'bpf/build');

/** Why BPF cannot run here, or null when it can. */
export function bpfUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  try {
    if (Number(statfsSync('/sys/fs/bpf').type) !== 0xcafe4a11) return '/sys/fs/bpf is not a bpffs';
  } catch {
    return '/sys/fs/bpf is missing';
  }
  return null;
}

const why = bpfUnavailable();
if (why && process.env.CI) throw new Error(`kernel datapath tests need BPF but ${why}`);
/** True when the suite must be skipped (never under CI: see above). */
export const skipKernel = why !== null;

export function buildBpf(): void {
  execFileSync('make', ['-s', '-C', join(REPO, 'bpf')], { stdio: 'inherit' });
}

const objectCache = new Map<string, Uint8Array>();

export function objectFile(name: string): { bytes: Uint8Array; sha256: string } {
  const bytes = readFileSync(join(BUILD, name));
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  objectCache.set(sha256, bytes);
  return { bytes, sha256 };
}

export const objects: ObjectSource = async (sha) => {
  const b = objectCache.get(sha);
  if (!b) throw new Error(`unknown object ${sha}`);
  return b;
};

export function member(file: string, program: string, version: string, hook: Hook, extra: Partial<ChainMember> = {}): ChainMember {
  const o = objectFile(file);
  const suffix = hook === 'xdp' ? 'xdp' : 'tc';
  return { program, version, object: { sha256: o.sha256, size: o.bytes.byteLength }, entry: `${program}_${suffix}`, params: {}, bindings: [], maps: [], ...extra };
}

export interface ChainParams {
  blocked: string[];
  ratePps: number;
  burst: number;
}

/** blocklist → ratelimit → counter, the chain of the task's tests. */
export function exampleChain(hook: Hook, p: ChainParams, policy: HookPolicy = 'pass', version = '1.0.0'): HookState {
  return {
    hook,
    policy,
    chain: [
      member('blocklist.bpf.o', 'blocklist', version, hook, {
        params: { blocked: p.blocked },
        bindings: [{ kind: 'lpm-prefixes', parameter: 'blocked', map: 'blocklist_v4' }],
        maps: [{ name: 'blocklist_v4', persistent: false }],
      }),
      member('ratelimit.bpf.o', 'ratelimit', version, hook, {
        params: { burst: p.burst, rate_pps: p.ratePps },
        bindings: [
          { kind: 'global', parameter: 'rate_pps', symbol: 'rate_pps' },
          { kind: 'global', parameter: 'burst', symbol: 'burst' },
        ],
        maps: [{ name: 'ratelimit_buckets', persistent: true }],
      }),
      member('counter.bpf.o', 'counter', version, hook, { maps: [{ name: 'counter_stats', persistent: true }] }),
    ],
  };
}

export function uniquePinRoot(tag: string): string {
  return `/sys/fs/bpf/bpfleet-test-${tag}-${process.pid}`;
}

export function exists(path: string): boolean {
  return existsSync(path);
}
