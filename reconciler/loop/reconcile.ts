// One reconcile is an ordered list of named steps — fetch, authenticate,
// compile, publish — and a summary of where it stopped and why. A refused or
// invalid head never replaces what agents run: the fleet stays on the last
// good commit and status says why.

import { compileFleet, type CompileOptions } from '../compile/compile-fleet.js';
import { formatDiagnostic } from '../manifests/diagnostic.js';
import { openRevision } from '../manifests/git-tree.js';
import type { FleetDesiredState } from '../../schemas/desired-state.js';
import type { PendingHead, TrustStatus } from '../../schemas/protocol.js';
import type { StateStore } from '../state/state-store.js';
import type { FleetSource } from '../source/source.js';
import { authenticate, type AuthResult } from '../trust/index.js';

export type ReconcileOutcome =
  | { step: 'fetch' | 'authenticate'; result: 'unavailable'; reason: string; message: string }
  | { step: 'authenticate'; result: 'refused'; reason: string; message: string; commit: string }
  | { step: 'compile'; result: 'invalid'; reason: 'InvalidCommit'; message: string; commit: string }
  | { step: 'compile'; result: 'unavailable'; reason: 'ObjectFetchFailed'; message: string; commit: string }
  | { step: 'publish'; result: 'published'; commit: string; changed: string[]; removed: string[]; authenticated: number }
  | { step: 'fetch'; result: 'unchanged'; commit: string };

export interface Publisher {
  publish(fleet: FleetDesiredState): Promise<{ changed: string[]; removed: string[] }>;
  setFleetInfo(info: { trust: TrustStatus; pending?: PendingHead }): void;
}

export interface ReconcileDeps {
  source: FleetSource;
  store: StateStore;
  publisher: Publisher;
  introduction: { commit: string; fingerprint: string };
  allowDowngrade?: boolean;
  /** Cache of authenticated commit ids (a restart does not re-verify history). */
  authCacheFile: string;
  compileOptions?: CompileOptions;
  onOutcome?: (o: ReconcileOutcome) => void;
  onCompiled?: (fleet: FleetDesiredState, dir: string) => void;
}

export interface ReconcileLoop {
  /** Publish the last applied commit again (after a restart), before any new head is looked at. */
  resume(): Promise<void>;
  /** Runs one reconcile now, or right after the running one. */
  trigger(): Promise<ReconcileOutcome | undefined>;
  runOnce(): Promise<ReconcileOutcome>;
  last(): ReconcileOutcome | undefined;
}

export function createReconcileLoop(d: ReconcileDeps): ReconcileLoop {
  let running: Promise<ReconcileOutcome> | undefined;
  let again = false;
  let lastOutcome: ReconcileOutcome | undefined;
  let lastTrust: TrustStatus = { status: 'pending' };
  let pending: PendingHead | undefined;

  // `since` is when the gate entered its current verdict, kept while the verdict stays the same.
  const setTrust = (t: TrustStatus) => {
    if (t.status === 'refused') pending = undefined; // a refused head supersedes one that waited
    const same = t.status === lastTrust.status && t.reason === lastTrust.reason && t.commit === lastTrust.commit;
    lastTrust = { ...t, since: same && lastTrust.since ? lastTrust.since : new Date().toISOString() };
    d.publisher.setFleetInfo({ trust: lastTrust, pending });
  };
  // A head that waits on something outside Git (an object URL): status says so until it is published or superseded.
  const setPending = (p: Omit<PendingHead, 'since'> | undefined) => {
    const same = p && pending && p.commit === pending.commit && p.reason === pending.reason;
    pending = p ? { ...p, since: same ? pending!.since : new Date().toISOString() } : undefined;
    d.publisher.setFleetInfo({ trust: lastTrust, pending });
  };

  async function compileAt(commit: string) {
    return compileFleet(await openRevision(d.source.dir, commit), d.compileOptions);
  }

  async function runOnce(): Promise<ReconcileOutcome> {
    const applied = d.store.commits().applied ?? undefined;

    // 1. fetch
    let head: string;
    try {
      head = await d.source.refresh();
    } catch (err) {
      const e = err as { code?: string; message: string };
      // Keep the last trust verdict: an unreachable remote is not a refusal.
      return { step: 'fetch', result: 'unavailable', reason: e.code ?? 'SourceUnavailable', message: e.message };
    }
    if (head === applied && lastTrust.status === 'authenticated') return { step: 'fetch', result: 'unchanged', commit: head };

    // 2. authenticate every commit since the last applied one
    let auth: AuthResult;
    try {
      auth = await authenticate({
        dir: d.source.dir,
        introduction: d.introduction,
        since: applied,
        to: head,
        allowDowngrade: d.allowDowngrade,
        cacheFile: d.authCacheFile,
      });
    } catch (err) {
      const e = err as { code?: string; message: string; syscall?: string };
      // A failing disk (ENOSPC, EIO...) is not a verdict on the commit: keep the
      // last trust status and let the daemon retry.
      if (e.syscall) return { step: 'authenticate', result: 'unavailable', reason: e.code ?? 'IoError', message: e.message };
      setTrust({ status: 'refused', reason: e.code ?? 'AuthenticationFailed', message: e.message, commit: head, lastAuthenticatedCommit: d.store.commits().authenticated ?? undefined });
      return { step: 'authenticate', result: 'refused', reason: e.code ?? 'AuthenticationFailed', message: e.message, commit: head };
    }
    if (!auth.ok) {
      setTrust({
        status: 'refused',
        reason: auth.refusal.reason,
        message: auth.refusal.message,
        commit: auth.refusal.commit,
        lastAuthenticatedCommit: d.store.commits().authenticated ?? undefined,
      });
      return { step: 'authenticate', result: 'refused', reason: auth.refusal.reason, message: auth.refusal.message, commit: auth.refusal.commit };
    }
    await d.store.setCommits({ authenticated: head });

    // 3. compile
    const compiled = await compileAt(head);
    if (!compiled.ok) {
      // An object URL that did not answer is not a verdict on the commit: retry it.
      // (A digest mismatch is: the bytes that came back are not the pinned ones.)
      const fetchFailures = compiled.diagnostics.filter((x) => x.code === 'ObjectFetchFailed');
      if (fetchFailures.length > 0 && fetchFailures.length === compiled.diagnostics.length) {
        const message = `commit ${head.slice(0, 12)} waits for its objects (retrying): ${fetchFailures.map(formatDiagnostic).join('; ')}`;
        setPending({ commit: head, reason: 'ObjectFetchFailed', message });
        return { step: 'compile', result: 'unavailable', reason: 'ObjectFetchFailed', message, commit: head };
      }
      pending = undefined;
      const shown = compiled.diagnostics.slice(0, 5).map(formatDiagnostic);
      const more = compiled.diagnostics.length > shown.length ? ` (+${compiled.diagnostics.length - shown.length} more)` : '';
      const message = `commit ${head.slice(0, 12)} is invalid: ${shown.join('; ')}${more}`;
      setTrust({ status: 'refused', reason: 'InvalidCommit', message, commit: head, lastAuthenticatedCommit: head });
      return { step: 'compile', result: 'invalid', reason: 'InvalidCommit', message, commit: head };
    }
    d.onCompiled?.(compiled.fleet, d.source.dir);

    // 4. publish (generations bump only where a host's state changed)
    const { changed, removed } = await d.publisher.publish(compiled.fleet);
    await d.store.setCommits({ applied: head });
    pending = undefined;
    setTrust({ status: 'authenticated', commit: head, lastAuthenticatedCommit: head });
    return { step: 'publish', result: 'published', commit: head, changed, removed, authenticated: auth.checked };
  }

  const loop: ReconcileLoop = {
    async resume() {
      const applied = d.store.commits().applied;
      if (!applied) return;
      const compiled = await compileAt(applied);
      if (!compiled.ok) throw new Error(`the last applied commit ${applied} no longer compiles: ${compiled.diagnostics.map(formatDiagnostic).join('; ')}`);
      d.onCompiled?.(compiled.fleet, d.source.dir);
      await d.publisher.publish(compiled.fleet);
      setTrust({ status: 'authenticated', commit: applied, lastAuthenticatedCommit: d.store.commits().authenticated ?? applied });
    },
    async trigger() {
      if (running) {
        again = true;
        return running;
      }
      do {
        again = false;
        running = runOnce().catch((err: Error) => ({ step: 'fetch', result: 'unavailable', reason: 'InternalError', message: err.stack ?? err.message }) as ReconcileOutcome);
        lastOutcome = await running;
        running = undefined;
        d.onOutcome?.(lastOutcome);
      } while (again);
      return lastOutcome;
    },
    runOnce,
    last: () => lastOutcome,
  };
  return loop;
}
