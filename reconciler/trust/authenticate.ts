// The trust gate: authenticate every commit from the last authenticated one
// (or the introduction) up to a new head. Fetching goes through a
// TrustRepository; judging is rule.ts; this file only orders the steps.

import { cacheKey, loadCache, saveCache } from './auth-cache.js';
import { EvidenceReader } from './evidence.js';
import { collectRange, descendsFrom } from './range.js';
import { describeCommit, type Refusal } from './refusal.js';
import type { TrustRepository } from './repository.js';
import { judgeCommit, judgeIntroduction, normalizeFingerprint, type CommitAuth, type IntroductionRef } from './rule.js';

export interface AuthenticateOptions {
  /** Git working directory or bare repository. */
  dir: string;
  introduction: IntroductionRef;
  /** Last applied commit: the new head must descend from it. */
  since?: string;
  to: string;
  allowDowngrade?: boolean;
  /** JSON file of authenticated ids, shared across introductions. */
  cacheFile?: string;
}

export type AuthResult =
  | { ok: true; head: string; checked: number; cached: number; commits: CommitAuth[] }
  | { ok: false; refusal: Refusal; checked: number };

export async function authenticateIn(repo: TrustRepository, opts: AuthenticateOptions): Promise<AuthResult> {
  const reader = new EvidenceReader(repo);
  const intro: IntroductionRef = {
    commit: await repo.resolveCommit(opts.introduction.commit),
    fingerprint: normalizeFingerprint(opts.introduction.fingerprint),
  };
  const head = await repo.resolveCommit(opts.to);
  const key = cacheKey(intro.commit, intro.fingerprint);
  const cache = opts.cacheFile ? await loadCache(opts.cacheFile, key) : { entries: new Map<string, CommitAuth>(), corrupt: false };
  const headInfo = await reader.commit(head);
  const refused = (refusal: Refusal, checked: number): AuthResult => ({ ok: false, refusal, checked });

  if (opts.since !== undefined) {
    const since = await repo.resolveCommit(opts.since);
    if (!(await descendsFrom(reader, head, since)) && !opts.allowDowngrade) {
      const sinceInfo = await reader.commit(since);
      return refused({
        reason: 'Downgrade',
        commit: head,
        message: `commit ${describeCommit(head, headInfo.subject)}: does not descend from the last applied commit ${describeCommit(since, sinceInfo.subject)}; a head may only move forward (allowDowngrade overrides)`,
      }, 0);
    }
  }

  const range = await collectRange(reader, head, intro.commit, new Set(cache.entries.keys()));
  const foreign = range.foreignRoots[0];
  if (!range.reachedTrusted || foreign) {
    const what = !range.reachedTrusted
      ? `commit ${describeCommit(head, headInfo.subject)}: does not descend from the introduction ${intro.commit.slice(0, 10)}`
      : `commit ${describeCommit(foreign!.id, foreign!.subject)}: is reachable from ${head.slice(0, 10)} but does not descend from the introduction ${intro.commit.slice(0, 10)}; nothing before or beside the introduction is trusted`;
    return refused({ reason: 'NotDescendantOfIntroduction', commit: range.reachedTrusted ? foreign!.id : head, message: what }, 0);
  }

  const authenticated: CommitAuth[] = [];
  let checked = 0;
  let refusal: Refusal | null = null;
  for (const info of range.commits) {
    const isIntro = info.id === intro.commit;
    const evidence = await reader.evidence(info, isIntro);
    checked++;
    const verdict = isIntro ? judgeIntroduction(evidence, intro) : judgeCommit(evidence);
    if (!verdict.ok) {
      refusal = verdict.refusal;
      break;
    }
    authenticated.push(verdict.auth);
  }
  // Commits proven before a refusal stay proven: keep them for the next run.
  if (opts.cacheFile && (authenticated.length > 0 || cache.corrupt)) {
    await saveCache(opts.cacheFile, key, [...cache.entries.values(), ...authenticated]);
  }
  if (refusal) return refused(refusal, checked);
  return { ok: true, head, checked, cached: cache.entries.size, commits: authenticated };
}
