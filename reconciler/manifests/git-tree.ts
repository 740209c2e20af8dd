// Reads the fleet at one Git revision: the tree of that commit, never the
// working tree, so what is validated is exactly what was signed.

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import git from 'isomorphic-git';

const run = promisify(execFile);

export interface TreeEntry {
  path: string;
  /** Git mode: 100644/100755 file, 120000 symlink, 160000 submodule. */
  mode: string;
  oid: string;
}

/** What the compiler needs from a revision: its file list and the bytes of one file. */
export interface TreeReader {
  readonly commit: string;
  entries(): Promise<TreeEntry[]>;
  read(path: string): Promise<Uint8Array | undefined>;
}

export class RevisionError extends Error {
  readonly code = 'UnknownRevision';
  constructor(readonly rev: string, readonly dir: string, detail: string) {
    super(`cannot resolve revision "${rev}" in ${dir}: ${detail}`);
  }
}

/** Resolves any git revision syntax (HEAD~1, tags, short ids) to a full commit id. */
export async function resolveCommit(dir: string, rev: string): Promise<string> {
  if (rev.startsWith('-')) throw new RevisionError(rev, dir, 'a revision may not start with "-"');
  try {
    const { stdout } = await run('git', ['-C', dir, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`]);
    return stdout.trim();
  } catch (err) {
    const e = err as { code?: number | string; stderr?: string };
    throw new RevisionError(rev, dir, e.code === 'ENOENT' ? 'git is not installed' : (e.stderr?.trim() || 'no such commit'));
  }
}

export async function gitDirOf(dir: string): Promise<string> {
  const { stdout } = await run('git', ['-C', dir, 'rev-parse', '--git-dir']);
  return path.resolve(dir, stdout.trim());
}

export async function openRevision(dir: string, rev: string): Promise<TreeReader> {
  const commit = await resolveCommit(dir, rev);
  const gitdir = await gitDirOf(dir);
  const cache = {};
  let listing: Promise<TreeEntry[]> | undefined;
  const byPath = new Map<string, TreeEntry>();

  const walk = async (oid: string, prefix: string, out: TreeEntry[]) => {
    const { tree } = await git.readTree({ fs, gitdir, oid, cache });
    for (const e of tree) {
      const p = prefix ? `${prefix}/${e.path}` : e.path;
      if (e.type === 'tree') await walk(e.oid, p, out);
      else out.push({ path: p, mode: e.mode, oid: e.oid });
    }
  };

  const entries = () => {
    listing ??= (async () => {
      const { commit: c } = await git.readCommit({ fs, gitdir, oid: commit, cache });
      const out: TreeEntry[] = [];
      await walk(c.tree, '', out);
      for (const e of out) byPath.set(e.path, e);
      return out;
    })();
    return listing;
  };

  return {
    commit,
    entries,
    async read(p) {
      await entries();
      const e = byPath.get(p);
      // Symlinks and submodules could point outside the repository: never follow them.
      if (!e || (e.mode !== '100644' && e.mode !== '100755')) return undefined;
      const { blob } = await git.readBlob({ fs, gitdir, oid: e.oid, cache });
      return blob;
    },
  };
}

/** An in-memory tree, for tests and for validating files before they are committed. */
export function memoryTree(files: Record<string, string | Uint8Array>, commit = '0'.repeat(40)): TreeReader {
  const enc = new TextEncoder();
  return {
    commit,
    entries: async () => Object.keys(files).sort().map((p) => ({ path: p, mode: '100644', oid: '' })),
    read: async (p) => {
      const v = files[p];
      return v === undefined ? undefined : typeof v === 'string' ? enc.encode(v) : v;
    },
  };
}
