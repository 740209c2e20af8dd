// Loads one chain member into a generation: open the ELF, keep only the entry
// program, wire its bpfleet_chain to the generation's prog array, reuse pinned
// state (persistent maps, counters), set slot and parameters, load, pin.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ChainMember, Hook } from '../../../schemas/desired-state.js';
import { canonicalHash } from '../../../schemas/canonical-json.js';
import { DatapathError } from '../datapath.js';
import * as bpf from '../libbpf.js';
import type { GlobalLocation, MemberMeta } from './meta.js';
import { encodeGlobal, encodeLpmKeys, fillLpm } from './params.js';
import { memberMapPin, persistentMapPin, statsPin } from './pins.js';

const CHAIN_MAP = 'bpfleet_chain';
const STATS_MAP = 'bpfleet_stats';
const logBuf = Buffer.allocUnsafe(4 << 20);

export interface LoadedMember {
  meta: MemberMeta;
  /** Open fd of the member's program; the caller closes it. */
  progFd: number;
}

export interface MemberLoad {
  hookDir: string;
  hook: Hook;
  generation: number;
  index: number;
  chainLength: number;
  chainFd: number;
  member: ChainMember;
  bytes: Uint8Array;
}

function internalKind(name: string): '.data' | '.bss' | '.rodata' | null {
  for (const k of ['.rodata', '.data', '.bss'] as const) if (name.endsWith(k)) return k;
  return null;
}

export function loadMember(l: MemberLoad): LoadedMember {
  const { member, index } = l;
  const where = { program: member.program, version: member.version, member: index };
  const obj = bpf.openObject(l.bytes, member.program.slice(0, 15));
  const fdsToClose: number[] = [];
  try {
    const progs = bpf.programs(obj);
    const entry = progs.find((p) => bpf.programName(p) === member.entry);
    if (!entry) throw new DatapathError('EntryNotFound', `${member.program}@${member.version} has no program ${member.entry}`, { ...where, entry: member.entry, available: progs.map(bpf.programName) });
    const wantType = l.hook === 'xdp' ? bpf.BPF_PROG_TYPE.XDP : bpf.BPF_PROG_TYPE.SCHED_CLS;
    if (bpf.programType(entry) !== wantType) throw new DatapathError('BadObject', `${member.entry} is not a ${l.hook} program`, { ...where, entry: member.entry });
    // Entries of other hooks share bpfleet_chain; a prog array accepts one program type.
    for (const p of progs) bpf.setAutoload(p, p === entry);
    bpf.setLogBuffer(entry, logBuf);

    const globals: Record<string, GlobalLocation> = {};
    const mapPins: Record<string, string> = {};
    const toPin: { fd: () => number; pin: string }[] = [];
    const afterLoad: (() => void)[] = [];
    const sPin = statsPin(index, member.program, member.version);
    let hasChain = false;

    for (const m of bpf.maps(obj)) {
      const name = bpf.mapName(m);
      const kind = internalKind(name);
      if (name === CHAIN_MAP) {
        bpf.reuseMapFd(m, l.chainFd);
        hasChain = true;
      } else if (name === STATS_MAP) {
        reuseOrPin(m, l.hookDir, sPin, toPin, fdsToClose);
      } else if (kind === '.rodata') {
        const vars = bpf.datasecVars(obj, '.rodata');
        const init = bpf.initialValue(m);
        writeU32(init, vars.get('bpfleet_slot'), index);
        writeU32(init, vars.get('bpfleet_chain_len'), l.chainLength);
      } else if (kind) {
        const pin = memberMapPin(l.generation, index, kind.slice(1));
        const init = bpf.initialValue(m);
        for (const [sym, v] of bpf.datasecVars(obj, kind)) globals[sym] = { pin, offset: v.offset, size: v.size };
        for (const b of member.bindings) {
          const loc = b.kind === 'global' ? globals[b.symbol] : undefined;
          if (loc) encodeGlobal(b.parameter, member.params[b.parameter], loc.size).copy(init, loc.offset);
        }
        mapPins[name] = pin;
        toPin.push({ fd: () => bpf.mapFd(m), pin });
      } else if (member.maps.some((s) => s.name === name && s.persistent)) {
        const pin = persistentMapPin(member.program, name);
        mapPins[name] = pin;
        reuseOrPin(m, l.hookDir, pin, toPin, fdsToClose);
      } else {
        const pin = memberMapPin(l.generation, index, name);
        mapPins[name] = pin;
        toPin.push({ fd: () => bpf.mapFd(m), pin });
      }
      for (const b of member.bindings) {
        if (b.kind === 'lpm-prefixes' && b.map === name) {
          const keys = encodeLpmKeys(b.parameter, member.params[b.parameter] ?? []);
          afterLoad.push(() => fillLpm(bpf.mapFd(m), keys));
        }
      }
    }
    if (!hasChain) throw new DatapathError('BadObject', `${member.program}@${member.version} lacks the ${CHAIN_MAP} map (include bpfleet.h)`, where);
    for (const b of member.bindings) {
      if (b.kind === 'global' && !globals[b.symbol]) throw new DatapathError('BadParameter', `${member.program}@${member.version} has no writable global ${b.symbol} for parameter ${b.parameter}`, { ...where, symbol: b.symbol });
      if (b.kind === 'lpm-prefixes' && !mapPins[b.map]) throw new DatapathError('BadParameter', `${member.program}@${member.version} has no map ${b.map} for parameter ${b.parameter}`, { ...where, map: b.map });
    }

    bpf.loadObject(obj, `${member.program}@${member.version}`, logBuf);
    for (const f of afterLoad) f();
    for (const p of toPin) bpf.pin(p.fd(), join(l.hookDir, p.pin));

    const progFd = dup(bpf.programFd(entry));
    const info = bpf.progInfo(progFd);
    return {
      progFd,
      meta: {
        program: member.program,
        version: member.version,
        sha256: member.object.sha256,
        entry: member.entry,
        paramsHash: canonicalHash(member.params),
        progId: info.id,
        tag: info.tag,
        bindings: member.bindings,
        maps: member.maps,
        globals,
        mapPins,
        statsPin: sPin,
      },
    };
  } catch (err) {
    if (err instanceof DatapathError) Object.assign(err.data, { program: member.program, version: member.version, member: index });
    throw err;
  } finally {
    bpf.closeObject(obj);
    for (const fd of fdsToClose) bpf.closeFd(fd);
  }
}

/** Reuses the map pinned at path, or pins the new map there after load. */
function reuseOrPin(m: bpf.BpfMap, hookDir: string, pin: string, toPin: { fd: () => number; pin: string }[], fds: number[]): void {
  const path = join(hookDir, pin);
  const fd = existsSync(path) ? bpf.getPinned(path) : null;
  if (fd !== null) {
    fds.push(fd);
    bpf.reuseMapFd(m, fd);
  } else {
    toPin.push({ fd: () => bpf.mapFd(m), pin });
  }
}

function writeU32(buf: Buffer, v: { offset: number } | undefined, value: number): void {
  if (v) buf.writeUInt32LE(value, v.offset);
}

/** The program outlives bpf_object__close only through the prog array; keep our own fd for the root slot. */
function dup(fd: number): number {
  return bpf.dupFd(fd);
}
