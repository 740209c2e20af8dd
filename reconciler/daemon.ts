// `bpfleet reconciler`: the long-running shell around the pure core. Wires the
// source (watch/fetch), the reconcile loop and the HTTP API, and keeps all
// state in the state directory so a restart resumes exactly.

import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FleetDesiredState } from '../schemas/desired-state.js';
import type { ReconcilerConfig } from '../schemas/protocol.js';
import { openRevision } from './manifests/git-tree.js';
import { createReconcileLoop, type ReconcileOutcome } from './loop/reconcile.js';
import { createApiServer, type Logger } from './server/api-server.js';
import { loadSigningKey } from './signing/key-files.js';
import { createDesiredSigner } from './signing/sign-desired.js';
import { openLocalSource } from './source/local-source.js';
import { openRemoteSource } from './source/remote-source.js';
import type { FleetSource } from './source/source.js';
import { openStateStore } from './state/state-store.js';
import { MAX_OBJECT_BYTES, type CompileOptions } from './compile/compile-fleet.js';
import { createUrlObjectFetcher, readCachedObject } from './objects/url-objects.js';

export interface ReconcilerDaemon {
  url: string;
  reconcileNow(): Promise<ReconcileOutcome | undefined>;
  close(): Promise<void>;
}

export async function startReconciler(cfg: ReconcilerConfig, log: Logger, baseCompileOptions?: CompileOptions): Promise<ReconcilerDaemon> {
  // URL objects are downloaded once into the state directory and served from there,
  // so agents never reach the origin and a restart compiles without it.
  const objectDir = join(cfg.stateDir, 'objects');
  const compileOptions: CompileOptions = {
    ...baseCompileOptions,
    // Always this fetcher: URL objects are served from its cache.
    fetchUrl: createUrlObjectFetcher({ cacheDir: objectDir, cacheRequired: true, maxBytes: MAX_OBJECT_BYTES, timeoutMs: (cfg.objectFetchTimeout ?? 30) * 1000 }),
  };
  await mkdir(cfg.stateDir, { recursive: true, mode: 0o700 });
  const store = await openStateStore(join(cfg.stateDir, 'state'));
  for (const w of store.warnings) log.warn({ code: 'CorruptFile' }, w);
  const key = await loadSigningKey(cfg.signingKey);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'bpfleet_reconciler_' });
  const commits = new Counter({ name: 'bpfleet_commits_total', help: 'Heads seen by the reconciler, by outcome and reason', labelNames: ['result', 'reason'], registers: [registry] });
  const convergeSeconds = new Histogram({
    name: 'bpfleet_commit_to_converged_seconds',
    help: 'Time from a commit being published to every host reporting it converged',
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers: [registry],
  });

  // Objects are served from the commit that was last published: sha256 → (commit, path).
  let objectIndex: { dir: string; fleet: FleetDesiredState } | undefined;
  const objectCache = new Map<string, Uint8Array>();
  const objects = async (sha: string) => {
    const hit = objectCache.get(sha);
    if (hit) return hit;
    const path = objectIndex?.fleet.objects[sha];
    if (!objectIndex || !path) return null;
    const bytes = /^https?:\/\//.test(path) ? await readCachedObject(objectDir, sha) : ((await (await openRevision(objectIndex.dir, objectIndex.fleet.commit)).read(path)) ?? null);
    if (bytes) objectCache.set(sha, bytes);
    return bytes;
  };

  const webhookSecret = cfg.webhookSecretFile ? readFileSync(cfg.webhookSecretFile, 'utf8').trim() : undefined;
  let source: FleetSource | undefined;
  const api = createApiServer({
    store,
    hosts: new Map(Object.entries(cfg.hosts).map(([h, v]) => [h, v.tokenSha256])),
    adminTokenHash: cfg.adminTokenSha256,
    objects,
    webhookSecret,
    onWebhook: () => source?.poke(),
    signer: createDesiredSigner(key.privateKey),
    log,
    registry,
    staleAfterSeconds: cfg.staleAfterSeconds,
  });

  source =
    'path' in cfg.repo
      ? await openLocalSource(cfg.repo.path, cfg.repo.branch ?? 'main')
      : await openRemoteSource({ url: cfg.repo.url, branch: cfg.repo.branch ?? 'main', cacheDir: cfg.stateDir, intervalMs: (cfg.repo.fetchInterval ?? 60) * 1000 });

  let publishedAt: { commit: string; at: number } | undefined;
  // An unavailable step (remote down, disk full) is retried with backoff: the
  // head must not wait for the next commit once the fault is gone.
  let retryTimer: NodeJS.Timeout | undefined;
  let retryMs = 1000;
  const loop = createReconcileLoop({
    source,
    store,
    publisher: api,
    introduction: cfg.introduction,
    allowDowngrade: cfg.allowDowngrade,
    authCacheFile: join(cfg.stateDir, 'authenticated-commits.json'),
    compileOptions,
    onCompiled: (fleet, dir) => {
      objectIndex = { dir, fleet };
      for (const sha of objectCache.keys()) if (!fleet.objects[sha]) objectCache.delete(sha);
    },
    onOutcome: (o) => {
      const reason = 'reason' in o ? o.reason : '';
      commits.inc({ result: o.result, reason });
      clearTimeout(retryTimer);
      if (o.result === 'unavailable') {
        retryTimer = setTimeout(() => void loop.trigger(), retryMs);
        retryTimer.unref();
        retryMs = Math.min(retryMs * 2, 30_000);
      } else retryMs = 1000;
      if (o.result === 'unchanged') return;
      const fields = { step: o.step, result: o.result, ...('commit' in o ? { commit: o.commit } : {}), ...(reason ? { reason } : {}) };
      if (o.result === 'published') {
        publishedAt = { commit: o.commit, at: Date.now() };
        log.info({ ...fields, changed: o.changed, removed: o.removed, authenticated: o.authenticated }, `published ${o.commit.slice(0, 12)} to ${o.changed.length} host(s)`);
      } else log.warn({ ...fields }, 'message' in o ? o.message : 'reconcile stopped');
    },
  });

  // Commit → converged: checked whenever a host reports.
  const convergeTimer = setInterval(() => {
    if (!publishedAt) return;
    const fleet = api.fleetStatus();
    // Hosts outside the fleet (no desired state) have nothing to converge to.
    const members = fleet.hosts.filter((h) => h.desired !== null);
    if (members.length && members.every((h) => h.state === 'converged' && h.reported?.commit === publishedAt!.commit)) {
      convergeSeconds.observe((Date.now() - publishedAt.at) / 1000);
      log.info({ commit: publishedAt.commit, seconds: (Date.now() - publishedAt.at) / 1000 }, 'fleet converged');
      publishedAt = undefined;
    }
  }, 100);
  convergeTimer.unref();

  await loop.resume();
  const [hostPart, portPart] = splitListen(cfg.listen);
  const addr = await api.listen(Number(portPart), hostPart);
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  log.info({ url, source: source.description }, 'reconciler listening');

  let debounce: NodeJS.Timeout | undefined;
  source.watch(() => {
    clearTimeout(debounce);
    debounce = setTimeout(() => void loop.trigger(), 50);
  });
  await loop.trigger();

  return {
    url,
    reconcileNow: () => loop.trigger(),
    async close() {
      clearInterval(convergeTimer);
      clearTimeout(debounce);
      clearTimeout(retryTimer);
      await source!.close();
      await api.close();
    },
  };
}

function splitListen(listen: string): [string, string] {
  const i = listen.lastIndexOf(':');
  return [listen.slice(0, i).replace(/^\[|\]$/g, ''), listen.slice(i + 1)];
}
