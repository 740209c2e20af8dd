import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { request as httpRequest } from 'node:http';
import { request } from 'undici';
import { verifyDesired } from '../../schemas/desired-signature.js';
import { webhookSignature } from '../../reconciler/server/webhook-signature.js';
import type { StatusReport } from '../../schemas/protocol.js';
import { ADMIN_TOKEN, C1, C2, C3, TOKENS, WEBHOOK_SECRET, fleet, objectFor, startApi, type Running } from './helpers.js';

let api: Running;
const objEdge1 = objectFor('ELF object of edge-1');
const objEdge2 = objectFor('ELF object of edge-2');
const fleetAt = (commit: string, rate = 100) => fleet(commit, ['edge-1', 'edge-2'], { rate, objectOf: (h) => (h === 'edge-1' ? objEdge1 : objEdge2) });
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

beforeEach(async () => {
  api = await startApi();
  await api.api.publish(fleetAt(C1));
});
afterEach(async () => {
  await api.stop();
});

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await request(`${api.url}${path}`, { headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) };
}
function rawGet(path: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: api.port, path, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}
async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const res = await request(`${api.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: () => (text ? JSON.parse(text) : undefined) };
}
function report(host: string, generation: number, extra: Partial<StatusReport> = {}): StatusReport {
  return { host, generation, commit: C1, state: 'converged', hooks: [], drift: [], datapath: 'sim', agentVersion: '0.1.0', reportedAt: new Date().toISOString(), ...extra };
}

describe('desired state long-poll', () => {
  test('without If-None-Match the current signed document comes at once, with its generation as ETag', async () => {
    const r = await get('/v1/hosts/edge-1/desired?wait=30', bearer(TOKENS['edge-1']!));
    expect(r.status).toBe(200);
    expect(r.headers.etag).toBe('"1"');
    const doc = verifyDesired(r.json(), api.publicKey);
    expect(doc).toMatchObject({ host: 'edge-1', commit: C1, generation: 1 });
  });

  test('a parked long-poll is answered by the next publish within one round trip', async () => {
    const started = Date.now();
    const pending = get('/v1/hosts/edge-1/desired?wait=30', { ...bearer(TOKENS['edge-1']!), 'if-none-match': '"1"' });
    await new Promise((r) => setTimeout(r, 200));
    const publishedAt = Date.now();
    await api.api.publish(fleetAt(C2, 200));
    const r = await pending;
    const answeredAt = Date.now();
    expect(r.status).toBe(200);
    expect(r.headers.etag).toBe('"2"');
    expect(verifyDesired(r.json(), api.publicKey)).toMatchObject({ commit: C2, generation: 2 });
    expect(publishedAt - started).toBeGreaterThanOrEqual(190); // it really was parked
    expect(answeredAt - publishedAt).toBeLessThan(250);
  });

  test('304 with the same ETag when the wait expires; 304 at once with wait=0', async () => {
    const t0 = Date.now();
    const r = await get('/v1/hosts/edge-1/desired?wait=1', { ...bearer(TOKENS['edge-1']!), 'if-none-match': '"1"' });
    expect(r.status).toBe(304);
    expect(r.headers.etag).toBe('"1"');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    const quick = await get('/v1/hosts/edge-1/desired', { ...bearer(TOKENS['edge-1']!), 'if-none-match': '"1"' });
    expect(quick.status).toBe(304);
  });

  test('generation bumps only when the host hash or the commit changes, and survives a restart', async () => {
    const again = await api.api.publish(fleetAt(C1));
    expect(again.changed).toEqual([]);
    const onlyCommit = await api.api.publish(fleetAt(C2));
    expect(onlyCommit.changed.sort()).toEqual(['edge-1', 'edge-2']);
    expect(api.store.generations()['edge-1']?.generation).toBe(2);

    // Restart on the same state dir and key: same generation, byte-identical document.
    const before = await get('/v1/hosts/edge-1/desired', bearer(TOKENS['edge-1']!));
    const keys = { privateKey: api.privateKey, publicKey: api.publicKey };
    const stateDir = api.stateDir;
    await api.api.close();
    const second = await startApi({ stateDir, keys });
    try {
      expect((await second.api.publish(fleetAt(C2))).changed).toEqual([]);
      const after = await request(`${second.url}/v1/hosts/edge-1/desired`, { headers: bearer(TOKENS['edge-1']!) });
      expect(after.headers.etag).toBe('"2"');
      expect(await after.body.text()).toBe(before.text);
      expect((await second.api.publish(fleetAt(C3))).changed.sort()).toEqual(['edge-1', 'edge-2']);
      expect(second.store.generations()['edge-1']?.generation).toBe(3);
    } finally {
      await second.api.close();
    }
  });
});

describe('authentication and input checks', () => {
  test('token matrix: none 401, unknown 401, another host 403, own 200; admin reads but does not write', async () => {
    expect((await get('/v1/hosts/edge-1/desired')).status).toBe(401);
    expect((await get('/v1/hosts/edge-1/desired', bearer('nope'))).status).toBe(401);
    expect((await get('/v1/hosts/edge-1/desired', { authorization: 'Basic abc' })).status).toBe(401);
    const foreign = await get('/v1/hosts/edge-1/desired', bearer(TOKENS['edge-2']!));
    expect(foreign.status).toBe(403);
    expect(foreign.json().code).toBe('ForeignHost');
    expect((await post('/v1/hosts/edge-1/status', JSON.stringify(report('edge-1', 1)), bearer(TOKENS['edge-2']!))).status).toBe(403);
    expect((await get('/v1/hosts/edge-1/desired', bearer(TOKENS['edge-1']!))).status).toBe(200);
    expect((await get('/v1/hosts/edge-1/desired', bearer(ADMIN_TOKEN))).status).toBe(200);
    expect((await post('/v1/hosts/edge-1/status', JSON.stringify(report('edge-1', 1)), bearer(ADMIN_TOKEN))).status).toBe(403);
    expect((await get('/v1/fleet', bearer(TOKENS['edge-1']!))).status).toBe(403);
    expect((await get('/v1/fleet')).status).toBe(401);
  });

  test('host names with path characters or upper case are 400', async () => {
    // node:http sends the path verbatim (undici would normalise '..' away).
    for (const h of ['..%2F..%2Fetc', '..', 'EDGE-1', 'edge_1', '-edge', `${'a'.repeat(64)}`, '%E0%A4%A']) {
      const r = await rawGet(`/v1/hosts/${h}/desired`, bearer(TOKENS['edge-1']!));
      expect(r.status, h).toBe(400);
      expect(['BadHostName', 'MalformedPath']).toContain(JSON.parse(r.text).code);
    }
  });

  test('oversize body 413, malformed JSON 400, schema-invalid 422, report for another host 422', async () => {
    const big = await post('/v1/hosts/edge-1/status', JSON.stringify({ pad: 'x'.repeat(300 * 1024) }), bearer(TOKENS['edge-1']!));
    expect(big.status).toBe(413);
    const bad = await post('/v1/hosts/edge-1/status', '{"host": ', bearer(TOKENS['edge-1']!));
    expect(bad.status).toBe(400);
    expect(bad.json().code).toBe('MalformedJson');
    const invalid = await post('/v1/hosts/edge-1/status', JSON.stringify({ ...report('edge-1', 1), state: 'fine' }), bearer(TOKENS['edge-1']!));
    expect(invalid.status).toBe(422);
    expect(invalid.json().errors.join()).toContain('/state');
    const mismatch = await post('/v1/hosts/edge-1/status', JSON.stringify(report('edge-2', 1)), bearer(TOKENS['edge-1']!));
    expect(mismatch.status).toBe(422);
    expect(mismatch.json().code).toBe('HostMismatch');
  });

  test('a 413 declared by Content-Length is refused before the body is read', async () => {
    const res = await request(`${api.url}/v1/hosts/edge-1/status`, {
      method: 'POST',
      headers: { ...bearer(TOKENS['edge-1']!), 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) },
      body: 'x'.repeat(10 * 1024 * 1024),
    }).catch((e: unknown) => e);
    // Either the 413 arrives, or the server closed the socket mid-upload: never a 2xx.
    if (res && typeof res === 'object' && 'statusCode' in res) expect((res as { statusCode: number }).statusCode).toBe(413);
    else expect(res).toBeInstanceOf(Error);
  });
});

describe('status, fleet view, objects, webhook, metrics', () => {
  test('reports make the fleet view converge; receipts are stored once per generation', async () => {
    let fleetView = (await get('/v1/fleet', bearer(ADMIN_TOKEN))).json();
    expect(fleetView.hosts.map((h: { state: string; reason: string }) => [h.state, h.reason])).toEqual([['unreachable', 'NeverReported'], ['unreachable', 'NeverReported']]);
    for (const host of ['edge-1', 'edge-2']) {
      const r = await post(`/v1/hosts/${host}/status`, JSON.stringify(report(host, 1, { receipt: { steps: ['stage', 'activate'] } })), bearer(TOKENS[host]!));
      expect(r.status).toBe(204);
    }
    await post('/v1/hosts/edge-1/status', JSON.stringify(report('edge-1', 1, { receipt: { steps: ['stage', 'activate'] } })), bearer(TOKENS['edge-1']!));
    expect(api.store.receipts('edge-1')).toHaveLength(1);
    api.api.setFleetInfo({ trust: { status: 'refused', reason: 'UnsignedCommit', commit: C2, message: `commit ${C2} is not signed` } });
    fleetView = (await get('/v1/fleet', bearer(ADMIN_TOKEN))).json();
    expect(fleetView.summary).toEqual({ total: 2, byState: { converged: 2 } });
    expect(fleetView.trust).toMatchObject({ status: 'refused', reason: 'UnsignedCommit' });
    await api.api.publish(fleetAt(C2, 300));
    fleetView = (await get('/v1/fleet', bearer(ADMIN_TOKEN))).json();
    expect(fleetView.summary.byState).toEqual({ applying: 2 });
    expect(fleetView.hosts[0]).toMatchObject({ host: 'edge-1', reason: 'BehindDesired', desired: { commit: C2, generation: 2 }, reported: { generation: 1 } });
  });

  test('a host may fetch only the objects its desired state references', async () => {
    const own = await request(`${api.url}/v1/objects/${objEdge1}`, { headers: bearer(TOKENS['edge-1']!) });
    expect(own.statusCode).toBe(200);
    expect(Buffer.from(await own.body.arrayBuffer()).toString()).toBe('ELF object of edge-1');
    const other = await get(`/v1/objects/${objEdge2}`, bearer(TOKENS['edge-1']!));
    expect(other.status).toBe(404);
    expect(other.json().code).toBe('ObjectNotReferenced');
    expect((await get(`/v1/objects/${objEdge2}`, bearer(ADMIN_TOKEN))).status).toBe(200);
    expect((await get(`/v1/objects/${objEdge2}`)).status).toBe(401);
    expect((await get('/v1/objects/not-a-digest', bearer(TOKENS['edge-1']!))).status).toBe(400);
  });

  test('webhook: valid HMAC triggers a fetch hint (202), a wrong or missing one is 401', async () => {
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    expect((await post('/v1/webhook', body, { 'x-hub-signature-256': webhookSignature(WEBHOOK_SECRET, Buffer.from(body)) })).status).toBe(202);
    expect(api.webhooks).toBe(1);
    expect((await post('/v1/webhook', body, { 'x-hub-signature-256': webhookSignature('wrong', Buffer.from(body)) })).status).toBe(401);
    expect((await post('/v1/webhook', body)).status).toBe(401);
    expect(api.webhooks).toBe(1);
  });

  test('healthz, readyz and metrics answer', async () => {
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
    await get('/v1/hosts/edge-1/desired');
    const m = await get('/metrics');
    expect(m.status).toBe(200);
    expect(m.text).toContain('bpfleet_api_requests_total{route="/v1/hosts/{host}/desired",code="401"} 1');
    expect(m.text).toContain('bpfleet_desired_generation{host="edge-1"} 1');
    expect(m.text).toContain('bpfleet_hosts{state="unreachable"} 2');
    expect(m.text).not.toContain(TOKENS['edge-1']);
  });
});
