// Compares what we pinned with what the kernel runs on each managed hook.
// Read-only: it reports, the agent decides.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Drift, HookRef } from '../datapath.js';
import * as bpf from '../libbpf.js';
import type { GenerationMeta, HookMeta } from './meta.js';
import type { InNetns } from './netns.js';
import { generationPins, type HookPins } from './pins.js';
import { u32 } from './generation.js';

export function hookDrift(ref: HookRef, hp: HookPins, hm: HookMeta, active: GenerationMeta | null, inNetns: InNetns): Drift[] {
  const out: Drift[] = [];
  const add = (kind: Drift['kind'], detail: string) => out.push({ iface: ref.iface, hook: ref.hook, kind, detail });
  const rootProgId = pinnedProgId(hp.rootProg);

  const linkFd = bpf.getPinned(hp.rootLink);
  if (linkFd === null) {
    if (hm.active) add('root-detached', `root link pin ${hp.rootLink} is missing`);
  } else {
    try {
      const link = bpf.linkInfo(linkFd);
      if (!link.ifindex) add('root-detached', `root link ${link.id} is no longer attached to ${ref.iface}`);
    } finally {
      bpf.closeFd(linkFd);
    }
  }

  inNetns(() => {
    const ifindex = bpf.ifindexOf(ref.iface);
    if (!ifindex) return add('root-detached', `interface ${ref.iface} is gone`);
    if (ref.hook === 'xdp') {
      const modes = [['xdp-drv', bpf.XDP_FLAGS.DRV_MODE], ['xdp-skb', bpf.XDP_FLAGS.SKB_MODE]] as const;
      for (const [mode, flag] of modes) {
        const id = bpf.xdpProgId(ifindex, flag);
        if (mode === hm.attach) {
          if (id && id !== rootProgId) add('root-replaced', `XDP (${mode}) on ${ref.iface} runs program ${id}, not our root ${rootProgId}`);
        } else if (id) {
          add('foreign-program', `XDP (${mode}) on ${ref.iface} runs program ${id} that bpfleet did not attach`);
        }
      }
    } else {
      const type = ref.hook === 'tc-ingress' ? bpf.BPF_ATTACH_TYPE.TCX_INGRESS : bpf.BPF_ATTACH_TYPE.TCX_EGRESS;
      const ids = bpf.tcxProgIds(ifindex, type);
      for (const id of ids) {
        if (id !== rootProgId) add('foreign-program', `tcx ${ref.hook} on ${ref.iface} runs program ${id} that bpfleet did not attach`);
      }
      const ours = ids.filter((id) => id === rootProgId).length;
      if (ours > 1) add('foreign-program', `tcx ${ref.hook} on ${ref.iface} runs our root ${ours} times: someone attached it again`);
      if (ours === 0 && hm.attach === 'tcx') add('root-detached', `tcx ${ref.hook} on ${ref.iface} does not run our root ${rootProgId}`);
    }
  });

  if (active) {
    const want = active.members[0]?.progId ?? 0;
    const have = slotProgId(hp);
    if (have !== want) add('slot-empty', `root slot holds program ${have || 'none'}, generation ${active.generation} starts with ${want || 'none'}`);
    const missing = [generationPins(hp, active.generation).chain, ...active.members.flatMap((m) => Object.values(m.mapPins).map((p) => join(hp.dir, p)))].filter((p) => !existsSync(p));
    if (missing.length) add('pins-missing', `missing pins: ${missing.join(', ')}`);
  } else if (hm.active) {
    add('pins-missing', `metadata of active generation ${hm.active} is missing`);
  }
  return out;
}

/** Program id in the root's slot 0 (0 when empty). */
export function slotProgId(hp: HookPins): number {
  const fd = bpf.getPinned(hp.rootSlot);
  if (fd === null) return 0;
  try {
    const v = Buffer.alloc(4);
    return bpf.mapLookup(fd, u32(0), v) ? v.readUInt32LE(0) : 0;
  } finally {
    bpf.closeFd(fd);
  }
}

export function pinnedProgId(path: string): number {
  const fd = bpf.getPinned(path);
  if (fd === null) return 0;
  try {
    return bpf.progInfo(fd).id;
  } finally {
    bpf.closeFd(fd);
  }
}
