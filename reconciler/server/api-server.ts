// The reconciler's HTTP API (node:http). Agents long-poll their signed desired
// state and push status; operators read the fleet view; a forge's webhook
// hints that a fetch is due. See docs of each route below.
//
//   GET  /v1/hosts/{host}/desired   host token (admin may read)  long-poll, ETag "<generation>"
//   POST /v1/hosts/{host}/status    host token                   StatusReport → 204
//   GET  /v1/objects/{sha256}       host token / admin           only objects the caller's desired state references
//   GET  /v1/fleet[?hooks=1]        admin token                  FleetStatus (with what each host runs)
//   POST /v1/webhook                X-Hub-Signature-256          202, calls onWebhook()
//   GET  /healthz /readyz /metrics  none

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { canonicalHash, sha256Hex } from '../../schemas/canonical-json.js';
import type { FleetDesiredState } from '../../schemas/desired-state.js';
import { HOST_NAME_PATTERN, MAX_WAIT_SECONDS, SHA256_PATTERN, validateProtocol, type FleetStatus, type PendingHead, type TrustStatus } from '../../schemas/protocol.js';
import type { DesiredSigner } from '../signing/sign-desired.js';
import { desiredDocument } from '../signing/sign-desired.js';
import type { HostGeneration, StateStore } from '../state/state-store.js';
import { createAuthenticator, requireAdmin, requireHost, type Principal } from './auth.js';
import { summarizeFleet } from './fleet-view.js';
import { nextGenerations } from './generations.js';
import { HttpError, parseJsonBody, readBody, sendError, sendJson } from './http-util.js';
import { LongPollHub } from './long-poll.js';
import { createApiMetrics } from './metrics.js';
import { verifyWebhookSignature } from './webhook-signature.js';
import type { Logger } from '../../schemas/logger.js';

export type { Logger } from '../../schemas/logger.js';

export interface ApiServerOptions {
  store: StateStore;
  /** host → lower-case hex sha256 of its bearer token. */
  hosts: ReadonlyMap<string, string>;
  adminTokenHash?: string;
  /** Bytes of a repository object by digest, or null when unknown. */
  objects: (sha256: string) => Promise<Uint8Array | null>;
  webhookSecret?: string | Uint8Array;
  onWebhook?: () => void;
  signer: DesiredSigner;
  log?: Logger;
  registry?: Registry;
  /** A host whose last report is older than this is unreachable. Default 180 s. */
  staleAfterSeconds?: number;
  limits?: { statusBytes?: number; webhookBytes?: number; receiptBytes?: number };
  /** Against slow clients; defaults: headers 10 s, whole request 30 s, keep-alive idle 5 s. */
  timeouts?: { headersMs?: number; requestMs?: number; keepAliveMs?: number };
  now?: () => Date;
}

export interface ApiServer {
  readonly server: Server;
  readonly registry: Registry;
  listen(port: number, host?: string): Promise<AddressInfo>;
  /** Sign and serve a compiled fleet; bumps generations only where hash or commit changed and wakes those hosts' long-polls. */
  publish(fleet: FleetDesiredState): Promise<{ changed: string[]; removed: string[] }>;
  /** Fleet-level status shown by GET /v1/fleet (e.g. the trust gate refusing a head). */
  setFleetInfo(info: { trust: TrustStatus; pending?: PendingHead }): void;
  fleetStatus(): FleetStatus;
  close(): Promise<void>;
}

interface Published {
  generation: number;
  commit: string;
  hash: string;
  body: Buffer;
  objects: Set<string>;
}

const noop = () => undefined;
const silent: Logger = { debug: noop, info: noop, warn: noop, error: noop };

export function createApiServer(opts: ApiServerOptions): ApiServer {
  const { store, signer } = opts;
  const log = opts.log ?? silent;
  const clock = opts.now ?? (() => new Date());
  const staleAfterMs = (opts.staleAfterSeconds ?? 180) * 1000;
  const limits = { statusBytes: 256 * 1024, webhookBytes: 1024 * 1024, receiptBytes: 64 * 1024, ...opts.limits };
  const auth = createAuthenticator(opts.hosts, opts.adminTokenHash);
  const hub = new LongPollHub();
  const registry = opts.registry ?? new Registry();

  let published = new Map<string, Published>();
  let everPublished = false;
  let fleetCommit: string | null = store.commits().applied;
  let trust: TrustStatus = { status: 'pending' };
  let pending: PendingHead | undefined;
  let publishing: Promise<unknown> = Promise.resolve();

  function fleetStatus(withHooks = false): FleetStatus {
    const names = new Set<string>([...opts.hosts.keys(), ...published.keys()]);
    const gens = store.generations();
    const statuses = store.statuses();
    return summarizeFleet({
      hosts: [...names].map((host) => ({
        host,
        desired: desiredOf(host, gens),
        status: statuses[host] ?? null,
      })),
      trust,
      pending,
      commit: fleetCommit,
      now: clock(),
      staleAfterMs,
      withHooks,
    });
  }

  function desiredOf(host: string, gens: Readonly<Record<string, HostGeneration>>): HostGeneration | null {
    const p = published.get(host);
    if (p) return gens[host] ?? null;
    // Before the first publish after a restart, the stored generations are the truth.
    return everPublished ? null : (gens[host] ?? null);
  }

  const metrics = createApiMetrics(registry, { fleet: fleetStatus, waiting: () => hub.waiting });

  // --- routes ---------------------------------------------------------------

  async function getDesired(req: IncomingMessage, res: ServerResponse, host: string, url: URL): Promise<void> {
    requireHost(auth.identify(req), host, { adminMayRead: true });
    const since = parseEtag(req.headers['if-none-match']);
    const waitSeconds = parseWait(url.searchParams.get('wait'));
    const answer = () => {
      const p = published.get(host);
      if (p && p.generation > since) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': p.body.length, etag: `"${p.generation}"`, 'cache-control': 'no-store' });
        res.end(p.body);
        return true;
      }
      return false;
    };
    if (answer()) return;
    if (waitSeconds === 0) return notModified(res, since);
    await new Promise<void>((resolve) => {
      const cancel = hub.park(host, waitSeconds * 1000, (reason) => {
        if (reason === 'shutdown') sendError(res, new HttpError(503, 'ShuttingDown', 'the reconciler is shutting down; retry'));
        else if (!answer()) notModified(res, since);
        resolve();
      });
      res.on('close', () => {
        cancel();
        resolve();
      });
    });
  }

  async function postStatus(req: IncomingMessage, res: ServerResponse, host: string): Promise<void> {
    requireHost(auth.identify(req), host, { adminMayRead: false });
    const parsed = parseJsonBody(await readBody(req, limits.statusBytes));
    const v = validateProtocol('StatusReport', parsed);
    if (!v.ok) throw new HttpError(422, 'InvalidStatusReport', `status report does not match the schema: ${v.errors.join('; ')}`, { errors: v.errors });
    const report = v.value;
    if (report.host !== host) throw new HttpError(422, 'HostMismatch', `report is for host ${report.host}, posted to ${host}`, { host });
    if (report.receipt && Buffer.byteLength(JSON.stringify(report.receipt)) > limits.receiptBytes) {
      throw new HttpError(422, 'ReceiptTooLarge', `apply receipt exceeds ${limits.receiptBytes} bytes`, { limit: limits.receiptBytes });
    }
    const now = clock();
    try {
      await store.saveStatus(report, now);
      if (report.receipt) {
        const last = store.receipts(host).at(-1);
        const same = last && last.generation === report.generation && canonicalHash(last.receipt) === canonicalHash(report.receipt);
        if (!same) await store.appendReceipt(host, { generation: report.generation, commit: report.commit, receivedAt: now.toISOString(), receipt: report.receipt });
      }
    } catch (err) {
      log.error({ host, err: (err as Error).message }, 'cannot persist status report');
      throw new HttpError(503, 'StateWriteFailed', 'the reconciler could not persist the report; retry', { reason: (err as { code?: string }).code });
    }
    res.writeHead(204, { 'cache-control': 'no-store' });
    res.end();
  }

  async function getObject(req: IncomingMessage, res: ServerResponse, sha: string): Promise<void> {
    const who: Principal = auth.identify(req);
    const referenced = who.kind === 'admin' ? [...published.values()].some((p) => p.objects.has(sha)) : (published.get(who.host)?.objects.has(sha) ?? false);
    if (!referenced) throw new HttpError(404, 'ObjectNotReferenced', `object ${sha} is not referenced by this caller's desired state`, { sha256: sha });
    const bytes = await opts.objects(sha);
    if (!bytes) throw new HttpError(404, 'ObjectNotFound', `object ${sha} is not available`, { sha256: sha });
    // Never serve bytes that do not match their name; the agent re-checks too.
    if (sha256Hex(bytes) !== sha) throw new HttpError(500, 'ObjectDigestMismatch', `stored object ${sha} does not match its digest`, { sha256: sha });
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length, etag: `"${sha}"`, 'cache-control': 'private, max-age=31536000, immutable' });
    res.end(bytes);
  }

  async function postWebhook(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!opts.webhookSecret) throw new HttpError(404, 'WebhookDisabled', 'no webhook secret is configured');
    const body = await readBody(req, limits.webhookBytes);
    const sig = req.headers['x-hub-signature-256'];
    if (!verifyWebhookSignature(opts.webhookSecret, body, typeof sig === 'string' ? sig : undefined)) {
      throw new HttpError(401, 'BadWebhookSignature', 'X-Hub-Signature-256 is missing or does not match the body');
    }
    opts.onWebhook?.();
    sendJson(res, 202, { accepted: true });
  }

  // --- dispatch -------------------------------------------------------------

  async function dispatch(req: IncomingMessage, res: ServerResponse, setRoute: (r: string) => void): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://bpfleet.invalid');
    // Route on the raw path: WHATWG URL would resolve '..' segments and turn
    // /v1/hosts/../desired into another route instead of a bad host name.
    const rawPath = (req.url ?? '/').split('?')[0]!;
    let parts: string[];
    try {
      parts = rawPath.split('/').slice(1).map(decodeURIComponent);
    } catch {
      throw new HttpError(400, 'MalformedPath', 'the path is not valid percent-encoding');
    }
    const method = req.method ?? 'GET';
    const only = (m: string) => {
      if (method !== m && !(m === 'GET' && method === 'HEAD')) throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed here; use ${m}`);
    };
    const [a, b, c, d, ...rest] = parts;
    if (a === 'healthz' && parts.length === 1) {
      setRoute('/healthz');
      only('GET');
      return sendJson(res, 200, { status: 'ok' });
    }
    if (a === 'readyz' && parts.length === 1) {
      setRoute('/readyz');
      only('GET');
      return everPublished ? sendJson(res, 200, { status: 'ready' }) : sendJson(res, 503, { status: 'not-ready', code: 'NotPublished', message: 'no desired state has been published yet' });
    }
    if (a === 'metrics' && parts.length === 1) {
      setRoute('/metrics');
      only('GET');
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(text);
      return;
    }
    if (a !== 'v1') throw new HttpError(404, 'NotFound', `no route for ${url.pathname}`);
    if (b === 'fleet' && parts.length === 2) {
      setRoute('/v1/fleet');
      only('GET');
      requireAdmin(auth.identify(req));
      return sendJson(res, 200, fleetStatus(url.searchParams.get('hooks') === '1'));
    }
    if (b === 'webhook' && parts.length === 2) {
      setRoute('/v1/webhook');
      only('POST');
      return postWebhook(req, res);
    }
    if (b === 'objects' && parts.length === 3) {
      setRoute('/v1/objects/{sha256}');
      only('GET');
      if (!SHA256_PATTERN.test(c ?? '')) throw new HttpError(400, 'BadDigest', 'an object is named by its lower-case hex sha256');
      return getObject(req, res, c!);
    }
    if (b === 'hosts' && c !== undefined && rest.length === 0 && (d === 'desired' || d === 'status')) {
      setRoute(`/v1/hosts/{host}/${d}`);
      if (!HOST_NAME_PATTERN.test(c)) throw new HttpError(400, 'BadHostName', 'host names are lower-case letters, digits, "." and "-" (at most 63)');
      if (d === 'desired') {
        only('GET');
        return getDesired(req, res, c, url);
      }
      only('POST');
      return postStatus(req, res, c);
    }
    throw new HttpError(404, 'NotFound', `no route for ${url.pathname}`);
  }

  const server = createServer(
    {
      headersTimeout: opts.timeouts?.headersMs ?? 10_000,
      requestTimeout: opts.timeouts?.requestMs ?? 30_000,
      keepAliveTimeout: opts.timeouts?.keepAliveMs ?? 5_000,
      // node enforces headers/request timeouts only on this sweep (default 30 s).
      connectionsCheckingInterval: Math.min(1_000, opts.timeouts?.headersMs ?? 1_000),
    },
    (req, res) => {
      let route = 'unmatched';
      const started = process.hrtime.bigint();
      res.on('finish', () => {
        metrics.requests.inc({ route, code: String(res.statusCode) });
        log.debug({ route, method: req.method, code: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'request');
      });
      dispatch(req, res, (r) => (route = r)).catch((err: unknown) => {
        if (err instanceof HttpError) return sendError(res, err);
        log.error({ route, err: (err as Error).message }, 'request failed');
        sendError(res, new HttpError(500, 'InternalError', 'internal error'));
      });
    },
  );
  // A parked long-poll sends nothing for up to MAX_WAIT_SECONDS; idle sockets beyond that are dead.
  server.timeout = (MAX_WAIT_SECONDS + 30) * 1000;

  async function doPublish(fleet: FleetDesiredState): Promise<{ changed: string[]; removed: string[] }> {
    const now = clock();
    const changes = nextGenerations(fleet, store.generations(), now);
    if (Object.keys(changes).length > 0) await store.setGenerations(changes);
    if (store.commits().applied !== fleet.commit) await store.setCommits({ applied: fleet.commit }, now);
    const gens = store.generations();
    const next = new Map<string, Published>();
    for (const [host, entry] of Object.entries(fleet.hosts)) {
      const g = gens[host]!;
      const prev = published.get(host);
      if (prev && prev.generation === g.generation) {
        next.set(host, prev);
        continue;
      }
      const doc = desiredDocument({ host, commit: g.commit, generation: g.generation, state: entry.state, hash: entry.hash, issuedAt: new Date(g.issuedAt) });
      const objects = new Set(entry.state.interfaces.flatMap((i) => i.hooks.flatMap((h) => h.chain.map((m) => m.object.sha256))));
      next.set(host, { generation: g.generation, commit: g.commit, hash: g.hash, body: Buffer.from(JSON.stringify(signer.sign(doc))), objects });
      if (!opts.hosts.has(host)) log.warn({ host }, 'host has desired state but no token; it cannot fetch it');
    }
    const removed = [...published.keys()].filter((h) => !next.has(h));
    published = next;
    everPublished = true;
    fleetCommit = fleet.commit;
    const changed = Object.keys(changes);
    for (const host of changed) {
      metrics.generation.set({ host }, changes[host]!.generation);
      hub.wake(host);
    }
    for (const host of removed) metrics.generation.remove({ host });
    log.info({ commit: fleet.commit, changed: changed.length, removed: removed.length, hosts: next.size }, 'published desired state');
    return { changed, removed };
  }

  return {
    server,
    registry,
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port, host, backlog: 4096 }, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    publish(fleet) {
      // Publishes run one at a time so generations are read and written in order.
      const run = publishing.then(() => doPublish(fleet));
      publishing = run.catch(() => undefined);
      return run;
    },
    setFleetInfo(info) {
      trust = info.trust;
      pending = info.pending;
    },
    fleetStatus,
    close() {
      hub.shutdown();
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function parseEtag(header: string | undefined): number {
  const m = header ? /^(?:W\/)?"(\d{1,16})"$/.exec(header.trim()) : null;
  return m ? Number(m[1]) : 0;
}

function parseWait(raw: string | null): number {
  if (raw === null) return 0;
  if (!/^\d{1,5}$/.test(raw)) throw new HttpError(400, 'BadWait', `wait must be whole seconds (0-${MAX_WAIT_SECONDS})`);
  return Math.min(Number(raw), MAX_WAIT_SECONDS);
}

function notModified(res: ServerResponse, since: number): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(304, { etag: `"${since}"`, 'cache-control': 'no-store' });
  res.end();
}
