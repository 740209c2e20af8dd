// The reconciler's state directory: what must survive a restart. Loaded whole
// at open (a corrupt file stops the open with its path), then read from memory
// and written through atomically (schemas/atomic-file.ts) on every change.
//
//   <dir>/commits.json          last authenticated / last applied commit
//   <dir>/generations.json      per host: generation (only grows), commit, hash
//   <dir>/status/<host>.json    last status report of each agent
//   <dir>/receipts/<host>.json  apply receipts, newest last, bounded per host

import { mkdir, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptFileError, readJsonFile, writeFileAtomic } from '../../schemas/atomic-file.js';
import { HOST_NAME_PATTERN, type StatusReport } from '../../schemas/protocol.js';
import {
  checkCommits,
  checkGenerations,
  checkReceipts,
  checkStatus,
  type CommitsFile,
  type HostGeneration,
  type StoredReceipt,
  type StoredStatus,
} from './state-files.js';

export type { CommitsFile, HostGeneration, StoredReceipt, StoredStatus } from './state-files.js';

export class GenerationRegressionError extends Error {
  readonly code = 'GenerationRegression';
  constructor(readonly data: { host: string; stored: number; attempted: number }) {
    super(`generation of host ${data.host} may only grow: stored ${data.stored}, attempted ${data.attempted}`);
    this.name = 'GenerationRegressionError';
  }
}

export interface StateStore {
  readonly dir: string;
  /** Problems found while opening that did not stop it (a corrupt status or receipts file moved aside). */
  readonly warnings: readonly string[];
  commits(): Readonly<CommitsFile>;
  setCommits(change: { authenticated?: string; applied?: string }, now?: Date): Promise<void>;
  generations(): Readonly<Record<string, HostGeneration>>;
  /** Persist new generations for some hosts in one write. Refuses any that does not grow. */
  setGenerations(changes: Record<string, HostGeneration>): Promise<void>;
  statuses(): Readonly<Record<string, StoredStatus>>;
  saveStatus(report: StatusReport, receivedAt: Date): Promise<void>;
  receipts(host: string): readonly StoredReceipt[];
  /** Append a receipt; the oldest are dropped beyond `maxReceiptsPerHost`. */
  appendReceipt(host: string, receipt: StoredReceipt): Promise<void>;
}

export interface StateStoreOptions {
  maxReceiptsPerHost?: number;
}

export async function openStateStore(dir: string, opts: StateStoreOptions = {}): Promise<StateStore> {
  const maxReceipts = opts.maxReceiptsPerHost ?? 50;
  await mkdir(join(dir, 'status'), { recursive: true, mode: 0o700 });
  await mkdir(join(dir, 'receipts'), { recursive: true, mode: 0o700 });

  const commitsPath = join(dir, 'commits.json');
  const generationsPath = join(dir, 'generations.json');
  let commits: CommitsFile = (await readJsonFile(commitsPath, checkCommits)) ?? { authenticated: null, applied: null, updatedAt: new Date(0).toISOString() };
  let generations: Record<string, HostGeneration> = (await readJsonFile(generationsPath, checkGenerations))?.hosts ?? {};
  // Statuses and receipts are per host and replaceable (agents report again within
  // seconds; receipts are history): a corrupt one is moved aside, kept for
  // inspection and reported, instead of stopping the whole fleet's reconciler.
  // commits.json and generations.json are the forward-only anchors: those stop it.
  const warnings: string[] = [];
  const readOrQuarantine = async <T>(path: string, check: Parameters<typeof readJsonFile<T>>[1]): Promise<T | undefined> => {
    try {
      return await readJsonFile(path, check);
    } catch (err) {
      if (!(err instanceof CorruptFileError)) throw err;
      const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      await rename(path, aside);
      warnings.push(`${err.message}; moved aside to ${aside}`);
      return undefined;
    }
  };
  const statuses: Record<string, StoredStatus> = {};
  for (const host of await hostFiles(join(dir, 'status'))) {
    const s = await readOrQuarantine(join(dir, 'status', `${host}.json`), checkStatus);
    if (s) statuses[host] = s;
  }
  const receipts: Record<string, StoredReceipt[]> = {};
  for (const host of await hostFiles(join(dir, 'receipts'))) {
    const r = await readOrQuarantine(join(dir, 'receipts', `${host}.json`), checkReceipts);
    if (r) receipts[host] = r.receipts;
  }

  // One write at a time per file: read-modify-write of the in-memory copy and
  // the rename must not interleave, or an older copy could land last.
  const queues = new Map<string, Promise<unknown>>();
  function serial<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = queues.get(key) ?? Promise.resolve();
    const next = prev.then(task, task);
    queues.set(key, next.catch(() => undefined));
    return next;
  }
  const json = (v: unknown) => `${JSON.stringify(v, null, 1)}\n`;

  return {
    dir,
    warnings,
    commits: () => commits,
    setCommits(change, now = new Date()) {
      return serial(commitsPath, async () => {
        const next: CommitsFile = {
          authenticated: change.authenticated ?? commits.authenticated,
          applied: change.applied ?? commits.applied,
          updatedAt: now.toISOString(),
        };
        await writeFileAtomic(commitsPath, json(next));
        commits = next;
      });
    },
    generations: () => generations,
    setGenerations(changes) {
      return serial(generationsPath, async () => {
        for (const [host, g] of Object.entries(changes)) {
          const stored = generations[host]?.generation ?? 0;
          if (g.generation <= stored) throw new GenerationRegressionError({ host, stored, attempted: g.generation });
        }
        const next = { ...generations, ...changes };
        await writeFileAtomic(generationsPath, json({ hosts: next }));
        generations = next; // only after the write: a failed write changes nothing
      });
    },
    statuses: () => statuses,
    saveStatus(report, receivedAt) {
      assertHost(report.host);
      const path = join(dir, 'status', `${report.host}.json`);
      return serial(path, async () => {
        const stored: StoredStatus = { receivedAt: receivedAt.toISOString(), report };
        await writeFileAtomic(path, JSON.stringify(stored));
        statuses[report.host] = stored;
      });
    },
    receipts: (host) => receipts[host] ?? [],
    appendReceipt(host, receipt) {
      assertHost(host);
      const path = join(dir, 'receipts', `${host}.json`);
      return serial(path, async () => {
        const next = [...(receipts[host] ?? []), receipt].slice(-maxReceipts);
        await writeFileAtomic(path, JSON.stringify({ host, receipts: next }));
        receipts[host] = next;
      });
    },
  };
}

// Host names are validated before they become file names (no path characters).
function assertHost(host: string): void {
  if (!HOST_NAME_PATTERN.test(host)) throw new Error(`invalid host name ${JSON.stringify(host)}`);
}

async function hostFiles(dir: string): Promise<string[]> {
  return (await readdir(dir))
    .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
    .map((f) => f.slice(0, -'.json'.length))
    .filter((h) => HOST_NAME_PATTERN.test(h));
}
