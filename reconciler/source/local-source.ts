// A repository on the reconciler's own disk: chokidar watches the refs, so a
// commit (or a push into a bare repository) is seen within a second.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { watch, type FSWatcher } from 'chokidar';
import { SourceError, type FleetSource } from './source.js';

const run = promisify(execFile);

export async function openLocalSource(dir: string, branch: string): Promise<FleetSource> {
  let gitdir: string;
  try {
    const { stdout } = await run('git', ['-C', dir, 'rev-parse', '--absolute-git-dir']);
    gitdir = stdout.trim();
  } catch (err) {
    throw new SourceError('SourceUnavailable', `${dir} is not a Git repository: ${(err as { stderr?: string }).stderr?.trim() ?? err}`);
  }
  let watcher: FSWatcher | undefined;
  let hint: (() => void) | undefined;
  return {
    dir,
    description: `${dir} (branch ${branch})`,
    async refresh() {
      try {
        const { stdout } = await run('git', ['-C', dir, 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`]);
        return stdout.trim();
      } catch {
        throw new SourceError('BranchNotFound', `branch ${branch} does not exist in ${dir}`);
      }
    },
    watch(onHint) {
      hint = onHint;
      // Loose refs, packed refs (after gc) and the reflog all move on a commit.
      watcher = watch([`${gitdir}/refs/heads`, `${gitdir}/packed-refs`, `${gitdir}/logs/refs/heads`], {
        ignoreInitial: true,
        depth: 8,
      });
      watcher.on('all', () => onHint());
    },
    poke() {
      hint?.();
    },
    async close() {
      await watcher?.close();
    },
  };
}
