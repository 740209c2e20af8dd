// A generation: one whole chain for one hook, loaded and wired into its own
// prog array, pinned under gen/<N>/. Staging never touches traffic; releasing
// unpins it (its prog array empties once the last pin and fd are gone).

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { HookState } from '../../../schemas/desired-state.js';
import { DatapathError, MAX_CHAIN_LENGTH, type ObjectSource } from '../datapath.js';
import * as bpf from '../libbpf.js';
import { loadMember } from './member.js';
import { createMetaMap, writeMeta, type GenerationMeta } from './meta.js';
import { ensureDir, generationPins, listDir, removePins, type HookPins } from './pins.js';

export interface StagedResult {
  meta: GenerationMeta;
  /** Open fd of the first member (the value the root slot will get); -1 for an empty chain. */
  headFd: number;
}

export async function stageGeneration(hp: HookPins, generation: number, state: HookState, objects: ObjectSource): Promise<StagedResult> {
  if (state.chain.length > MAX_CHAIN_LENGTH) {
    throw new DatapathError('ChainTooLong', `chain of ${state.chain.length} exceeds ${MAX_CHAIN_LENGTH}`, { length: state.chain.length });
  }
  // Fetch and check every object before anything reaches the kernel.
  const bytes: Uint8Array[] = [];
  for (const [member, m] of state.chain.entries()) {
    const b = await objects(m.object.sha256);
    const digest = createHash('sha256').update(b).digest('hex');
    if (digest !== m.object.sha256 || b.byteLength !== m.object.size) {
      throw new DatapathError('DigestMismatch', `object of ${m.program}@${m.version} has sha256 ${digest}, expected ${m.object.sha256}`, { member, program: m.program, version: m.version, expected: m.object.sha256, actual: digest });
    }
    bytes.push(b);
  }

  const gp = generationPins(hp, generation);
  for (const d of [gp.dir, hp.mapsDir, hp.statsDir]) ensureDir(d);
  const before = { maps: new Set(listDir(hp.mapsDir)), stats: new Set(listDir(hp.statsDir)) };
  const chainFd = bpf.createMap(bpf.BPF_MAP_TYPE.PROG_ARRAY, 'bpfleet_gen', 4, 4, Math.max(1, state.chain.length));
  const progFds: number[] = [];
  let loading = -1;
  try {
    const members = state.chain.map((member, index) => {
      loading = index;
      const loaded = loadMember({ hookDir: hp.dir, hook: state.hook, generation, index, chainLength: state.chain.length, chainFd, member, bytes: bytes[index]! });
      progFds.push(loaded.progFd);
      return loaded.meta;
    });
    progFds.forEach((fd, i) => bpf.mapUpdate(chainFd, u32(i), u32(fd)));
    bpf.pin(chainFd, gp.chain);
    const meta: GenerationMeta = { generation, policy: state.policy, members };
    const metaFd = createMetaMap();
    try {
      writeMeta(metaFd, meta);
      bpf.pin(metaFd, gp.meta); // last: a generation without meta is incomplete
    } finally {
      bpf.closeFd(metaFd);
    }
    const headFd = progFds.shift() ?? -1;
    return { meta, headFd };
  } catch (err) {
    removePins(gp.dir);
    // Leave no new shared pins behind either.
    for (const f of listDir(hp.mapsDir)) if (!before.maps.has(f)) removePins(join(hp.mapsDir, f));
    for (const f of listDir(hp.statsDir)) if (!before.stats.has(f)) removePins(join(hp.statsDir, f));
    // `member` is the chain position the contract names (Datapath errors say which member failed).
    if (err instanceof DatapathError) Object.assign(err.data, { generation, ...(loading >= 0 && err.data.member === undefined ? { member: loading } : {}) });
    throw err;
  } finally {
    bpf.closeFd(chainFd);
    for (const fd of progFds) bpf.closeFd(fd);
  }
}

/** Unpins a generation and the counters no longer used by the kept generations. */
export function releaseGeneration(hp: HookPins, generation: number, keptStats: Set<string>): void {
  removePins(generationPins(hp, generation).dir);
  for (const f of listDir(hp.statsDir)) if (!keptStats.has(join('stats', f))) removePins(join(hp.statsDir, f));
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
