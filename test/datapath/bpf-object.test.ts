import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfObjectError, EM_BPF, inspectBpfObject } from '../../schemas/bpf-object.js';
import { buildFixtureObjects, compileBpf, type FixtureObjects } from './fixtures.js';

let fx: FixtureObjects;
let dir: string;
beforeAll(() => {
  fx = buildFixtureObjects();
  dir = mkdtempSync(join(tmpdir(), 'bpfleet-inspect-'));
});
afterAll(() => {
  fx.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function codeOf(bytes: Uint8Array): string {
  try {
    inspectBpfObject(bytes);
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(BpfObjectError);
    return (e as BpfObjectError).code;
  }
}

describe('inspectBpfObject on objects clang builds', () => {
  it('lists entry programs, maps, globals, license and BTF of a real object', () => {
    const src = join(dir, 'probe.bpf.c');
    writeFileSync(
      src,
      `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } probe_stats SEC(".maps");
volatile __u64 rate_pps = 7;
__u64 burst;
const volatile __u32 slot_index = 0;
static __attribute__((noinline)) int helper(int x) { return x + (int)slot_index; }
SEC("xdp") int probe_xdp(struct xdp_md *ctx) { __u32 k = 0; __u64 *v = bpf_map_lookup_elem(&probe_stats, &k); if (v) *v += rate_pps + burst; return helper(2); }
SEC("tc") int probe_tc(struct __sk_buff *skb) { return 0; }
char LICENSE[] SEC("license") = "Dual MIT/GPL";
`,
    );
    const info = inspectBpfObject(compileBpf(src, join(dir, 'probe.bpf.o')));
    expect(info.machine).toBe(EM_BPF);
    const sections = Object.fromEntries(info.programs.map((p) => [p.name, p.section]));
    expect(sections).toEqual({ probe_xdp: 'xdp', probe_tc: 'tc' });
    expect(info.programs.every((p) => p.size > 0 && p.size % 8 === 0)).toBe(true);
    // helper() lives in .text: a subprogram, never a loadable entry.
    expect(info.programs.some((p) => p.name === 'helper')).toBe(false);
    expect(info.maps).toEqual(['probe_stats']);
    const globals = Object.fromEntries(info.globals.map((g) => [g.name, g]));
    expect(globals.rate_pps).toMatchObject({ section: '.data', size: 8 });
    expect(globals.burst).toMatchObject({ section: '.bss', size: 8 });
    expect(globals.slot_index).toMatchObject({ section: '.rodata', size: 4 });
    expect(info.license).toBe('Dual MIT/GPL');
    expect(info.hasBtf).toBe(true);
    expect(info.hasBtfExt).toBe(true);
  });

  it('reports the fixtures the datapath tests use', () => {
    const blocklist = inspectBpfObject(fx.bytes.blocklist);
    expect(blocklist.programs.map((p) => p.name).sort()).toEqual(['blocklist_tc', 'blocklist_xdp']);
    expect(blocklist.maps).toContain('blocklist_v4');
    const ratelimit = inspectBpfObject(fx.bytes.ratelimit);
    expect(ratelimit.globals.map((g) => g.name)).toEqual(expect.arrayContaining(['rate_pps', 'burst']));
    expect(ratelimit.maps).toContain('ratelimit_buckets');
  });

  it('says hasBtf:false for an object built without -g', () => {
    const info = inspectBpfObject(fx.bytes.noBtf);
    expect(info.hasBtf).toBe(false);
    expect(info.hasBtfExt).toBe(false);
    expect(info.programs.map((p) => p.name).sort()).toEqual(['counter_tc', 'counter_xdp']);
  });
});

describe('inspectBpfObject on hostile bytes', () => {
  it('refuses random bytes and an empty file as NotElf', () => {
    expect(codeOf(new Uint8Array())).toBe('NotElf');
    const random = randomBytes(4096);
    random[0] = 0;
    expect(codeOf(random)).toBe('NotElf');
  });

  it('refuses an x86 executable as NotBpf, naming the machine it expected', () => {
    const trueBin = readFileSync('/bin/true');
    expect(() => inspectBpfObject(trueBin)).toThrowError(/expected e_machine 247/);
    expect(codeOf(trueBin)).toBe('NotBpf');
  });

  it('refuses every truncation of a real object with a typed error, never a crash', () => {
    const whole = fx.bytes.counter;
    const codes = new Set<string>();
    for (let len = 0; len < whole.length; len += 7) codes.add(codeOf(whole.subarray(0, len)));
    // Short prefixes lack the magic; longer ones cut a header or table.
    expect([...codes].sort()).toEqual(['NotElf', 'Truncated']);
  });

  it('survives random corruption of a real object: only typed errors or a result', () => {
    const whole = fx.bytes.ratelimit;
    for (let round = 0; round < 300; round++) {
      const copy = Uint8Array.from(whole);
      for (let i = 0; i < 8; i++) copy[64 + Math.floor(Math.random() * (copy.length - 64))] = Math.floor(Math.random() * 256);
      // Corrupt the header fields that steer the parser, too.
      if (round % 3 === 0) copy[40 + (round % 24)] = Math.floor(Math.random() * 256);
      const code = codeOf(copy);
      expect(['ok', 'NotBpf', 'Truncated']).toContain(code);
    }
  });

  it('names the offending offset when a section points past the end', () => {
    const copy = Uint8Array.from(fx.bytes.counter);
    const view = new DataView(copy.buffer);
    const shoff = Number(view.getBigUint64(40, true));
    // Section 1's sh_size: make it claim far more bytes than the file holds.
    view.setBigUint64(shoff + 64 + 32, 1n << 40n, true);
    try {
      inspectBpfObject(copy);
      expect.unreachable();
    } catch (e) {
      expect((e as BpfObjectError).code).toBe('Truncated');
      expect((e as BpfObjectError).data).toMatchObject({ what: 'section 1 contents', fileSize: copy.length });
    }
  });
});
