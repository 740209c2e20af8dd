// The in-memory datapath: same contract and same refusals as the kernel one
// (it passes the same conformance suite), so the agent's transaction logic can
// be tested — failure paths included — without CAP_BPF. Objects are really
// inspected (schemas/bpf-object.ts); only the verifier and traffic are modelled.

import { canonicalHash } from '../../../schemas/canonical-json.js';
import { HOOKS, type ChainMember, type HookState } from '../../../schemas/desired-state.js';
import {
  DatapathError,
  MAX_CHAIN_LENGTH,
  type Datapath,
  type Drift,
  type DriftKind,
  type HookCounters,
  type HookRef,
  type LiveHook,
  type ObjectSource,
  type StagedGeneration,
} from '../datapath.js';
import { checkMember, type CheckedMember } from './load.js';
import { lpmMatches, resolveParams } from './params.js';
import { createSimState, hookKey, type SimGeneration, type SimHook, type SimMap, type SimMember, type SimState } from './state.js';

export { createSimState, type SimState } from './state.js';
export { SIM_VERIFIER_REJECT_PREFIX } from './load.js';

export interface SimPacket {
  /** IPv4 source address, matched against LPM-bound parameters such as `prefixes`. */
  src: string;
  bytes: number;
}

export interface SimDatapathOptions {
  /** Interfaces that exist; any other name is InterfaceNotFound. Omitted: every name exists. */
  interfaces?: string[];
  /** How long a superseded generation stays open for packets in flight (default 2000 ms). */
  graceMs?: number;
  /** Share to model a restart: the new instance adopts what the old one left running. */
  state?: SimState;
  /** Clock for grace periods (default Date.now). */
  now?: () => number;
}

export interface SimDatapath extends Datapath {
  readonly kind: 'sim';
  readonly state: SimState;
  /** Run one packet through the hook as the kernel would; returns the verdict (xdp: pass/drop, tc: ok/shot). */
  inject(ref: HookRef, packet: SimPacket): string;
  /** Break the live hook the way an outside actor would; drift() reports it, stage+activate repairs it. */
  injectDrift(ref: HookRef, kind: DriftKind): void;
  /** Another tool attaches its own program to a hook we do not run: our root cannot attach there. */
  occupy(ref: HookRef): void;
  /** Contents of a map of the live chain (persistent maps: the pinned one), or undefined. */
  mapContents(ref: HookRef, map: string): Record<string, number> | undefined;
  /** Generation numbers still held open after a swap (within the grace period). */
  retainedGenerations(ref: HookRef): number[];
  /** Current values of a live member's globals. */
  globals(ref: HookRef, position: number): Record<string, number> | undefined;
}

interface StagedRecord {
  ref: HookRef;
  generation: SimGeneration;
  /** LPM content for persistent (shared) maps, written only at activation so staging never touches traffic. */
  deferredLpm: { map: SimMap; content: SimMap }[];
}

interface SimMemberInternal extends SimMember {
  checked: CheckedMember;
}

const DRIFT_DETAIL: Record<DriftKind, string> = {
  'root-detached': 'the bpfleet root program is no longer attached',
  'root-replaced': 'another program is attached where the bpfleet root was',
  'slot-empty': "the root's slot 0 no longer points at the active generation",
  'foreign-program': 'a program bpfleet did not attach runs on this hook',
  'pins-missing': 'pinned maps or prog arrays of the active generation are gone',
};

export function createSimDatapath(opts: SimDatapathOptions = {}): SimDatapath {
  const state = opts.state ?? createSimState();
  const graceMs = opts.graceMs ?? 2000;
  const now = opts.now ?? Date.now;
  const staged = new Map<StagedGeneration, StagedRecord>();
  let closed = false;

  const ensureOpen = () => {
    if (closed) throw new DatapathError('KernelError', 'sim datapath is closed', { reason: 'Closed' });
  };
  const ensureIface = (ref: HookRef) => {
    if (opts.interfaces && !opts.interfaces.includes(ref.iface)) {
      throw new DatapathError('InterfaceNotFound', `interface ${ref.iface} does not exist on this host`, { ...ref });
    }
  };
  const releaseExpired = (hook: SimHook) => {
    const t = now();
    hook.retired = hook.retired.filter((r) => r.releaseAt > t);
  };
  const verdictName = (ref: HookRef, verdict: 'pass' | 'drop') =>
    ref.hook === 'xdp' ? verdict : verdict === 'pass' ? 'ok' : 'shot';

  const datapath: SimDatapath = {
    kind: 'sim',
    state,

    async live(): Promise<LiveHook[]> {
      ensureOpen();
      const hooks = [...state.hooks.values()].sort(
        (a, b) => a.iface.localeCompare(b.iface) || HOOKS.indexOf(a.hook) - HOOKS.indexOf(b.hook),
      );
      return hooks.map((h) => {
        releaseExpired(h);
        return {
          iface: h.iface,
          hook: h.hook,
          policy: h.active.policy,
          generation: h.active.generation,
          rootProgId: h.rootProgId,
          members: h.active.members.map((m) => ({
            program: m.program,
            version: m.version,
            sha256: m.sha256,
            entry: m.entry,
            paramsHash: m.paramsHash,
            progId: m.progId,
            tag: m.tag,
          })),
        };
      });
    },

    async drift(): Promise<Drift[]> {
      ensureOpen();
      const found: Drift[] = [];
      for (const h of state.hooks.values()) {
        for (const kind of h.drift) found.push({ iface: h.iface, hook: h.hook, kind, detail: DRIFT_DETAIL[kind] });
      }
      return found.sort((a, b) => a.iface.localeCompare(b.iface) || HOOKS.indexOf(a.hook) - HOOKS.indexOf(b.hook));
    },

    async stage(ref: HookRef, desired: HookState, objects: ObjectSource): Promise<StagedGeneration> {
      ensureOpen();
      ensureIface(ref);
      if (desired.chain.length > MAX_CHAIN_LENGTH) {
        throw new DatapathError('ChainTooLong', `chain of ${desired.chain.length} members on ${ref.iface}/${ref.hook} exceeds the tail-call limit of ${MAX_CHAIN_LENGTH}`, {
          ...ref,
          length: desired.chain.length,
          max: MAX_CHAIN_LENGTH,
        });
      }
      // Check every member before creating anything: a refusal leaves nothing behind.
      const checked: CheckedMember[] = [];
      for (const [position, member] of desired.chain.entries()) {
        const where = { ...ref, member: position, program: member.program, version: member.version, entry: member.entry };
        let bytes: Uint8Array;
        try {
          bytes = await objects(member.object.sha256);
        } catch (e) {
          throw new DatapathError('BadObject', `${member.program}@${member.version}: object ${member.object.sha256} could not be fetched: ${(e as Error).message}`, {
            ...where,
            reason: 'ObjectUnavailable',
          });
        }
        checked.push(checkMember(member, bytes, ref.hook, where));
      }
      const key = hookKey(ref.iface, ref.hook);
      const generationNumber = (state.lastGeneration.get(key) ?? 0) + 1;
      state.lastGeneration.set(key, generationNumber);
      // Missing pins mean the state is gone: the repairing generation starts with fresh maps.
      const current = state.hooks.get(key);
      const pinned = current && !current.drift.has('pins-missing') ? current.pinnedMaps : undefined;
      const deferredLpm: StagedRecord['deferredLpm'] = [];
      const members = desired.chain.map((member, position): SimMemberInternal => {
        const check = checked[position]!;
        const maps = new Map<string, SimMap>();
        for (const spec of member.maps) maps.set(spec.name, spec.persistent ? pinned?.get(spec.name) ?? new Map() : new Map());
        for (const [name, content] of check.writes.lpm) {
          const existing = maps.get(name);
          const isShared = existing !== undefined && pinned?.get(name) === existing;
          if (isShared) deferredLpm.push({ map: existing, content });
          else maps.set(name, new Map(content));
        }
        const globals = new Map(check.info.globals.filter((g) => g.section !== '.rodata').map((g) => [g.name, 0]));
        for (const [name, value] of check.writes.globals) globals.set(name, value);
        return {
          program: member.program,
          version: member.version,
          sha256: member.object.sha256,
          entry: member.entry,
          paramsHash: canonicalHash(member.params),
          progId: state.nextProgId++,
          // A kernel tag is a hash of the instructions: same object and entry, same tag.
          tag: canonicalHash([member.object.sha256, member.entry]).slice(0, 16),
          spec: member,
          globals,
          maps,
          packets: 0,
          verdicts: {},
          checked: check,
        };
      });
      const handle: StagedGeneration = { iface: ref.iface, hook: ref.hook, generation: generationNumber, state: desired };
      staged.set(handle, { ref: { iface: ref.iface, hook: ref.hook }, generation: { generation: generationNumber, policy: desired.policy, members }, deferredLpm });
      return handle;
    },

    async activate(handle: StagedGeneration): Promise<void> {
      ensureOpen();
      const record = staged.get(handle);
      if (!record) {
        throw new DatapathError('NotStaged', `generation ${handle.generation} of ${handle.iface}/${handle.hook} is not staged here (already activated, discarded, or from another instance)`, {
          iface: handle.iface,
          hook: handle.hook,
          generation: handle.generation,
        });
      }
      ensureIface(record.ref);
      const key = hookKey(record.ref.iface, record.ref.hook);
      const hook = state.hooks.get(key);
      if (hook && hook.active.generation > record.generation.generation) {
        throw new DatapathError('NotStaged', `generation ${record.generation.generation} of ${key} is older than the live generation ${hook.active.generation}`, {
          ...record.ref,
          generation: record.generation.generation,
          live: hook.active.generation,
        });
      }
      if (!hook && state.occupied.has(key)) {
        throw new DatapathError('KernelError', `attaching the root to ${key} failed: another program is attached there (EBUSY)`, { ...record.ref, errno: 'EBUSY' });
      }
      staged.delete(handle);
      for (const { map, content } of record.deferredLpm) {
        map.clear();
        for (const [k, v] of content) map.set(k, v);
      }
      // The single "slot 0" update: everything below happens between two packets.
      if (!hook) {
        const fresh: SimHook = {
          ...record.ref,
          rootProgId: state.nextProgId++,
          lastGeneration: record.generation.generation,
          active: record.generation,
          retired: [],
          pinnedMaps: new Map(),
          fallback: 0,
          drift: new Set(),
        };
        pinPersistent(fresh, handle.state.chain, record.generation);
        state.hooks.set(key, fresh);
        return;
      }
      releaseExpired(hook);
      hook.retired.push({ generation: hook.active, releaseAt: now() + graceMs });
      hook.active = record.generation;
      hook.lastGeneration = record.generation.generation;
      if (hook.drift.has('pins-missing')) hook.pinnedMaps.clear();
      pinPersistent(hook, handle.state.chain, record.generation);
      // A fresh generation re-attaches the root, re-fills slot 0 and re-pins: every drift is repaired.
      hook.drift.clear();
    },

    async discard(handle: StagedGeneration): Promise<void> {
      staged.delete(handle);
    },

    async updateParams(ref: HookRef, chain: ChainMember[]): Promise<void> {
      ensureOpen();
      const hook = state.hooks.get(hookKey(ref.iface, ref.hook));
      if (!hook) {
        throw new DatapathError('NotStaged', `no live chain on ${ref.iface}/${ref.hook} to update`, { ...ref });
      }
      const members = hook.active.members as SimMemberInternal[];
      if (chain.length !== members.length) {
        throw new DatapathError('BadParameter', `params update for ${ref.iface}/${ref.hook} has ${chain.length} members, the live chain ${members.length}`, {
          ...ref,
          expected: members.length,
          found: chain.length,
        });
      }
      // Check the whole chain first so a bad value changes nothing.
      const writes = chain.map((member, position) => {
        const live = members[position]!;
        const where = { ...ref, member: position, program: member.program, version: member.version };
        if (live.program !== member.program || live.version !== member.version || live.sha256 !== member.object.sha256) {
          throw new DatapathError('BadParameter', `member ${position} of ${ref.iface}/${ref.hook} is ${live.program}@${live.version}, not ${member.program}@${member.version}: a params update cannot change programs`, where);
        }
        return resolveParams(member, live.checked.info, where);
      });
      for (const [position, member] of chain.entries()) {
        const live = members[position]!;
        const write = writes[position]!;
        for (const [name, value] of write.globals) live.globals.set(name, value);
        for (const [name, content] of write.lpm) {
          const map = live.maps.get(name) ?? new Map<string, number>();
          map.clear();
          for (const [k, v] of content) map.set(k, v);
          live.maps.set(name, map);
        }
        live.spec = member;
        live.paramsHash = canonicalHash(member.params);
      }
    },

    async remove(ref: HookRef): Promise<void> {
      ensureOpen();
      state.hooks.delete(hookKey(ref.iface, ref.hook));
    },

    async counters(ref: HookRef): Promise<HookCounters> {
      ensureOpen();
      ensureIface(ref);
      const hook = state.hooks.get(hookKey(ref.iface, ref.hook));
      return {
        iface: ref.iface,
        hook: ref.hook,
        fallback: hook?.fallback ?? 0,
        members: (hook?.active.members ?? []).map((m) => ({
          program: m.program,
          version: m.version,
          packets: m.packets,
          verdicts: { ...m.verdicts },
        })),
      };
    },

    async close(): Promise<void> {
      // Staged generations die with the process, as unpinned kernel objects do; live state stays in `state`.
      staged.clear();
      closed = true;
    },

    inject(ref: HookRef, packet: SimPacket): string {
      const hook = state.hooks.get(hookKey(ref.iface, ref.hook));
      if (!hook || hook.drift.has('root-detached') || hook.drift.has('root-replaced')) return verdictName(ref, 'pass');
      if (hook.drift.has('slot-empty')) {
        hook.fallback++;
        return verdictName(ref, hook.active.policy);
      }
      const lpmMaps = (m: SimMember) =>
        m.spec.bindings.flatMap((b) => (b.kind === 'lpm-prefixes' ? [m.maps.get(b.map)] : [])).filter((x): x is SimMap => !!x);
      for (const member of hook.active.members) {
        member.packets++;
        for (const map of member.maps.values()) {
          if (lpmMaps(member).includes(map)) continue;
          map.set('packets', (map.get('packets') ?? 0) + 1);
          map.set('bytes', (map.get('bytes') ?? 0) + packet.bytes);
        }
        const drop = lpmMaps(member).some((map) => lpmMatches(map, packet.src));
        const verdict = verdictName(ref, drop ? 'drop' : 'pass');
        member.verdicts[verdict] = (member.verdicts[verdict] ?? 0) + 1;
        if (drop) return verdict;
      }
      // An empty chain means "root only": the hook's policy decides.
      if (hook.active.members.length === 0) {
        hook.fallback++;
        return verdictName(ref, hook.active.policy);
      }
      return verdictName(ref, 'pass');
    },

    injectDrift(ref: HookRef, kind: DriftKind): void {
      const hook = state.hooks.get(hookKey(ref.iface, ref.hook));
      if (!hook) throw new DatapathError('NotStaged', `no live chain on ${ref.iface}/${ref.hook} to drift`, { ...ref });
      hook.drift.add(kind);
    },

    occupy(ref: HookRef): void {
      state.occupied.add(hookKey(ref.iface, ref.hook));
    },

    mapContents(ref: HookRef, map: string): Record<string, number> | undefined {
      const hook = state.hooks.get(hookKey(ref.iface, ref.hook));
      const found = hook?.pinnedMaps.get(map) ?? hook?.active.members.map((m) => m.maps.get(map)).find((m) => m !== undefined);
      return found ? Object.fromEntries(found) : undefined;
    },

    retainedGenerations(ref: HookRef): number[] {
      const hook = state.hooks.get(hookKey(ref.iface, ref.hook));
      if (!hook) return [];
      releaseExpired(hook);
      return hook.retired.map((r) => r.generation.generation);
    },

    globals(ref: HookRef, position: number): Record<string, number> | undefined {
      const member = state.hooks.get(hookKey(ref.iface, ref.hook))?.active.members[position];
      return member ? Object.fromEntries(member.globals) : undefined;
    },
  };
  return datapath;
}

function pinPersistent(hook: SimHook, chain: ChainMember[], generation: SimGeneration): void {
  for (const [position, member] of chain.entries()) {
    for (const spec of member.maps) {
      const map = generation.members[position]?.maps.get(spec.name);
      if (spec.persistent && map && !hook.pinnedMaps.has(spec.name)) hook.pinnedMaps.set(spec.name, map);
    }
  }
}
