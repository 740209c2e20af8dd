// On-disk cache of authenticated commit ids, so a restart does not re-verify
// history. Keyed by introduction ("<commit>:<fingerprint>"): a commit proven
// under one introduction proves nothing under another.
//
// The file is written atomically (temp file, fsync, rename, fsync of the
// directory) so a crash leaves the old or the new cache, never half of one.
// A file that does not parse or has the wrong shape is ignored and rebuilt:
// the worst a damaged cache can cost is a re-verification.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { CommitAuth } from './rule.js';

const VERSION = 1;
const ID = /^[0-9a-f]{40}$/;

interface CacheFile {
  version: number;
  introductions: Record<string, Record<string, Omit<CommitAuth, 'commit'>>>;
}

export interface LoadedCache {
  entries: Map<string, CommitAuth>;
  /** True when a file existed but was unreadable or malformed (and was ignored). */
  corrupt: boolean;
}

export function cacheKey(introCommit: string, fingerprint: string): string {
  return `${introCommit}:${fingerprint}`;
}

function validEntry(v: unknown): v is Omit<CommitAuth, 'commit'> {
  const e = v as Record<string, unknown>;
  return (
    typeof e === 'object' && e !== null &&
    typeof e.fingerprint === 'string' && typeof e.principal === 'string' &&
    (e.scheme === 'ssh' || e.scheme === 'openpgp')
  );
}

async function readCacheFile(file: string): Promise<{ data: CacheFile; corrupt: boolean }> {
  const empty: CacheFile = { version: VERSION, introductions: {} };
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { data: empty, corrupt: false };
    return { data: empty, corrupt: true };
  }
  try {
    const data = JSON.parse(text) as CacheFile;
    if (data?.version !== VERSION || typeof data.introductions !== 'object' || data.introductions === null) {
      return { data: empty, corrupt: true };
    }
    for (const entries of Object.values(data.introductions)) {
      if (typeof entries !== 'object' || entries === null) return { data: empty, corrupt: true };
      for (const [id, v] of Object.entries(entries)) if (!ID.test(id) || !validEntry(v)) return { data: empty, corrupt: true };
    }
    return { data, corrupt: false };
  } catch {
    return { data: empty, corrupt: true };
  }
}

export async function loadCache(file: string, key: string): Promise<LoadedCache> {
  const { data, corrupt } = await readCacheFile(file);
  const entries = new Map<string, CommitAuth>();
  for (const [commit, v] of Object.entries(data.introductions[key] ?? {})) entries.set(commit, { commit, ...v });
  return { entries, corrupt };
}

export async function saveCache(file: string, key: string, entries: Iterable<CommitAuth>): Promise<void> {
  const { data } = await readCacheFile(file);
  const mine: CacheFile['introductions'][string] = {};
  for (const e of entries) mine[e.commit] = { fingerprint: e.fingerprint, principal: e.principal, scheme: e.scheme };
  data.introductions[key] = mine;
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await fs.open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(JSON.stringify(data));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  const dirHandle = await fs.open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
