// The kernel Datapath: chains by tail call behind one pinned root per hook,
// swapped with one bpf_map_update_elem on the root's slot 0. The protocol
// (pin layout, order of operations, recovery) is in docs/swap-protocol.md.

import { statfsSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HOOKS, type ChainMember, type HookState } from '../../../schemas/desired-state.js';
import { canonicalHash } from '../../../schemas/canonical-json.js';
import {
  DatapathError,
  type Datapath,
  type Drift,
  type HookCounters,
  type HookRef,
  type LiveHook,
  type LiveMember,
  type ObjectSource,
  type StagedGeneration,
} from '../datapath.js';
import * as bpf from '../libbpf.js';
import { readMemberCounters, readRootCounters, type RootCounters } from './counters.js';
import { hookDrift, slotProgId } from './drift.js';
import { releaseGeneration, stageGeneration, u32 } from './generation.js';
import { readMeta, writePinnedMeta, type GenerationMeta, type HookMeta, type MemberMeta } from './meta.js';
import { netnsRunner } from './netns.js';
import { encodeGlobal, encodeLpmKeys, fillLpm, writeGlobals } from './params.js';
import { ensureDir, generationPins, hookPins, listDir, listGenerations, removePins, type HookPins } from './pins.js';
import { attachRoot, detachRoot, ensureRootLoaded, readRootPolicy, setRootPolicy, withPinned } from './root.js';

const BPF_FS_MAGIC = 0xcafe4a11;

export interface KernelDatapathOptions {
  host: string;
  /** bpffs directory that holds every pin; default /sys/fs/bpf/bpfleet. */
  pinRoot?: string;
  /** Network namespace (e.g. /var/run/netns/X) whose interfaces the hooks are on. */
  netns?: string;
  /** Directory with root.bpf.o; default bpf/build. */
  rootObjectDir?: string;
  /** How long a replaced generation stays loaded for packets still inside it; default 2000 ms. */
  graceMs?: number;
}

/** The kernel datapath plus read-outs the tests and benchmarks need. */
export interface KernelDatapath extends Datapath {
  readonly kind: 'kernel';
  /** Root counters of a hook: packets entered and packets that found no chain. */
  rootCounters(ref: HookRef): RootCounters;
  /** bpffs directory of a hook's pins. */
  hookDir(ref: HookRef): string;
  /** Releases replaced generations now instead of after the grace period. */
  flushReleases(): void;
  /** Duration of the last swap itself (the one slot update), in µs. */
  lastSwapUs(): number;
}

interface StagedHandle {
  ref: HookRef;
  hp: HookPins;
  meta: GenerationMeta;
  headFd: number;
}

export async function createKernelDatapath(opts: KernelDatapathOptions): Promise<KernelDatapath> {
  const pinRoot = resolve(opts.pinRoot ?? '/sys/fs/bpf/bpfleet');
  const rootObjectDir = resolve(opts.rootObjectDir ?? defaultRootObjectDir());
  const graceMs = opts.graceMs ?? 2000;
  checkBpffs(pinRoot);
  const ns = netnsRunner(opts.netns);
  const staged = new Map<StagedGeneration, StagedHandle>();
  const releases = new Map<string, { timer: NodeJS.Timeout; run: () => void }>();
  const pinsOf = (ref: HookRef) => hookPins(pinRoot, opts.host, ref);
  const hostDir = join(pinRoot, opts.host);

  function managedHooks(): HookRef[] {
    const refs: HookRef[] = [];
    for (const iface of listDir(hostDir)) {
      for (const hook of HOOKS) if (existsSync(hookPins(pinRoot, opts.host, { iface, hook }).hookMeta)) refs.push({ iface, hook });
    }
    return refs;
  }

  // Generation records are immutable apart from paramsHash, so the fields used
  // to match and collect (progId, statsPin) are cached; paramsHash is re-read.
  const metaCache = new Map<string, GenerationMeta>();
  const generations = (hp: HookPins) =>
    listGenerations(hp).flatMap((n) => {
      const path = generationPins(hp, n).meta;
      let m = metaCache.get(path);
      if (!m) {
        m = readMeta<GenerationMeta>(path) ?? undefined;
        if (m) metaCache.set(path, m);
      }
      return m ? [m] : [];
    });
  const fresh = (hp: HookPins, g: GenerationMeta | null | undefined) => (g ? readMeta<GenerationMeta>(generationPins(hp, g.generation).meta) : null);
  const forget = (hp: HookPins, n: number) => metaCache.delete(generationPins(hp, n).meta);

  /** The generation the kernel runs: the one whose head sits in the root's slot 0. */
  function activeGeneration(hp: HookPins, hm: HookMeta): GenerationMeta | null {
    const gens = generations(hp);
    const slot = slotProgId(hp);
    if (slot) return fresh(hp, gens.find((g) => g.members[0]?.progId === slot));
    const rec = gens.find((g) => g.generation === hm.active);
    return rec && rec.members.length === 0 ? fresh(hp, rec) : null;
  }

  const stagedGens = (hp: HookPins) => new Set([...staged.values()].filter((s) => s.hp.dir === hp.dir).map((s) => s.meta.generation));

  /** Schedules every generation that is neither live nor staged here for release after the grace period. */
  function scheduleReleases(hp: HookPins, active: number): void {
    const keep = stagedGens(hp);
    for (const n of listGenerations(hp)) {
      const key = `${hp.dir}#${n}`;
      if (n === active || keep.has(n) || releases.has(key)) continue;
      const run = () => {
        releases.delete(key);
        const hm = readMeta<HookMeta>(hp.hookMeta);
        if (!hm || hm.active === n) return;
        const kept = new Set(generations(hp).filter((g) => g.generation !== n).flatMap((g) => g.members.map((m) => m.statsPin)));
        releaseGeneration(hp, n, kept);
        forget(hp, n);
      };
      const timer = setTimeout(run, graceMs);
      timer.unref();
      releases.set(key, { timer, run });
    }
  }

  function cancelReleases(hp: HookPins): void {
    for (const [key, r] of releases) if (key.startsWith(`${hp.dir}#`)) (clearTimeout(r.timer), releases.delete(key));
  }

  // Adoption: nothing here touches traffic. Repair a record left behind by a
  // kill between the swap and the metadata write, then plan the release of
  // generations a dead process staged or replaced.
  for (const ref of managedHooks()) {
    const hp = pinsOf(ref);
    const hm = readMeta<HookMeta>(hp.hookMeta);
    if (!hm) continue;
    const active = activeGeneration(hp, hm);
    if (active && active.generation !== hm.active) writePinnedMeta(hp.hookMeta, { ...hm, active: active.generation });
    scheduleReleases(hp, active?.generation ?? hm.active);
  }

  function requireActive(ref: HookRef): { hp: HookPins; hm: HookMeta; active: GenerationMeta } {
    const hp = pinsOf(ref);
    const hm = readMeta<HookMeta>(hp.hookMeta);
    const active = hm ? activeGeneration(hp, hm) : null;
    if (!hm || !active) throw new DatapathError('NotStaged', `no live chain on ${ref.iface}/${ref.hook}`, { ...ref, host: opts.host });
    return { hp, hm, active };
  }

  let lastSwapNs = 0n;
  const dp: KernelDatapath = {
    kind: 'kernel',

    async live(): Promise<LiveHook[]> {
      const out: LiveHook[] = [];
      for (const ref of managedHooks()) {
        const hp = pinsOf(ref);
        const hm = readMeta<HookMeta>(hp.hookMeta);
        if (!hm || !hm.active || !existsSync(hp.rootProg)) continue;
        const active = activeGeneration(hp, hm);
        out.push({
          ...ref,
          policy: readRootPolicy(hp),
          generation: active?.generation ?? hm.active,
          members: (active?.members ?? []).map(liveMember),
          rootProgId: withPinned(hp.rootProg, (fd) => bpf.progInfo(fd).id),
        });
      }
      return out;
    },

    async drift(): Promise<Drift[]> {
      const out: Drift[] = [];
      for (const ref of managedHooks()) {
        const hp = pinsOf(ref);
        const hm = readMeta<HookMeta>(hp.hookMeta);
        if (!hm || !hm.active) continue;
        const active = activeGeneration(hp, hm) ?? readMeta<GenerationMeta>(generationPins(hp, hm.active).meta);
        out.push(...hookDrift(ref, hp, hm, active, ns.run));
      }
      return out;
    },

    async stage(ref: HookRef, state: HookState, objects: ObjectSource): Promise<StagedGeneration> {
      if (state.hook !== ref.hook) throw new DatapathError('BadParameter', `state for ${state.hook} staged on ${ref.hook}`, { ...ref });
      // A missing interface must fail here, before anything is loaded or pinned, not at activate().
      if (!ns.run(() => bpf.ifindexOf(ref.iface))) {
        throw new DatapathError('InterfaceNotFound', `interface ${ref.iface} not found${opts.netns ? ` in ${opts.netns}` : ''}`, { host: opts.host, iface: ref.iface, hook: ref.hook });
      }
      const hp = pinsOf(ref);
      const hm = readMeta<HookMeta>(hp.hookMeta) ?? { iface: ref.iface, hook: ref.hook, ifindex: 0, attach: null, active: 0, lastGeneration: 0 };
      const generation = Math.max(hm.lastGeneration, ...listGenerations(hp), ...stagedGens(hp)) + 1;
      writePinnedMetaDir(hp, { ...hm, lastGeneration: generation });
      try {
        const { meta, headFd } = await stageGeneration(hp, generation, state, objects);
        const handle: StagedGeneration = Object.freeze({ iface: ref.iface, hook: ref.hook, generation, state });
        staged.set(handle, { ref, hp, meta, headFd });
        return handle;
      } catch (err) {
        if (err instanceof DatapathError) Object.assign(err.data, { host: opts.host, iface: ref.iface, hook: ref.hook });
        throw err;
      }
    },

    async activate(handle: StagedGeneration): Promise<void> {
      const s = staged.get(handle);
      if (!s) throw new DatapathError('NotStaged', `generation ${handle.generation} of ${handle.iface}/${handle.hook} is not staged in this process`, { ...handle });
      staged.delete(handle);
      const { hp, ref, meta } = s;
      try {
        ensureRootLoaded(hp, ref.hook, rootObjectDir, meta.policy);
        setRootPolicy(hp, meta.policy);
        // The swap: one update of slot 0. An empty chain is the only delete (root-only, policy applies).
        withPinned(hp.rootSlot, (fd) => {
          const key = u32(0);
          const value = u32(s.headFd);
          const t = process.hrtime.bigint();
          if (s.headFd >= 0) bpf.mapUpdate(fd, key, value);
          else bpf.mapDelete(fd, key);
          lastSwapNs = process.hrtime.bigint() - t;
        });
        const hm = readMeta<HookMeta>(hp.hookMeta)!;
        let attach = { ifindex: hm.ifindex, attach: hm.attach };
        if (!linkAlive(hp)) {
          removePins(hp.rootLink);
          attach = attachRoot(hp, ref.iface, ref.hook, ns.run);
        }
        writePinnedMeta(hp.hookMeta, { ...hm, ...attach, active: meta.generation });
        scheduleReleases(hp, meta.generation);
      } catch (err) {
        if (err instanceof DatapathError) Object.assign(err.data, { host: opts.host, iface: ref.iface, hook: ref.hook, generation: meta.generation });
        throw err;
      } finally {
        if (s.headFd >= 0) bpf.closeFd(s.headFd);
      }
    },

    async discard(handle: StagedGeneration): Promise<void> {
      const s = staged.get(handle);
      if (!s) return;
      staged.delete(handle);
      if (s.headFd >= 0) bpf.closeFd(s.headFd);
      const kept = new Set(generations(s.hp).filter((g) => g.generation !== s.meta.generation).flatMap((g) => g.members.map((m) => m.statsPin)));
      releaseGeneration(s.hp, s.meta.generation, kept);
      forget(s.hp, s.meta.generation);
    },

    async updateParams(ref: HookRef, chain: ChainMember[]): Promise<void> {
      const { hp, active } = requireActive(ref);
      if (chain.length !== active.members.length) {
        throw new DatapathError('BadParameter', `params for ${chain.length} members, ${ref.iface}/${ref.hook} runs ${active.members.length}`, { ...ref });
      }
      // Encode everything first: a bad value must change nothing.
      const globals: Parameters<typeof writeGlobals>[1] = [];
      const tries: { pin: string; keys: Buffer[] }[] = [];
      chain.forEach((c, i) => {
        const m = active.members[i]!;
        if (c.program !== m.program || c.version !== m.version) {
          throw new DatapathError('BadParameter', `member ${i} is ${m.program}@${m.version}, not ${c.program}@${c.version}`, { ...ref, member: i });
        }
        for (const b of c.bindings) {
          if (b.kind === 'global') {
            const loc = m.globals[b.symbol];
            if (!loc) throw new DatapathError('BadParameter', `${m.program} has no global ${b.symbol}`, { ...ref, member: i });
            globals.push({ loc, bytes: encodeGlobal(b.parameter, c.params[b.parameter], loc.size) });
          } else {
            const pin = m.mapPins[b.map];
            if (!pin) throw new DatapathError('BadParameter', `${m.program} has no map ${b.map}`, { ...ref, member: i });
            tries.push({ pin, keys: encodeLpmKeys(b.parameter, c.params[b.parameter] ?? []) });
          }
        }
      });
      writeGlobals(hp.dir, globals);
      for (const t of tries) withPinned(join(hp.dir, t.pin), (fd) => fillLpm(fd, t.keys));
      const members = active.members.map((m, i) => ({ ...m, paramsHash: canonicalHash(chain[i]!.params) }));
      writePinnedMeta(generationPins(hp, active.generation).meta, { ...active, members });
    },

    async remove(ref: HookRef): Promise<void> {
      const hp = pinsOf(ref);
      cancelReleases(hp);
      for (const [h, s] of staged) if (s.hp.dir === hp.dir) (staged.delete(h), s.headFd >= 0 && bpf.closeFd(s.headFd));
      detachRoot(hp);
      for (const n of listGenerations(hp)) forget(hp, n);
      removePins(hp.dir);
    },

    async counters(ref: HookRef): Promise<HookCounters> {
      const { hp, active } = requireActive(ref);
      return { ...ref, fallback: readRootCounters(hp).fallback, members: active.members.map((m) => readMemberCounters(hp, ref.hook, m)) };
    },

    rootCounters: (ref) => readRootCounters(pinsOf(ref)),
    lastSwapUs: () => Number(lastSwapNs) / 1e3,
    hookDir: (ref) => pinsOf(ref).dir,
    flushReleases(): void {
      for (const r of [...releases.values()]) (clearTimeout(r.timer), r.run());
    },

    async close(): Promise<void> {
      // Pending releases are left to the next adoption; nothing is detached.
      for (const r of releases.values()) clearTimeout(r.timer);
      releases.clear();
      for (const s of staged.values()) if (s.headFd >= 0) bpf.closeFd(s.headFd);
      staged.clear();
      ns.close();
    },
  };
  return dp;
}

function writePinnedMetaDir(hp: HookPins, hm: HookMeta): void {
  ensureDir(hp.dir);
  writePinnedMeta(hp.hookMeta, hm);
}

function linkAlive(hp: HookPins): boolean {
  const fd = bpf.getPinned(hp.rootLink);
  if (fd === null) return false;
  try {
    return bpf.linkInfo(fd).ifindex !== 0;
  } finally {
    bpf.closeFd(fd);
  }
}

function liveMember(m: MemberMeta): LiveMember {
  return { program: m.program, version: m.version, sha256: m.sha256, entry: m.entry, paramsHash: m.paramsHash, progId: m.progId, tag: m.tag };
}

function checkBpffs(pinRoot: string): void {
  let dir = pinRoot;
  while (!existsSync(dir)) dir = resolve(dir, '..');
  const type = Number(statfsSync(dir).type);
  if (type !== BPF_FS_MAGIC) {
    throw new DatapathError('KernelError', `${pinRoot} is not on a bpffs (mount -t bpf bpf /sys/fs/bpf)`, { pinRoot });
  }
}

/**
 * bpf/build of the installation this module belongs to, whatever the working
 * directory: sources sit three levels below the package root, dist/ four.
 */
function defaultRootObjectDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, '../../../bpf/build'), resolve(here, '../../../../bpf/build')];
  return candidates.find((d) => existsSync(join(d, 'root.bpf.o'))) ?? candidates[0]!;
}
