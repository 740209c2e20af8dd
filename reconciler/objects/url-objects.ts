// Program objects given by URL (`spec.object.url`), fetched at most once.
// The manifest pins the sha256, so the cache is content-addressed: a hit needs
// no network, a restart with the origin down still compiles, and a download is
// kept only when its digest is the pinned one. The URL is never trusted for
// content, only as a place to look.

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fetch } from 'undici';
import { writeFileAtomic } from '../../schemas/atomic-file.js';
import { sha256Hex } from '../../schemas/canonical-json.js';

export interface UrlObjectOptions {
  /** Content-addressed cache (`<sha256>` files). Without it every compile downloads. */
  cacheDir?: string;
  /** The cache is where the bytes are served from (the reconciler): failing to keep them fails the fetch. */
  cacheRequired?: boolean;
  /** Largest body accepted; a larger one is cut off, not buffered. */
  maxBytes: number;
  timeoutMs?: number;
}

/**
 * A download that did not produce bytes. `transient`: worth retrying as is
 * (network, timeout, 5xx, 408/429, local disk); otherwise the URL itself is
 * wrong (not http(s), 4xx, too large) and only a new commit can fix it.
 */
export class ObjectFetchError extends Error {
  readonly code = 'ObjectFetchFailed';
  constructor(
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'ObjectFetchError';
  }
}

export type FetchUrlObject = (url: string, sha256: string) => Promise<Uint8Array>;

const SHA256 = /^[0-9a-f]{64}$/;

export function createUrlObjectFetcher(o: UrlObjectOptions): FetchUrlObject {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const inFlight = new Map<string, Promise<Uint8Array>>();

  const cached = async (sha256: string) => (o.cacheDir ? ((await readCachedObject(o.cacheDir, sha256)) ?? undefined) : undefined);

  const download = async (url: string): Promise<Uint8Array> => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ObjectFetchError('not a URL', false);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ObjectFetchError('expected an http or https URL', false);
    // Link-local addresses are where cloud metadata services answer; no artifact server lives there,
    // and `validate` on a pull request must not be a way to query them.
    if (/^169\.254\.|^\[fe[89ab][0-9a-f]:/i.test(parsed.hostname)) throw new ObjectFetchError('link-local addresses (cloud metadata services) are refused', false);
    // Credentials in the URL become a Basic authorization header, as curl does.
    const headers: Record<string, string> = { accept: 'application/octet-stream, */*' };
    if (parsed.username || parsed.password) {
      headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64')}`;
      parsed.username = '';
      parsed.password = '';
    }
    const signal = AbortSignal.timeout(timeoutMs);
    let res;
    try {
      res = await fetch(parsed, { redirect: 'follow', signal, headers });
    } catch (err) {
      const e = err as Error & { cause?: Error };
      const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.message ?? e.message);
      // Messages from below may quote the URL, query string (a token?) and all.
      throw new ObjectFetchError(why.split(parsed.href).join('<url>').split(url).join('<url>'), true);
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      throw new ObjectFetchError(`HTTP ${res.status}, expected 200`, res.status >= 500 || res.status === 408 || res.status === 429);
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > o.maxBytes) {
      await res.body?.cancel().catch(() => undefined);
      throw new ObjectFetchError(`${declared} bytes, expected at most ${o.maxBytes}`, false);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body ?? []) {
        size += chunk.length;
        if (size > o.maxBytes) throw new ObjectFetchError(`more than ${o.maxBytes} bytes, expected at most ${o.maxBytes}`, false);
        chunks.push(chunk);
      }
    } catch (err) {
      await res.body?.cancel().catch(() => undefined);
      if (err instanceof ObjectFetchError) throw err;
      const e = err as Error;
      throw new ObjectFetchError(`${e.name === 'TimeoutError' || signal.aborted ? `body not received within ${timeoutMs} ms` : e.message}`, true);
    }
    return new Uint8Array(Buffer.concat(chunks));
  };

  return async (url, sha256) => {
    const hit = await cached(sha256);
    if (hit) return hit;
    // Hosts sharing a program share its download.
    const key = `${sha256} ${url}`;
    let p = inFlight.get(key);
    if (!p) {
      p = download(url).finally(() => inFlight.delete(key));
      inFlight.set(key, p);
    }
    const bytes = await p;
    // Only the pinned bytes are kept; a mismatch goes back to compile, which names it.
    if (o.cacheDir && sha256Hex(bytes) === sha256) {
      try {
        await mkdir(o.cacheDir, { recursive: true });
        await writeFileAtomic(join(o.cacheDir, sha256), bytes, 0o644);
      } catch (err) {
        if (o.cacheRequired) throw new ObjectFetchError(`downloaded, but cannot keep it in ${o.cacheDir}: ${(err as Error).message}`, true);
      }
    }
    return bytes;
  };
}

/** Reads a cached object by digest (the reconciler serves URL objects from here). */
export async function readCachedObject(cacheDir: string, sha256: string): Promise<Uint8Array | null> {
  if (!SHA256.test(sha256)) return null;
  const bytes = await readFile(join(cacheDir, sha256)).catch(() => null);
  return bytes && sha256Hex(bytes) === sha256 ? new Uint8Array(bytes) : null;
}
