// Real BPF objects for datapath and apply tests. The project's own programs
// (bpf/build/*.bpf.o from `make -C bpf`) are used when bpf/ has sources; until
// then, equivalent sources in ./fixtures are compiled with clang. The object
// the verifier must refuse, and the one without BTF, are always built here.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ObjectSource } from '../../agent/datapath/datapath.js';
import { sha256Hex } from '../../schemas/canonical-json.js';
import type { ChainMember, Hook } from '../../schemas/desired-state.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const fixtureSources = join(here, 'fixtures');

export const PROGRAMS = ['counter', 'blocklist', 'ratelimit'] as const;
export type FixtureProgram = (typeof PROGRAMS)[number];

export interface FixtureObjects {
  /** Where counter/blocklist/ratelimit came from. */
  origin: 'bpf/build' | 'test/datapath/fixtures';
  bytes: Record<FixtureProgram | 'bad' | 'noBtf', Uint8Array>;
  /** Serves every fixture object by digest; unknown digests reject like a missing artifact. */
  source: ObjectSource;
  /** Chain members for a hook, with real digests, entries, bindings and maps. */
  members: FixtureMembers;
  cleanup(): void;
}

export interface FixtureMembers {
  counter(hook: Hook, version?: string): ChainMember;
  blocklist(hook: Hook, prefixes: string[], version?: string): ChainMember;
  ratelimit(hook: Hook, ratePps: number, burst: number, version?: string): ChainMember;
  /** Loads fine as ELF; the verifier refuses it (unchecked packet read; sim: name starts with `bad_`). */
  bad(hook: Hook): ChainMember;
  /** Built without -g: no BTF, so parameters cannot be bound. */
  noBtf(hook: Hook): ChainMember;
}

/** Include dir for <asm/types.h>, which Debian keeps under the multiarch triplet. */
function multiarchInclude(): string[] {
  const triplet = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  const dir = `/usr/include/${triplet}`;
  return existsSync(dir) ? [`-I${dir}`] : [];
}

export function compileBpf(source: string, out: string, debugInfo = true): Uint8Array {
  const args = ['-O2', ...(debugInfo ? ['-g'] : []), '-target', 'bpf', ...multiarchInclude(), '-c', source, '-o', out];
  execFileSync('clang', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return readFileSync(out);
}

function projectObjects(own: (name: string) => Uint8Array): Record<FixtureProgram | 'bad', Uint8Array> | undefined {
  const bpfDir = join(repoRoot, 'bpf');
  const haveSources = PROGRAMS.every((p) => existsSync(join(bpfDir, `${p}.bpf.c`)));
  if (!haveSources || !existsSync(join(bpfDir, 'Makefile'))) return undefined;
  execFileSync('make', ['-C', bpfDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  const out = {} as Record<FixtureProgram | 'bad', Uint8Array>;
  for (const p of PROGRAMS) out[p] = readFileSync(join(bpfDir, 'build', `${p}.bpf.o`));
  // The project's refused object speaks the chain protocol, so the kernel gets as far as its verifier.
  const bad = join(bpfDir, 'build', 'test', 'bad.bpf.o');
  out.bad = existsSync(bad) ? readFileSync(bad) : own('bad');
  return out;
}

export function buildFixtureObjects(): FixtureObjects {
  const dir = mkdtempSync(join(tmpdir(), 'bpfleet-fixtures-'));
  const own = (name: string, debugInfo = true) =>
    compileBpf(join(fixtureSources, `${name}.bpf.c`), join(dir, `${name}${debugInfo ? '' : '-nobtf'}.bpf.o`), debugInfo);
  const project = projectObjects(own);
  const bytes = {
    counter: project?.counter ?? own('counter'),
    blocklist: project?.blocklist ?? own('blocklist'),
    ratelimit: project?.ratelimit ?? own('ratelimit'),
    bad: project?.bad ?? own('bad'),
    noBtf: own('counter', false),
  };
  const byDigest = new Map(Object.values(bytes).map((b) => [sha256Hex(b), b]));
  const source: ObjectSource = async (sha256) => {
    const found = byDigest.get(sha256);
    if (!found) throw new Error(`fixture object ${sha256} not found`);
    return found;
  };
  const ref = (b: Uint8Array) => ({ sha256: sha256Hex(b), size: b.length });
  const entry = (name: string, hook: Hook) => `${name}_${hook === 'xdp' ? 'xdp' : 'tc'}`;
  const members: FixtureMembers = {
    counter: (hook, version = '1.0.0') => ({
      program: 'counter',
      version,
      object: ref(bytes.counter),
      entry: entry('counter', hook),
      params: {},
      bindings: [],
      maps: [{ name: 'counter_stats', persistent: true }],
    }),
    blocklist: (hook, prefixes, version = '1.0.0') => ({
      program: 'blocklist',
      version,
      object: ref(bytes.blocklist),
      entry: entry('blocklist', hook),
      params: { prefixes },
      bindings: [{ kind: 'lpm-prefixes', parameter: 'prefixes', map: 'blocklist_v4' }],
      maps: [{ name: 'blocklist_v4', persistent: false }],
    }),
    ratelimit: (hook, ratePps, burst, version = '1.0.0') => ({
      program: 'ratelimit',
      version,
      object: ref(bytes.ratelimit),
      entry: entry('ratelimit', hook),
      params: { burst, rate_pps: ratePps },
      bindings: [
        { kind: 'global', parameter: 'rate_pps', symbol: 'rate_pps' },
        { kind: 'global', parameter: 'burst', symbol: 'burst' },
      ],
      maps: [{ name: 'ratelimit_buckets', persistent: true }],
    }),
    bad: (hook) => ({
      program: 'bad',
      version: '0.0.1',
      object: ref(bytes.bad),
      entry: entry('bad', hook),
      params: {},
      bindings: [],
      maps: [],
    }),
    noBtf: (hook) => ({
      program: 'counter',
      version: '0.0.0-nobtf',
      object: ref(bytes.noBtf),
      entry: entry('counter', hook),
      params: {},
      bindings: [],
      maps: [{ name: 'counter_stats', persistent: true }],
    }),
  };
  return {
    origin: project ? 'bpf/build' : 'test/datapath/fixtures',
    bytes,
    source,
    members,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
