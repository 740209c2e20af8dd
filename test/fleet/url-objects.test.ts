// Program objects given by URL: fetched over real HTTP from a server on
// loopback, pinned by sha256, cached by digest so the origin is needed once.

import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFleet } from '../../reconciler/compile/compile-fleet.js';
import { createUrlObjectFetcher } from '../../reconciler/objects/url-objects.js';
import { sha256Hex } from '../../schemas/canonical-json.js';
import { EXAMPLE_REPO, exampleTree } from './example-tree.js';

const counter = new Uint8Array(readFileSync(join(EXAMPLE_REPO, 'objects/counter.bpf.o')));
const counterSha = sha256Hex(counter);

let server: Server;
let base: string;
const hits = new Map<string, number>();
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bpfleet-urlobj-'));
  server = createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === '/counter.bpf.o') return void res.end(counter);
    if (path === '/moved') return void res.writeHead(302, { location: '/counter.bpf.o' }).end();
    if (path === '/private') {
      const ok = req.headers.authorization === `Basic ${Buffer.from('user:hunter2').toString('base64')}`;
      return void (ok ? res.end(counter) : res.writeHead(401).end());
    }
    if (path === '/busy') return void res.writeHead(503).end('try later');
    if (path === '/other') return void res.end(Buffer.from('not the pinned bytes'));
    if (path === '/endless') {
      // No content-length: the fetcher must cut the stream off, not buffer it.
      const chunk = Buffer.alloc(64 * 1024);
      const pump = () => {
        while (res.write(chunk)) if (res.writableLength > 1e6) break;
      };
      res.on('drain', pump);
      pump();
      req.on('close', () => res.destroy());
      return;
    }
    if (path === '/slow') return void setTimeout(() => res.destroyed || res.end(counter), 5_000).unref();
    res.writeHead(404).end('no such object');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/** The example fleet with the counter program's object given by URL. */
function treeWithUrl(url: string, sha = counterSha) {
  return exampleTree({
    'programs/counter/1.0.0.yaml': (t) => t.replace(/path: objects\/counter\.bpf\.o\n(\s+)sha256: \w+/, `url: ${url}\n$1sha256: ${sha}`),
  });
}

describe('URL objects', () => {
  it('are downloaded once, checked against the pinned digest, and compile without the origin afterwards', async () => {
    // (Each program's object is loaded once per compile, however many hosts use it.)
    const cacheDir = join(dir, 'cache-a');
    const fetchUrl = createUrlObjectFetcher({ cacheDir, maxBytes: 1 << 20 });
    const r = await compileFleet(treeWithUrl(`${base}/counter.bpf.o`), { fetchUrl });
    expect(r.ok, JSON.stringify(r.diagnostics)).toBe(true);
    if (!r.ok) return;
    expect(r.fleet.objects[counterSha]).toBe(`${base}/counter.bpf.o`);
    expect(readFileSync(join(cacheDir, counterSha))).toEqual(Buffer.from(counter));
    expect(hits.get('/counter.bpf.o')).toBe(1);

    // The origin gone: a second compile (a restarted reconciler) uses the cache.
    const r2 = await compileFleet(treeWithUrl('http://127.0.0.1:9/counter.bpf.o'), { fetchUrl: createUrlObjectFetcher({ cacheDir, maxBytes: 1 << 20 }) });
    expect(r2.ok).toBe(true);
    expect(hits.get('/counter.bpf.o')).toBe(1);
  });

  it('a damaged cache entry is a miss: the object is downloaded again', async () => {
    const cacheDir = join(dir, 'cache-b');
    const fetchUrl = createUrlObjectFetcher({ cacheDir, maxBytes: 1 << 20 });
    await fetchUrl(`${base}/counter.bpf.o`, counterSha);
    writeFileSync(join(cacheDir, counterSha), 'bit rot');
    const before = hits.get('/counter.bpf.o') ?? 0;
    expect(sha256Hex(await fetchUrl(`${base}/counter.bpf.o`, counterSha))).toBe(counterSha);
    expect(hits.get('/counter.bpf.o')).toBe(before + 1);
  });

  it('follows redirects', async () => {
    const bytes = await createUrlObjectFetcher({ maxBytes: 1 << 20 })(`${base}/moved`, counterSha);
    expect(sha256Hex(bytes)).toBe(counterSha);
  });

  it('other bytes at the URL are a DigestMismatch at the sha256 line, and are not cached', async () => {
    const cacheDir = join(dir, 'cache-c');
    const r = await compileFleet(treeWithUrl(`${base}/other`), { fetchUrl: createUrlObjectFetcher({ cacheDir, maxBytes: 1 << 20 }) });
    expect(r.ok).toBe(false);
    const d = r.diagnostics.find((x) => x.code === 'DigestMismatch')!;
    expect(d.file).toBe('programs/counter/1.0.0.yaml');
    expect(d.line).toBe(10);
    expect(existsSync(join(cacheDir, counterSha))).toBe(false);
  });

  it('a 4xx is a verdict on the URL (ObjectUrlRefused); a 5xx or a dead origin is worth retrying (ObjectFetchFailed)', async () => {
    const fetchUrl = createUrlObjectFetcher({ maxBytes: 1 << 20, timeoutMs: 2_000 });
    const codes = async (url: string) => {
      const r = await compileFleet(treeWithUrl(url), { fetchUrl });
      return r.diagnostics.map((x) => x.code);
    };
    expect(await codes(`${base}/missing`)).toEqual(['ObjectUrlRefused']);
    expect(await codes(`${base}/busy`)).toEqual(['ObjectFetchFailed']);
    expect(await codes('http://127.0.0.1:9/nothing-listens-here')).toEqual(['ObjectFetchFailed']);
  });

  it('where the cache is the only copy (the reconciler), failing to keep the bytes fails the fetch', async () => {
    const blocker = join(dir, 'not-a-dir');
    writeFileSync(blocker, 'a file where the cache directory should be');
    const strict = createUrlObjectFetcher({ cacheDir: join(blocker, 'objects'), cacheRequired: true, maxBytes: 1 << 20 });
    await expect(strict(`${base}/counter.bpf.o`, counterSha)).rejects.toMatchObject({ transient: true, message: expect.stringMatching(/cannot keep it in/) });
    const lenient = createUrlObjectFetcher({ cacheDir: join(blocker, 'objects'), maxBytes: 1 << 20 });
    expect(sha256Hex(await lenient(`${base}/counter.bpf.o`, counterSha))).toBe(counterSha);
  });

  it('an HTTP error names the file, line, URL and status, and never a credential in the URL', async () => {
    const r = await compileFleet(treeWithUrl(`http://user:hunter2@127.0.0.1:${new URL(base).port}/missing?token=s3cret`), {
      fetchUrl: createUrlObjectFetcher({ maxBytes: 1 << 20 }),
    });
    expect(r.ok).toBe(false);
    const d = r.diagnostics.find((x) => x.code === 'ObjectUrlRefused')!;
    expect(d).toMatchObject({ file: 'programs/counter/1.0.0.yaml', line: 9 });
    expect(d.message).toContain(`http://127.0.0.1:${new URL(base).port}/missing`);
    expect(d.message).toContain('HTTP 404, expected 200');
    expect(d.message).not.toMatch(/hunter2|s3cret/);
  });

  it('credentials in the URL go out as Basic authorization', async () => {
    const port = new URL(base).port;
    await expect(createUrlObjectFetcher({ maxBytes: 1 << 20 })(`http://127.0.0.1:${port}/private`, counterSha)).rejects.toThrow(/HTTP 401/);
    const bytes = await createUrlObjectFetcher({ maxBytes: 1 << 20 })(`http://user:hunter2@127.0.0.1:${port}/private`, counterSha);
    expect(sha256Hex(bytes)).toBe(counterSha);
  });

  it('link-local addresses (cloud metadata services) are refused before any packet is sent', async () => {
    const f = createUrlObjectFetcher({ maxBytes: 1 << 20 });
    for (const url of ['http://169.254.169.254/latest/meta-data', 'http://[fe80::1]/x.o']) {
      await expect(f(url, counterSha)).rejects.toMatchObject({ transient: false, message: expect.stringMatching(/link-local/) });
    }
  });

  it('an endless body is cut off at the size limit', async () => {
    await expect(createUrlObjectFetcher({ maxBytes: 256 * 1024 })(`${base}/endless`, counterSha)).rejects.toThrow(/more than 262144 bytes/);
  });

  it('a server that does not answer in time is a timeout, not a hang', async () => {
    const t0 = Date.now();
    await expect(createUrlObjectFetcher({ maxBytes: 1 << 20, timeoutMs: 300 })(`${base}/slow`, counterSha)).rejects.toThrow(/no answer within 300 ms/);
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('without a fetcher (no network), a URL object is an error, not a silent skip', async () => {
    const r = await compileFleet(treeWithUrl(`${base}/counter.bpf.o`));
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((x) => x.code)).toContain('ObjectFetchFailed');
  });
});
