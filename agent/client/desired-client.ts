// The agent's side of the transport: long-poll the reconciler for this host's
// signed desired state, accept only what the pinned key signed for this host
// with a generation newer than the last applied one, and hand it to the apply
// step. When no reconciler answers, the datapath keeps running what it runs and
// the client retries with backoff across the configured URLs.

import type { KeyObject } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { sha256Hex } from '../../schemas/canonical-json.js';
import { DesiredVerificationError, toPublicKey, verifyDesired } from '../../schemas/desired-signature.js';
import { MAX_WAIT_SECONDS, SHA256_PATTERN, validateProtocol, type DesiredDocument, type StatusReport } from '../../schemas/protocol.js';
import { readAppliedRecord, writeAppliedRecord, type AppliedRecord } from './applied-record.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { createObjectCache } from './object-cache.js';
import type { Logger } from '../../schemas/logger.js';

export type DesiredClientErrorCode =
  | DesiredVerificationError['code']
  | 'ForeignHost'
  | 'StaleGeneration'
  | 'Unauthorized'
  | 'UnexpectedStatus'
  | 'ResponseTooLarge'
  | 'Unreachable'
  | 'DigestMismatch'
  | 'InvalidStatusReport';

export class DesiredClientError extends Error {
  constructor(
    readonly code: DesiredClientErrorCode,
    message: string,
    readonly data: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DesiredClientError';
  }
}

/** pino-compatible subset (schemas/logger.ts). */
export type ClientLogger = Logger;

export interface DesiredClientOptions {
  /** Reconciler base URLs, tried in order (e.g. http://10.0.0.1:7443). */
  urls: string[];
  host: string;
  token: string;
  /** The reconciler's pinned ed25519 public key (SPKI PEM or KeyObject). */
  publicKey: string | KeyObject;
  stateDir: string;
  /** Apply a verified document. Resolving records it as applied; throwing leaves the last applied one in place. */
  onDesired(doc: DesiredDocument): Promise<void>;
  /** A document or response was refused (forged, foreign, replayed...). */
  onRefused?(err: DesiredClientError): void;
  /** Long-poll wait in seconds (≤ 60). Default 55. */
  waitSeconds?: number;
  backoff?: BackoffPolicy;
  /** Largest desired-state or object response accepted. Defaults 8 MiB / 64 MiB. */
  maxDesiredBytes?: number;
  maxObjectBytes?: number;
  log?: ClientLogger;
  /** Fetch the applied generation once more (the agent lost its copy of the document). */
  resync?: boolean;
}

export interface DesiredClient {
  /** Start the long-poll loop (idempotent). */
  start(): void;
  /** Stop polling and close connections. */
  stop(): Promise<void>;
  /** One poll against the current URL: 'applied', 'unchanged' (304), or throws DesiredClientError. */
  pollOnce(): Promise<'applied' | 'unchanged' | 'apply-failed'>;
  /** POST a status report; tries each URL once, throws the last error when none accepted it. */
  reportStatus(report: StatusReport): Promise<void>;
  /** Object bytes by digest, from the local cache or the reconciler; digest-checked. */
  fetchObject(sha256: string): Promise<Uint8Array>;
  /** The last applied generation (persisted), or undefined before the first. */
  lastApplied(): AppliedRecord | undefined;
}

const noop = () => undefined;
const silent: ClientLogger = { debug: noop, info: noop, warn: noop, error: noop };

export async function createDesiredClient(opts: DesiredClientOptions): Promise<DesiredClient> {
  if (opts.urls.length === 0) throw new Error('createDesiredClient needs at least one reconciler URL');
  const log = opts.log ?? silent;
  const key = toPublicKey(opts.publicKey);
  const wait = Math.min(opts.waitSeconds ?? 55, MAX_WAIT_SECONDS);
  const policy = opts.backoff ?? DEFAULT_BACKOFF;
  const maxDesired = opts.maxDesiredBytes ?? 8 * 1024 * 1024;
  const maxObject = opts.maxObjectBytes ?? 64 * 1024 * 1024;
  const urls = opts.urls.map((u) => u.replace(/\/+$/, ''));
  await mkdir(opts.stateDir, { recursive: true, mode: 0o700 });
  const cache = createObjectCache(opts.stateDir);

  let applied = await readAppliedRecord(opts.stateDir);
  // Highest generation seen (applied or failed to apply): the ETag we poll with,
  // so a document whose apply failed is not fetched again in a tight loop.
  let resyncing = opts.resync === true && applied !== undefined;
  let seen = resyncing ? applied!.generation - 1 : (applied?.generation ?? 0);
  let urlIndex = 0;
  let running = false;
  let closed = false;
  let loop: Promise<void> | undefined;
  let abort = new AbortController();

  // headersTimeout must outlast the long-poll, or undici gives up on a healthy wait.
  const dispatcher: Dispatcher = new Agent({ keepAliveTimeout: 30_000, headersTimeout: (wait + 15) * 1000, bodyTimeout: 60_000, connect: { timeout: 5_000 } });
  const auth = { authorization: `Bearer ${opts.token}` };

  async function call(url: string, init: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string; signal?: AbortSignal }) {
    try {
      return await request(url, { dispatcher, method: init.method ?? 'GET', headers: { ...auth, ...init.headers }, body: init.body, signal: init.signal });
    } catch (err) {
      if (init.signal?.aborted) throw err;
      throw new DesiredClientError('Unreachable', `reconciler ${new URL(url).origin} did not answer: ${(err as Error).message}`, { url: new URL(url).origin });
    }
  }

  async function pollOnce(): Promise<'applied' | 'unchanged' | 'apply-failed'> {
    const base = urls[urlIndex % urls.length]!;
    const res = await call(`${base}/v1/hosts/${encodeURIComponent(opts.host)}/desired?wait=${wait}`, { headers: { 'if-none-match': `"${seen}"` }, signal: abort.signal });
    if (res.statusCode === 304) {
      await res.body.dump();
      return 'unchanged';
    }
    if (res.statusCode !== 200) throw await statusError(res, base);
    const body = await readLimited(res.body, maxDesired, base);
    let envelope: unknown;
    try {
      envelope = JSON.parse(body.toString('utf8'));
    } catch {
      throw new DesiredClientError('MalformedEnvelope', `reconciler ${base} sent a desired state that is not JSON`, { url: base });
    }
    let doc: DesiredDocument;
    try {
      doc = verifyDesired(envelope, key);
    } catch (err) {
      if (err instanceof DesiredVerificationError) throw new DesiredClientError(err.code, `refused desired state from ${base}: ${err.message}`, { ...err.data, url: base });
      throw err;
    }
    if (doc.host !== opts.host || doc.state.host !== opts.host) {
      throw new DesiredClientError('ForeignHost', `refused desired state for host ${doc.host}; this is ${opts.host}`, { host: doc.host, url: base });
    }
    const floor = applied?.generation ?? 0;
    // The applied generation itself is accepted again only when resyncing, with the same content (not a replay).
    if (doc.generation < floor || (doc.generation === floor && !(resyncing && doc.hash === applied?.hash))) {
      throw new DesiredClientError('StaleGeneration', `refused generation ${doc.generation} of ${opts.host}: generation ${floor} is already applied (replay or rollback)`, { generation: doc.generation, applied: floor, url: base });
    }
    seen = Math.max(seen, doc.generation);
    resyncing = false;
    try {
      await opts.onDesired(doc);
    } catch (err) {
      log.error({ generation: doc.generation, commit: doc.commit, err: (err as Error).message }, 'applying desired state failed');
      return 'apply-failed';
    }
    const record: AppliedRecord = { host: opts.host, generation: doc.generation, commit: doc.commit, hash: doc.hash, appliedAt: new Date().toISOString() };
    await writeAppliedRecord(opts.stateDir, record);
    applied = record;
    return 'applied';
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (running) {
      try {
        await pollOnce();
        failures = 0;
      } catch (err) {
        if (!running) break;
        const e = err instanceof DesiredClientError ? err : new DesiredClientError('Unreachable', (err as Error).message);
        if (e.code !== 'Unreachable' && e.code !== 'UnexpectedStatus') opts.onRefused?.(e);
        const delay = backoffDelay(failures++, policy);
        log.warn({ code: e.code, url: urls[urlIndex % urls.length], retryInMs: delay }, e.message);
        urlIndex++; // the next attempt goes to the next reconciler
        await sleep(delay, undefined, { signal: abort.signal }).catch(noop);
      }
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      abort = new AbortController();
      loop = run();
    },
    async stop() {
      running = false;
      abort.abort();
      await loop;
      if (!closed) {
        closed = true;
        await dispatcher.close();
      }
    },
    pollOnce,
    lastApplied: () => applied,

    async reportStatus(report) {
      const v = validateProtocol('StatusReport', report);
      if (!v.ok) throw new DesiredClientError('InvalidStatusReport', `status report does not match the schema: ${v.errors.join('; ')}`, { errors: v.errors });
      const body = JSON.stringify(report);
      let last: unknown;
      for (let i = 0; i < urls.length; i++) {
        const base = urls[(urlIndex + i) % urls.length]!;
        try {
          const res = await call(`${base}/v1/hosts/${encodeURIComponent(opts.host)}/status`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          if (res.statusCode === 204) {
            await res.body.dump();
            return;
          }
          last = await statusError(res, base);
        } catch (err) {
          last = err;
        }
      }
      throw last;
    },

    async fetchObject(sha) {
      if (!SHA256_PATTERN.test(sha)) throw new DesiredClientError('DigestMismatch', `not a sha256 digest: ${sha}`);
      const cached = await cache.get(sha);
      if (cached) return cached;
      let last: unknown;
      for (let i = 0; i < urls.length; i++) {
        const base = urls[(urlIndex + i) % urls.length]!;
        try {
          const res = await call(`${base}/v1/objects/${sha}`, {});
          if (res.statusCode !== 200) throw await statusError(res, base);
          const bytes = await readLimited(res.body, maxObject, base);
          const actual = sha256Hex(bytes);
          if (actual !== sha) throw new DesiredClientError('DigestMismatch', `object from ${base} hashes to ${actual}, expected ${sha}`, { expected: sha, actual, url: base });
          await cache.put(sha, bytes);
          return bytes;
        } catch (err) {
          last = err;
        }
      }
      throw last;
    },
  };
}

async function statusError(res: Dispatcher.ResponseData, base: string): Promise<DesiredClientError> {
  let detail: { code?: string; message?: string } = {};
  try {
    detail = (await res.body.json()) as typeof detail;
  } catch {
    /* not JSON */
  }
  const code = res.statusCode === 401 || res.statusCode === 403 ? 'Unauthorized' : 'UnexpectedStatus';
  return new DesiredClientError(code, `reconciler ${base} answered ${res.statusCode}${detail.code ? ` ${detail.code}` : ''}${detail.message ? `: ${detail.message}` : ''}`, {
    url: base,
    status: res.statusCode,
    reason: detail.code,
  });
}

async function readLimited(body: Dispatcher.ResponseData['body'], limit: number, base: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new DesiredClientError('ResponseTooLarge', `response from ${base} exceeds ${limit} bytes`, { url: base, limit });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
