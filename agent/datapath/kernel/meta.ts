// Metadata records kept in pinned one-entry ARRAY maps. bpffs holds only BPF
// objects, and keeping the records there (not in a state file) means they live
// and die with the objects they describe: a reboot clears both, and an update
// is one syscall, so a killed agent never leaves a torn record.

import type { HookPolicy, ParamBinding, MapSpec } from '../../../schemas/desired-state.js';
import type { Hook } from '../../../schemas/desired-state.js';
import type { LiveMember } from '../datapath.js';
import * as bpf from '../libbpf.js';

const META_SIZE = 65536;
const KEY0 = Buffer.alloc(4);

export interface GlobalLocation {
  /** Pin of the internal map (.data/.bss), relative to the hook directory. */
  pin: string;
  offset: number;
  size: number;
}

export interface MemberMeta extends LiveMember {
  bindings: ParamBinding[];
  maps: MapSpec[];
  /** Writable globals of the member by symbol name. */
  globals: Record<string, GlobalLocation>;
  /** Pins (relative to the hook directory) of the member's maps by name. */
  mapPins: Record<string, string>;
  statsPin: string;
}

export interface GenerationMeta {
  generation: number;
  policy: HookPolicy;
  members: MemberMeta[];
}

export type AttachMode = 'xdp-drv' | 'xdp-skb' | 'tcx';

export interface HookMeta {
  iface: string;
  hook: Hook;
  /** Set once the root link exists. */
  ifindex: number;
  attach: AttachMode | null;
  /** Generation whose chain the root's slot points at (0: none yet). */
  active: number;
  lastGeneration: number;
}

export function createMetaMap(): number {
  return bpf.createMap(bpf.BPF_MAP_TYPE.ARRAY, 'bpfleet_meta', 4, META_SIZE, 1);
}

export function writeMeta(fd: number, value: unknown): void {
  const json = Buffer.from(JSON.stringify(value), 'utf8');
  if (json.length >= META_SIZE) {
    throw new Error(`metadata record of ${json.length} bytes exceeds ${META_SIZE}`);
  }
  const buf = Buffer.alloc(META_SIZE);
  json.copy(buf);
  bpf.mapUpdate(fd, KEY0, buf);
}

export function readMetaFd<T>(fd: number): T | null {
  const buf = Buffer.alloc(META_SIZE);
  if (!bpf.mapLookup(fd, KEY0, buf)) return null;
  const end = buf.indexOf(0);
  if (end <= 0) return null;
  return JSON.parse(buf.toString('utf8', 0, end)) as T;
}

/** Reads a pinned record; null when the pin or the record is missing. */
export function readMeta<T>(path: string): T | null {
  const fd = bpf.getPinned(path);
  if (fd === null) return null;
  try {
    return readMetaFd<T>(fd);
  } finally {
    bpf.closeFd(fd);
  }
}

export function writePinnedMeta(path: string, value: unknown): void {
  let fd = bpf.getPinned(path);
  if (fd === null) {
    fd = createMetaMap();
    try {
      writeMeta(fd, value);
      bpf.pin(fd, path);
    } finally {
      bpf.closeFd(fd);
    }
    return;
  }
  try {
    writeMeta(fd, value);
  } finally {
    bpf.closeFd(fd);
  }
}
