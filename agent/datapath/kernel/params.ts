// Parameter values → kernel bytes. Encoding is pure (tested without a kernel);
// the write helpers patch a pinned .data/.bss value or refill an LPM trie in
// place, so a parameter-only change needs no reload and keeps all state.

import { join } from 'node:path';
import { DatapathError } from '../datapath.js';
import * as bpf from '../libbpf.js';
import type { GlobalLocation } from './meta.js';

/** Little-endian bytes of an integer global of 1, 2, 4 or 8 bytes. */
export function encodeGlobal(parameter: string, value: unknown, size: number): Buffer {
  let n: bigint;
  if (typeof value === 'bigint') n = value;
  else if (typeof value === 'number' && Number.isInteger(value)) n = BigInt(value);
  else if (typeof value === 'boolean') n = value ? 1n : 0n;
  else throw new DatapathError('BadParameter', `parameter ${parameter} must be an integer, got ${JSON.stringify(value)}`, { parameter });
  const bits = BigInt(size * 8);
  // Bound globals are counts and rates; a negative value would wrap to a huge unsigned one.
  if (n < 0n) throw new DatapathError('BadParameter', `parameter ${parameter}=${n} must not be negative`, { parameter, size });
  if (![1, 2, 4, 8].includes(size) || n >= 1n << bits) {
    throw new DatapathError('BadParameter', `parameter ${parameter}=${n} does not fit a ${size}-byte global`, { parameter, size });
  }
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64LE(BigInt.asUintN(64, n));
  return buf.subarray(0, size);
}

/** `{ __u32 prefixlen; __u8 addr[4]; }` keys of IPv4 CIDRs ("10.0.0.0/8"; a bare address is /32). */
export function encodeLpmKeys(parameter: string, value: unknown): Buffer[] {
  if (!Array.isArray(value)) {
    throw new DatapathError('BadParameter', `parameter ${parameter} must be a list of IPv4 CIDRs`, { parameter });
  }
  return value.map((cidr) => {
    const m = typeof cidr === 'string' ? /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(cidr) : null;
    const octets = m ? m.slice(1, 5).map(Number) : [];
    const len = m?.[5] === undefined ? 32 : Number(m[5]);
    if (!m || octets.some((o) => o > 255) || len > 32) {
      throw new DatapathError('BadParameter', `parameter ${parameter}: ${JSON.stringify(cidr)} is not an IPv4 CIDR`, { parameter, value: cidr });
    }
    const key = Buffer.alloc(8);
    key.writeUInt32LE(len, 0);
    // Bits past the prefix are zeroed so "10.1.2.3/8" and "10.0.0.0/8" are one key.
    const addr = len === 0 ? 0 : (((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0) & (~0 << (32 - len));
    key.writeUInt32BE(addr >>> 0, 4);
    return key;
  });
}

/** Patches globals in an internal map value: one read, one whole-value write. */
export function writeGlobals(hookDir: string, writes: { loc: GlobalLocation; bytes: Buffer }[]): void {
  const byPin = new Map<string, { loc: GlobalLocation; bytes: Buffer }[]>();
  for (const w of writes) byPin.set(w.loc.pin, [...(byPin.get(w.loc.pin) ?? []), w]);
  for (const [pin, ws] of byPin) {
    const fd = bpf.getPinned(join(hookDir, pin));
    if (fd === null) throw new DatapathError('KernelError', `pinned globals ${pin} are missing`, { pin });
    try {
      const size = bpf.mapInfo(fd).valueSize;
      const value = Buffer.alloc(size);
      const key = Buffer.alloc(4);
      bpf.mapLookup(fd, key, value);
      for (const w of ws) w.bytes.copy(value, w.loc.offset);
      bpf.mapUpdate(fd, key, value);
    } finally {
      bpf.closeFd(fd);
    }
  }
}

/** Replaces an LPM trie's content: insert the new keys first, then delete the stale ones, so no listed prefix is ever missing. */
export function fillLpm(fd: number, keys: Buffer[]): void {
  const one = Buffer.from([1]);
  const wanted = new Set(keys.map((k) => k.toString('hex')));
  for (const k of keys) bpf.mapUpdate(fd, k, one);
  for (const k of bpf.mapKeys(fd, 8)) if (!wanted.has(k.toString('hex'))) bpf.mapDelete(fd, k);
}
