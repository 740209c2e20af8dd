import { afterEach, describe, expect, test } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createDesiredClient, DesiredClientError, type DesiredClient } from '../../agent/client/desired-client.js';
import { backoffDelay } from '../../agent/client/backoff.js';
import { createDesiredSigner, desiredDocument } from '../../reconciler/signing/sign-desired.js';
import { sha256Hex } from '../../schemas/canonical-json.js';
import type { DesiredDocument, SignedDesired } from '../../schemas/protocol.js';
import { C1, C2, C3, TOKENS, fleet, hostState, objectFor, startApi, tempDir, type Running } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
async function stateDir(): Promise<string> {
  const d = await tempDir('bpfleet-transport-agent-');
  cleanups.push(d.cleanup);
  return d.path;
}
async function api(opts: Parameters<typeof startApi>[0] = {}): Promise<Running> {
  const a = await startApi(opts);
  cleanups.push(() => a.stop());
  return a;
}
function client(o: Partial<Parameters<typeof createDesiredClient>[0]> & { urls: string[]; publicKey: Parameters<typeof createDesiredClient>[0]['publicKey']; stateDir: string }, applied: DesiredDocument[], refused: DesiredClientError[]) {
  return createDesiredClient({
    host: 'edge-1',
    token: TOKENS['edge-1']!,
    waitSeconds: 5,
    backoff: { baseMs: 50, maxMs: 400 },
    onDesired: async (doc) => void applied.push(doc),
    onRefused: (e) => void refused.push(e),
    ...o,
  }).then((c) => {
    cleanups.push(() => c.stop());
    return c;
  });
}
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A server that answers GET /desired with whatever envelope the test sets: the attacker's view. */
async function fakeReconciler(): Promise<{ url: string; serve: (env: SignedDesired | string) => void; hits: () => number }> {
  let body = '';
  let hits = 0;
  const server: Server = createServer((req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'application/json', etag: '"99"' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, serve: (env) => void (body = typeof env === 'string' ? env : JSON.stringify(env)), hits: () => hits };
}

describe('desired client against the real API', () => {
  test('applies the published state, persists the generation, wakes on the next publish', async () => {
    const a = await api();
    await a.api.publish(fleet(C1, ['edge-1']));
    const dir = await stateDir();
    const applied: DesiredDocument[] = [];
    const c = await client({ urls: [a.url], publicKey: a.publicKey, stateDir: dir }, applied, []);
    c.start();
    await until(() => applied.length === 1);
    expect(applied[0]).toMatchObject({ host: 'edge-1', commit: C1, generation: 1 });
    await a.api.publish(fleet(C2, ['edge-1'], { rate: 5 }));
    await until(() => applied.length === 2);
    expect(applied[1]).toMatchObject({ commit: C2, generation: 2 });
    await until(() => c.lastApplied()?.generation === 2);
    expect(JSON.parse(await readFile(join(dir, 'applied-desired.json'), 'utf8'))).toMatchObject({ host: 'edge-1', generation: 2, commit: C2 });
  });

  test('reportStatus reaches the server; fetchObject verifies the digest and then serves from the cache', async () => {
    const sha = objectFor('bytes of a BPF object');
    const a = await api();
    await a.api.publish(fleet(C1, ['edge-1'], { object: sha }));
    const dir = await stateDir();
    const c = await client({ urls: [a.url], publicKey: a.publicKey, stateDir: dir }, [], []);
    await c.reportStatus({ host: 'edge-1', generation: 0, commit: null, state: 'applying', hooks: [], drift: [], datapath: 'sim', agentVersion: '0.1.0', reportedAt: new Date().toISOString() });
    expect(a.store.statuses()['edge-1']?.report.state).toBe('applying');
    expect(Buffer.from(await c.fetchObject(sha)).toString()).toBe('bytes of a BPF object');
    await a.api.close(); // the cache answers without the reconciler
    expect(Buffer.from(await c.fetchObject(sha)).toString()).toBe('bytes of a BPF object');
    // A damaged cache entry is detected and refetched (here: refetch fails, server is down).
    await writeFile(join(dir, 'objects', sha), 'tampered');
    await expect(c.fetchObject(sha)).rejects.toMatchObject({ code: 'Unreachable' });
  });

  test('retries with backoff until a reconciler comes back, moving across URLs', async () => {
    // Reserve a port, free it, and start the reconciler there later.
    const probe = await api();
    const port = probe.port;
    const keys = { privateKey: probe.privateKey, publicKey: probe.publicKey };
    await probe.api.close();
    const applied: DesiredDocument[] = [];
    const c = await client({ urls: ['http://127.0.0.1:9', `http://127.0.0.1:${port}`], publicKey: keys.publicKey, stateDir: await stateDir() }, applied, []);
    c.start();
    await new Promise((r) => setTimeout(r, 700));
    expect(applied).toHaveLength(0);
    const a = await api({ port, keys });
    await a.api.publish(fleet(C1, ['edge-1']));
    const t0 = Date.now();
    await until(() => applied.length === 1, 5000);
    expect(Date.now() - t0).toBeLessThan(2000); // backoff is capped at 400 ms here
  });
});

describe('desired client refuses what it must not apply', () => {
  const keys = generateKeyPairSync('ed25519');
  const signer = createDesiredSigner(keys.privateKey);
  const doc = (generation: number, host = 'edge-1', commit = C1) => desiredDocument({ host, commit, generation, state: hostState(host), issuedAt: new Date() });

  async function setup() {
    const fake = await fakeReconciler();
    const applied: DesiredDocument[] = [];
    const refused: DesiredClientError[] = [];
    const dir = await stateDir();
    const c = await client({ urls: [fake.url], publicKey: keys.publicKey, stateDir: dir }, applied, refused);
    return { fake, applied, refused, c, dir };
  }

  test('a forged signature (right keyId, wrong key) and a tampered document', async () => {
    const { fake, applied, c } = await setup();
    const attacker = generateKeyPairSync('ed25519');
    fake.serve({ ...createDesiredSigner(attacker.privateKey).sign(doc(5)), keyId: signer.keyId });
    await expect(c.pollOnce()).rejects.toMatchObject({ code: 'BadSignature' });
    const good = signer.sign(doc(5));
    fake.serve({ ...good, document: good.document.replace('"rate":100', '"rate":1') });
    await expect(c.pollOnce()).rejects.toMatchObject({ code: 'BadSignature' });
    fake.serve(createDesiredSigner(attacker.privateKey).sign(doc(5)));
    await expect(c.pollOnce()).rejects.toMatchObject({ code: 'UnknownSigningKey' });
    fake.serve('{"not":"an envelope"}');
    await expect(c.pollOnce()).rejects.toMatchObject({ code: 'MalformedEnvelope' });
    expect(applied).toHaveLength(0);
  });

  test("another host's document and a replayed older generation, also after a restart", async () => {
    const { fake, applied, c, dir } = await setup();
    fake.serve(signer.sign(doc(3, 'edge-2')));
    await expect(c.pollOnce()).rejects.toMatchObject({ code: 'ForeignHost' });
    const gen2 = signer.sign(doc(2, 'edge-1', C2));
    fake.serve(signer.sign(doc(3, 'edge-1', C3)));
    expect(await c.pollOnce()).toBe('applied');
    fake.serve(gen2); // validly signed, but older: a replay or a rollback attempt
    await expect(c.pollOnce()).rejects.toMatchObject({ code: 'StaleGeneration', data: { generation: 2, applied: 3 } });
    fake.serve(signer.sign(doc(3, 'edge-1', C3)));
    await expect(c.pollOnce()).rejects.toMatchObject({ code: 'StaleGeneration' });
    expect(applied.map((d) => d.generation)).toEqual([3]);
    // A restarted agent remembers generation 3.
    const applied2: DesiredDocument[] = [];
    const c2 = await client({ urls: [fake.url], publicKey: keys.publicKey, stateDir: dir }, applied2, []);
    fake.serve(gen2);
    await expect(c2.pollOnce()).rejects.toMatchObject({ code: 'StaleGeneration' });
    expect(applied2).toHaveLength(0);
  });

  test('the polling loop reports refusals and backs off instead of spinning', async () => {
    const { fake, refused, c } = await setup();
    fake.serve({ ...signer.sign(doc(4)), signature: Buffer.alloc(64, 7).toString('base64') });
    c.start();
    await new Promise((r) => setTimeout(r, 1000));
    await c.stop();
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((e) => e.code === 'BadSignature')).toBe(true);
    // 50 ms base, 400 ms cap: at most ~8 attempts a second, not thousands.
    expect(fake.hits()).toBeLessThan(12);
  });

  test('a wrong object from the server is refused by digest', async () => {
    const sha = sha256Hex('the real bytes');
    const fake = await fakeReconciler();
    fake.serve('not the real bytes');
    const c = await client({ urls: [fake.url], publicKey: keys.publicKey, stateDir: await stateDir() }, [], []);
    await expect(c.fetchObject(sha)).rejects.toMatchObject({ code: 'DigestMismatch', data: { expected: sha } });
  });
});

test('backoff grows exponentially, is capped, and is jittered into [cap/2, cap]', () => {
  const p = { baseMs: 100, maxMs: 1000 };
  expect([0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, p, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
  expect([0, 1, 2, 3].map((n) => backoffDelay(n, p, () => 0))).toEqual([50, 100, 200, 400]);
});
