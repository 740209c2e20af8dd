// A remote repository (https, ssh or file://): a bare mirror under the state
// directory, fetched on an interval and whenever a webhook pokes us. A failed
// fetch keeps the last good mirror: the fleet keeps its last state.

import { mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { simpleGit } from 'simple-git';
import { redactUrl, SourceError, type FleetSource } from './source.js';

export interface RemoteSourceOptions {
  url: string;
  branch: string;
  /** Parent directory for the mirror (the reconciler's state dir). */
  cacheDir: string;
  intervalMs: number;
}

export async function openRemoteSource(o: RemoteSourceOptions): Promise<FleetSource> {
  const dir = join(o.cacheDir, 'mirror.git');
  mkdirSync(o.cacheDir, { recursive: true });
  const refspec = `+refs/heads/${o.branch}:refs/heads/${o.branch}`;
  if (!existsSync(join(dir, 'HEAD'))) {
    await simpleGit().raw(['init', '--bare', '--quiet', dir]);
  }
  const repo = simpleGit(dir, { timeout: { block: 120_000 } });
  let timer: NodeJS.Timeout | undefined;
  let hint: (() => void) | undefined;
  const safe = redactUrl(o.url);
  return {
    dir,
    description: `${safe} (branch ${o.branch})`,
    async refresh() {
      try {
        // Never follow the remote's own idea of what to fetch: one branch, forced, no tags.
        await repo.raw(['fetch', '--quiet', '--no-tags', '--prune', '--', o.url, refspec]);
      } catch (err) {
        const msg = String((err as Error).message ?? err).split('\n')[0]!.replaceAll(o.url, safe);
        throw new SourceError('SourceUnavailable', `cannot fetch ${safe}: ${msg}`);
      }
      try {
        return (await repo.raw(['rev-parse', '--verify', '--quiet', `refs/heads/${o.branch}^{commit}`])).trim();
      } catch {
        throw new SourceError('BranchNotFound', `branch ${o.branch} does not exist at ${safe}`);
      }
    },
    watch(onHint) {
      hint = onHint;
      timer = setInterval(onHint, o.intervalMs);
      timer.unref();
    },
    poke() {
      hint?.();
    },
    async close() {
      if (timer) clearInterval(timer);
    },
  };
}
