// Parameter checks and writes shared by stage() and updateParams(): what the
// kernel datapath does through BTF, the sim does against the ELF symbols.

import type { BpfObjectInfo } from '../../../schemas/bpf-object.js';
import type { ChainMember } from '../../../schemas/desired-state.js';
import { DatapathError } from '../datapath.js';
import type { SimMap } from './state.js';

const CIDR_V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Parses `a.b.c.d/len` to a 32-bit network and prefix length; undefined when malformed. */
export function parseCidrV4(text: string): { network: number; length: number } | undefined {
  const m = CIDR_V4.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const length = Number(m[5]);
  if (octets.some((o) => o > 255) || length > 32) return undefined;
  const addr = octets.reduce((acc, o) => acc * 256 + o, 0);
  return { network: length === 0 ? 0 : addr - (addr % 2 ** (32 - length)), length };
}

export function ipv4ToNumber(text: string): number | undefined {
  return parseCidrV4(`${text}/32`)?.network;
}

/** Whether any CIDR in an LPM sim map covers `src` (an IPv4 address). */
export function lpmMatches(map: SimMap, src: string): boolean {
  const addr = ipv4ToNumber(src);
  if (addr === undefined) return false;
  for (const key of map.keys()) {
    const cidr = parseCidrV4(key);
    if (cidr && addr - (addr % 2 ** (32 - cidr.length)) === cidr.network) return true;
  }
  return false;
}

export interface ParamWrites {
  globals: Map<string, number>;
  /** Map name → its complete new content. */
  lpm: Map<string, SimMap>;
}

/**
 * Check a member's bindings against its object and params and compute what
 * to write. Throws BadParameter naming the parameter; writes nothing itself,
 * so callers can check a whole chain before changing any of it.
 */
export function resolveParams(
  member: ChainMember,
  info: BpfObjectInfo,
  where: Record<string, unknown>,
): ParamWrites {
  const writes: ParamWrites = { globals: new Map(), lpm: new Map() };
  const bad = (parameter: string, message: string) =>
    new DatapathError('BadParameter', `${member.program}@${member.version}: parameter ${parameter}: ${message}`, {
      ...where,
      parameter,
    });
  for (const binding of member.bindings) {
    const value = member.params[binding.parameter];
    if (value === undefined) throw bad(binding.parameter, 'no value given');
    if (binding.kind === 'global') {
      const symbol = info.globals.find((g) => g.name === binding.symbol);
      if (!symbol || symbol.section === '.rodata') {
        throw bad(binding.parameter, `expected a writable global ${binding.symbol} in .data or .bss of the object`);
      }
      const max = symbol.size >= 7 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * symbol.size) - 1;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
        throw bad(binding.parameter, `expected an integer 0..${max} for the ${symbol.size}-byte global ${binding.symbol}, got ${JSON.stringify(value)}`);
      }
      writes.globals.set(binding.symbol, value);
    } else {
      if (!info.maps.includes(binding.map)) {
        throw bad(binding.parameter, `expected an LPM map ${binding.map} in the object`);
      }
      if (!Array.isArray(value)) throw bad(binding.parameter, `expected a list of IPv4 CIDRs, got ${JSON.stringify(value)}`);
      const content: SimMap = new Map();
      for (const item of value) {
        if (typeof item !== 'string' || !parseCidrV4(item)) {
          throw bad(binding.parameter, `expected an IPv4 CIDR like 10.0.0.0/8, got ${JSON.stringify(item)}`);
        }
        content.set(item, 1);
      }
      writes.lpm.set(binding.map, content);
    }
  }
  return writes;
}
