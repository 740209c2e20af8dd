// The audit trail of a host: the commits that changed its desired state, who
// signed each, and when each agent applied it (from the reconciler's receipts).
// Git history is the record of intent; receipts are the record of effect.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readJsonFile } from '../../schemas/atomic-file.js';
import { compileFleet, type CompileOptions } from '../compile/compile-fleet.js';
import { openRevision } from '../manifests/git-tree.js';
import { planHost, type HookChangeKind } from '../plan/plan.js';
import { checkReceipts, type StoredReceipt } from '../state/state-files.js';
import { commitSigner } from '../trust/index.js';

const run = promisify(execFile);

export interface HistoryEntry {
  commit: string;
  subject: string;
  author: string;
  date: string;
  signer: { principal?: string; fingerprint: string; scheme: string } | null;
  /** added / removed for the host itself, else the hook changes. */
  change: 'added' | 'removed' | 'changed';
  hooks: { iface: string; hook: string; kind: HookChangeKind }[];
  applied: { generation: number; receivedAt: string; result?: string }[];
}

export interface HostHistory {
  host: string;
  entries: HistoryEntry[];
}

export interface HistoryOptions {
  repo: string;
  rev?: string;
  hosts?: string[];
  /** The reconciler's state directory (its receipts say when agents applied what). */
  stateDir?: string;
  compileOptions?: CompileOptions;
  /** Called after each commit is read (history compiles every commit: long histories take a while). */
  onProgress?: (done: number, total: number) => void;
}

/** Walks first-parent history oldest → newest and keeps commits whose compiled host state changed. */
export async function hostHistory(o: HistoryOptions): Promise<HostHistory[]> {
  const { stdout } = await run('git', ['-C', o.repo, 'log', '--first-parent', '--reverse', '--format=%H%x00%an%x00%aI%x00%s', o.rev ?? 'HEAD', '--'], { maxBuffer: 64 * 1024 * 1024 });
  const commits = stdout.split('\n').filter(Boolean).map((l) => {
    const [commit, author, date, subject] = l.split('\0') as [string, string, string, string];
    return { commit, author, date, subject };
  });
  const out = new Map<string, HistoryEntry[]>();
  let prev: Record<string, { hash: string; state: Parameters<typeof planHost>[1] }> = {};
  for (const [i, c] of commits.entries()) {
    o.onProgress?.(i + 1, commits.length);
    const compiled = await compileFleet(await openRevision(o.repo, c.commit), o.compileOptions);
    // An invalid commit was never rolled out: it changes nothing any host ran.
    if (!compiled.ok) continue;
    const now = Object.fromEntries(Object.entries(compiled.fleet.hosts).map(([h, v]) => [h, { hash: v.hash, state: v.state }]));
    const names = new Set([...Object.keys(prev), ...Object.keys(now)]);
    for (const host of names) {
      if (o.hosts?.length && !o.hosts.includes(host)) continue;
      if (prev[host]?.hash === now[host]?.hash) continue;
      const p = planHost(host, prev[host]?.state, now[host]?.state);
      const signer = await commitSigner(o.repo, c.commit).catch(() => null);
      const entry: HistoryEntry = {
        ...c,
        signer,
        change: p.kind === 'unchanged' ? 'changed' : p.kind,
        hooks: p.hooks.filter((k) => k.kind !== 'unchanged').map((k) => ({ iface: k.iface, hook: k.hook, kind: k.kind })),
        applied: [],
      };
      out.set(host, [...(out.get(host) ?? []), entry]);
    }
    prev = now;
  }
  const result: HostHistory[] = [];
  for (const host of [...out.keys()].sort()) {
    const receipts = o.stateDir ? await readReceipts(o.stateDir, host) : [];
    const entries = out.get(host)!;
    for (const r of receipts) {
      const e = entries.find((x) => x.commit === r.commit);
      e?.applied.push({ generation: r.generation, receivedAt: r.receivedAt, result: typeof r.receipt.result === 'string' ? r.receipt.result : undefined });
    }
    result.push({ host, entries: entries.reverse() });
  }
  return result;
}

async function readReceipts(stateDir: string, host: string): Promise<StoredReceipt[]> {
  // Accept the configured stateDir or its inner state/ directory.
  const dir = existsSync(join(stateDir, 'state', 'receipts')) ? join(stateDir, 'state') : stateDir;
  const file = join(dir, 'receipts', `${host}.json`);
  return (await readJsonFile(file, checkReceipts))?.receipts ?? [];
}
