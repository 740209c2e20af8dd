// The root program of one hook: loaded and pinned once, attached with a
// bpf_link, never replaced by a chain change. Its slot 0 is the only thing a
// swap writes.

import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { HookPolicy, Hook } from '../../../schemas/desired-state.js';
import { DatapathError } from '../datapath.js';
import * as bpf from '../libbpf.js';
import type { AttachMode } from './meta.js';
import type { InNetns } from './netns.js';
import type { HookPins } from './pins.js';

const ROOT_ENTRY: Record<Hook, string> = { xdp: 'bpfleet_root_xdp', 'tc-ingress': 'bpfleet_root_tc', 'tc-egress': 'bpfleet_root_tc' };
const logBuf = Buffer.allocUnsafe(1 << 20);

/** Loads the root for a hook and pins it (not yet attached). Idempotent: an existing pin is adopted. */
export function ensureRootLoaded(hp: HookPins, hook: Hook, rootObjectDir: string, policy: HookPolicy): void {
  if (existsSync(hp.rootProg) && existsSync(hp.rootSlot) && existsSync(hp.rootBss)) return;
  const path = join(rootObjectDir, 'root.bpf.o');
  if (!existsSync(path)) throw new DatapathError('BadObject', `root object ${path} is missing (run make -C bpf)`, { path });
  const obj = bpf.openObject(readFileSync(path), 'bpfleet_root');
  try {
    for (const p of bpf.programs(obj)) {
      bpf.setAutoload(p, bpf.programName(p) === ROOT_ENTRY[hook]);
      if (bpf.programName(p) === ROOT_ENTRY[hook]) bpf.setLogBuffer(p, logBuf);
    }
    const maps = bpf.maps(obj);
    const bss = maps.find((m) => bpf.mapName(m).endsWith('.bss'));
    if (!bss) throw new DatapathError('BadObject', `root object ${path} has no .bss`, { path });
    const vars = bpf.datasecVars(obj, '.bss');
    const policyVar = vars.get('bpfleet_root_policy');
    // setRootPolicy/readRootPolicy patch the pinned .bss at offset 4; refuse a root built otherwise.
    if (policyVar?.offset !== 4) throw new DatapathError('BadObject', `root object ${path}: bpfleet_root_policy is not at .bss+4`, { path });
    bpf.initialValue(bss).writeUInt32LE(policy === 'drop' ? 1 : 0, policyVar.offset);
    bpf.loadObject(obj, 'root', logBuf);
    const prog = bpf.programs(obj).find((p) => bpf.programName(p) === ROOT_ENTRY[hook])!;
    const byName = (n: string) => maps.find((m) => bpf.mapName(m) === n)!;
    // Pin the prog last: ensureRootLoaded treats the prog pin as "complete".
    bpf.pin(bpf.mapFd(byName('bpfleet_root_slot')), hp.rootSlot);
    bpf.pin(bpf.mapFd(byName('bpfleet_root_stats')), hp.rootStats);
    bpf.pin(bpf.mapFd(bss), hp.rootBss);
    bpf.pin(bpf.programFd(prog), hp.rootProg);
  } finally {
    bpf.closeObject(obj);
  }
}

export function setRootPolicy(hp: HookPins, policy: HookPolicy): void {
  withPinned(hp.rootBss, (fd) => {
    const info = bpf.mapInfo(fd);
    const value = Buffer.alloc(info.valueSize);
    const key = Buffer.alloc(4);
    bpf.mapLookup(fd, key, value);
    // .bss layout of root.bpf.c: bpfleet_root_key @0, bpfleet_root_policy @4.
    const want = policy === 'drop' ? 1 : 0;
    if (value.readUInt32LE(4) === want) return;
    value.writeUInt32LE(want, 4);
    bpf.mapUpdate(fd, key, value);
  });
}

export function readRootPolicy(hp: HookPins): HookPolicy {
  return withPinned(hp.rootBss, (fd) => {
    const value = Buffer.alloc(bpf.mapInfo(fd).valueSize);
    bpf.mapLookup(fd, Buffer.alloc(4), value);
    return value.readUInt32LE(4) === 1 ? 'drop' : 'pass';
  });
}

/** Attaches the pinned root with a bpf_link and pins the link. XDP tries native mode, then generic. */
export function attachRoot(hp: HookPins, iface: string, hook: Hook, inNetns: InNetns): { ifindex: number; attach: AttachMode } {
  return withPinned(hp.rootProg, (progFd) =>
    inNetns(() => {
      const ifindex = bpf.ifindexOf(iface);
      if (!ifindex) throw new DatapathError('InterfaceNotFound', `interface ${iface} not found`, { iface, hook });
      let linkFd: number;
      let attach: AttachMode;
      if (hook === 'xdp') {
        try {
          linkFd = bpf.linkCreate(progFd, ifindex, bpf.BPF_ATTACH_TYPE.XDP, bpf.XDP_FLAGS.DRV_MODE);
          attach = 'xdp-drv';
        } catch (err) {
          const errno = err instanceof DatapathError ? err.data.errno : undefined;
          if (errno !== bpf.ERRNO.EOPNOTSUPP && errno !== bpf.ERRNO.EINVAL) throw err;
          linkFd = bpf.linkCreate(progFd, ifindex, bpf.BPF_ATTACH_TYPE.XDP, bpf.XDP_FLAGS.SKB_MODE);
          attach = 'xdp-skb';
        }
      } else {
        linkFd = bpf.linkCreate(progFd, ifindex, hook === 'tc-ingress' ? bpf.BPF_ATTACH_TYPE.TCX_INGRESS : bpf.BPF_ATTACH_TYPE.TCX_EGRESS);
        attach = 'tcx';
      }
      try {
        bpf.pin(linkFd, hp.rootLink);
      } finally {
        bpf.closeFd(linkFd);
      }
      return { ifindex, attach };
    }),
  );
}

export function detachRoot(hp: HookPins): void {
  const fd = bpf.getPinned(hp.rootLink);
  if (fd === null) return;
  try {
    if (bpf.linkInfo(fd).ifindex) bpf.linkDetach(fd);
  } finally {
    bpf.closeFd(fd);
  }
}

export function withPinned<T>(path: string, fn: (fd: number) => T): T {
  const fd = bpf.getPinned(path);
  if (fd === null) throw new DatapathError('KernelError', `pin ${path} is missing`, { path });
  try {
    return fn(fd);
  } finally {
    bpf.closeFd(fd);
  }
}

export const rootAttached = (hp: HookPins): boolean => existsSync(hp.rootLink);
