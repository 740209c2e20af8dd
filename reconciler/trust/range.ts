// Which commits a new head asks us to trust: everything reachable from it
// that is not already authenticated (cached) — merges and all their parents,
// each commit once even when reached through several parents — stopping at
// the introduction, before which nothing is trusted.

import type { CommitInfo, EvidenceReader } from './evidence.js';

export interface Range {
  /** Commits to judge, every parent before its children. */
  commits: CommitInfo[];
  /** True when the walk reached the introduction or an authenticated commit. */
  reachedTrusted: boolean;
  /** Root commits reached that are not the introduction: history from before or beside it. */
  foreignRoots: CommitInfo[];
}

export async function collectRange(
  reader: EvidenceReader,
  head: string,
  introduction: string,
  authenticated: ReadonlySet<string>,
): Promise<Range> {
  const found = new Map<string, CommitInfo>();
  const foreignRoots: CommitInfo[] = [];
  let reachedTrusted = false;
  const stack = [head];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (found.has(id)) continue;
    if (authenticated.has(id)) {
      reachedTrusted = true;
      continue;
    }
    const info = await reader.commit(id);
    found.set(id, info);
    if (id === introduction) {
      reachedTrusted = true;
      continue;
    }
    if (info.parents.length === 0) foreignRoots.push(info);
    for (let i = info.parents.length - 1; i >= 0; i--) stack.push(info.parents[i]!);
  }
  return { commits: parentsFirst(found, introduction), reachedTrusted, foreignRoots };
}

/** Kahn's algorithm over the collected set; ties broken by id for determinism. */
function parentsFirst(found: Map<string, CommitInfo>, introduction: string): CommitInfo[] {
  const pending = new Map<string, number>();
  const children = new Map<string, string[]>();
  for (const [id, info] of found) {
    const inSet = id === introduction ? [] : info.parents.filter((p) => found.has(p));
    pending.set(id, new Set(inSet).size);
    for (const p of new Set(inSet)) children.set(p, [...(children.get(p) ?? []), id]);
  }
  const ready = [...pending].filter(([, n]) => n === 0).map(([id]) => id).sort();
  const order: CommitInfo[] = [];
  while (ready.length > 0) {
    const id = ready.shift()!;
    order.push(found.get(id)!);
    for (const c of (children.get(id) ?? []).sort()) {
      const n = pending.get(c)! - 1;
      pending.set(c, n);
      if (n === 0) ready.push(c);
    }
  }
  return order;
}

/** Is `ancestor` reachable from `descendant` (or equal to it)? */
export async function descendsFrom(reader: EvidenceReader, descendant: string, ancestor: string): Promise<boolean> {
  const seen = new Set<string>();
  const stack = [descendant];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (id === ancestor) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(await reader.commit(id)).parents);
  }
  return false;
}
