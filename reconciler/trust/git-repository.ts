// TrustRepository over a local working directory or bare repository, read
// in-process with isomorphic-git (no `git` processes per commit).

import * as fs from 'node:fs';
import * as path from 'node:path';
import git from 'isomorphic-git';
import { commitParents } from './payload.js';
import { RevisionNotFoundError, type RawObject, type TrustRepository } from './repository.js';

function gitdirOf(dir: string): string {
  const dotGit = path.join(dir, '.git');
  try {
    const st = fs.statSync(dotGit);
    if (st.isDirectory()) return dotGit;
    // A worktree or submodule: ".git" is a file "gitdir: <path>".
    const m = /^gitdir:\s*(.+)$/m.exec(fs.readFileSync(dotGit, 'utf8'));
    if (m?.[1]) return path.resolve(dir, m[1].trim());
  } catch {
    // no .git: a bare repository
  }
  return dir;
}

export function openGitRepository(dir: string): TrustRepository {
  const gitdir = gitdirOf(dir);
  // isomorphic-git keeps parsed packfile indexes in this object between calls.
  const cache = {};

  async function readObject(id: string): Promise<RawObject> {
    const o = await git.readObject({ fs, gitdir, oid: id, format: 'content', cache });
    return { id: o.oid, type: o.type as RawObject['type'], raw: o.object as Uint8Array };
  }

  async function resolveObject(rev: string): Promise<string> {
    if (/^[0-9a-f]{4,40}$/i.test(rev)) {
      try {
        return await git.expandOid({ fs, gitdir, oid: rev.toLowerCase(), cache });
      } catch {
        // not an id: maybe a ref that looks like hex
      }
    }
    try {
      return await git.resolveRef({ fs, gitdir, ref: rev });
    } catch {
      throw new RevisionNotFoundError(rev, dir);
    }
  }

  /** Peel `rev` to a commit, then follow `~N` / `^N` suffixes (first / Nth parent). */
  async function resolveCommit(rev: string): Promise<string> {
    const m = /^(.*?)((?:[~^]\d*)*)$/.exec(rev);
    const base = m?.[1] || rev;
    let id = await peelToCommit(base);
    for (const step of (m?.[2] ?? '').match(/[~^]\d*/g) ?? []) {
      const n = step.length > 1 ? Number(step.slice(1)) : 1;
      const hops = step[0] === '~' ? n : 1;
      const index = step[0] === '^' ? n - 1 : 0;
      for (let i = 0; i < hops; i++) {
        if (step[0] === '^' && n === 0) break;
        const parents = commitParents((await readObject(id)).raw);
        const next = parents[index];
        if (!next) throw new RevisionNotFoundError(rev, dir);
        id = next;
      }
    }
    return id;
  }

  async function peelToCommit(rev: string): Promise<string> {
    let id = await resolveObject(rev);
    for (let i = 0; i < 10; i++) {
      const o = await readObject(id);
      if (o.type === 'commit') return id;
      if (o.type !== 'tag') break;
      const m = /^object ([0-9a-f]{40})$/m.exec(Buffer.from(o.raw).toString('utf8'));
      if (!m?.[1]) break;
      id = m[1];
    }
    throw new RevisionNotFoundError(`${rev} (not a commit)`, dir);
  }

  async function readFile(commit: string, filepath: string): Promise<Uint8Array | null> {
    try {
      const { blob } = await git.readBlob({ fs, gitdir, oid: commit, filepath, cache });
      return blob;
    } catch (e) {
      if ((e as { code?: string }).code === 'NotFoundError') return null;
      throw e;
    }
  }

  return { resolveCommit, resolveObject, readObject, readFile };
}
