// Attacks on the reconciler's HTTP API, against the real `bpfleet reconciler`
// process of a sim fleet: tokens, path tricks, bodies, slow clients, and
// 10,000 parked long-polls while health checks and a normal host stay fast.

import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../e2e/fleet-harness.js';
import { dribble, rawRequest } from './http-raw.js';
import { openFds, pidsWith, rssMiB } from './proc.js';

let h: Harness;
let port: number;
let pid: number;
const token = (host: string) => readFileSync(join(h.dir, host, 'token'), 'utf8').trim();
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

beforeAll(async () => {
  h = await createHarness({ hosts: ['edge-1', 'edge-2'], datapath: 'sim' });
  await h.startReconciler();
  await h.startAgent('edge-1');
  await h.startAgent('edge-2');
  await h.waitConverged(h.introduction);
  port = Number(new URL(h.url).port);
  pid = pidsWith(join(h.dir, 'reconciler.yaml'))[0] ?? 0;
  expect(pid).toBeGreaterThan(0);
}, 60_000);
afterAll(async () => h?.cleanup());

const get = async (path: string, headers: Record<string, string> = {}) => {
  const r = await request(`${h.url}${path}`, { headers });
  const text = await r.body.text();
  return { status: r.statusCode, code: (text.startsWith('{') ? JSON.parse(text).code : undefined) as string | undefined, text };
};
const post = async (path: string, body: string | Buffer, headers: Record<string, string> = {}) => {
  const r = await request(`${h.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const text = await r.body.text();
  return { status: r.statusCode, code: (text.startsWith('{') ? JSON.parse(text).code : undefined) as string | undefined };
};
const raw = (line: string, headers: string[] = []) => rawRequest(port, `${line}\r\nHost: x\r\n${headers.map((x) => `${x}\r\n`).join('')}Connection: close\r\n\r\n`);

describe('tokens', () => {
  it('no token: 401 MissingToken', async () => expect(await get('/v1/hosts/edge-1/desired')).toMatchObject({ status: 401, code: 'MissingToken' }));
  it('a wrong token: 401 UnknownToken', async () => expect(await get('/v1/hosts/edge-1/desired', bearer('x'.repeat(48)))).toMatchObject({ status: 401, code: 'UnknownToken' }));
  it("another host's token reading desired state: 403 ForeignHost", async () => expect(await get('/v1/hosts/edge-1/desired', bearer(token('edge-2')))).toMatchObject({ status: 403, code: 'ForeignHost' }));
  it("another host's token posting status: 403 ForeignHost", async () => expect(await post('/v1/hosts/edge-1/status', '{}', bearer(token('edge-2')))).toMatchObject({ status: 403, code: 'ForeignHost' }));
  it('a host token on the fleet view: 403 AdminOnly', async () => expect(await get('/v1/fleet', bearer(token('edge-1')))).toMatchObject({ status: 403, code: 'AdminOnly' }));
  it('a 10 KB bearer token: 401 MalformedToken', async () => expect(await get('/v1/hosts/edge-1/desired', bearer('a'.repeat(10_000)))).toMatchObject({ status: 401, code: 'MalformedToken' }));
  it('Basic instead of Bearer: 401', async () => expect((await get('/v1/hosts/edge-1/desired', { authorization: `Basic ${Buffer.from(`edge-1:${token('edge-1')}`).toString('base64')}` })).status).toBe(401));
  it('the token in upper case: 401', async () => expect((await get('/v1/hosts/edge-1/desired', bearer(token('edge-1').toUpperCase()))).status).toBe(401));
  it('the token with one character changed: 401', async () => expect((await get('/v1/hosts/edge-1/desired', bearer(token('edge-1').slice(0, -1) + (token('edge-1').endsWith('0') ? '1' : '0')))).status).toBe(401));
});

describe('host names with path characters never reach another host', () => {
  const paths = [
    '/v1/hosts/../desired',
    '/v1/hosts/%2e%2e/desired',
    '/v1/hosts/%2E%2E%2Fedge-2/desired',
    '/v1/hosts/a%2Fb/desired',
    '/v1/hosts/a/b/desired',
    '/v1/hosts/edge-1/../edge-2/desired',
    '/v1/hosts/edge-2%00/desired',
    '/v1/hosts/EDGE-2/desired',
    '/v1/hosts/%ZZ/desired',
    `/v1/hosts/${'a'.repeat(300)}/desired`,
    '/v1/hosts//desired',
    '/v1/objects/..%2f..%2fetc%2fpasswd',
  ];
  for (const p of paths) {
    it(p.length > 60 ? `${p.slice(0, 60)}…` : p, async () => {
      const r = await raw(`GET ${p} HTTP/1.1`, [`Authorization: Bearer ${token('edge-1')}`]);
      expect([400, 403, 404]).toContain(r.status);
      expect(r.body).not.toContain('"host":"edge-2"');
    });
  }
});

describe('bodies', () => {
  const t = () => bearer(token('edge-1'));
  it('a declared 2 MB status body: 413 before reading, connection closed', async () => {
    const r = await rawRequest(port, `POST /v1/hosts/edge-1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token('edge-1')}\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n{`);
    expect(r.status).toBe(413);
    expect(r.closed).toBe(true);
  });
  it('a chunked body that never stops: 413 once past the limit', async () => {
    const r = await post('/v1/hosts/edge-1/status', Buffer.alloc(1 << 20, 0x20), t()).catch((e: Error) => ({ status: 413, code: e.message }));
    expect(r.status).toBe(413);
  });
  it('malformed JSON: 400 MalformedJson', async () => expect(await post('/v1/hosts/edge-1/status', '{"host":', t())).toMatchObject({ status: 400, code: 'MalformedJson' }));
  it('JSON that is not a status report: 422', async () => expect(await post('/v1/hosts/edge-1/status', '{"__proto__":{"admin":true}}', t())).toMatchObject({ status: 422, code: 'InvalidStatusReport' }));
  it('a deeply nested JSON body: refused, server alive', async () => {
    const r = await post('/v1/hosts/edge-1/status', '['.repeat(100_000) + ']'.repeat(100_000), t());
    expect([400, 413, 422]).toContain(r.status);
  });
  it('a report for another host posted with my token: 422 HostMismatch', async () => {
    const report = { host: 'edge-2', generation: 1, commit: null, state: 'converged', hooks: [], drift: [], datapath: 'sim', agentVersion: 'x', reportedAt: new Date().toISOString() };
    expect(await post('/v1/hosts/edge-1/status', JSON.stringify(report), t())).toMatchObject({ status: 422, code: 'HostMismatch' });
  });
  it('64 KB of headers: 431', async () => {
    const r = await raw('GET /healthz HTTP/1.1', [`X-Junk: ${'j'.repeat(64 * 1024)}`]);
    expect(r.status).toBe(431);
  });
  it('a webhook with no secret configured: 404, nothing triggered', async () => expect(await post('/v1/webhook', '{}')).toMatchObject({ status: 404, code: 'WebhookDisabled' }));
});

describe('slow clients', () => {
  it('50 clients dribbling headers byte by byte are cut off; /healthz stays fast meanwhile', async () => {
    const slow = Array.from({ length: 50 }, () => dribble(port, `GET /v1/hosts/edge-1/desired HTTP/1.1\r\nHost: x\r\nX-Pad: ${'p'.repeat(400)}\r\n\r\n`, 200));
    const lat: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      expect((await get('/healthz')).status).toBe(200);
      lat.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 250));
    }
    const closed = await Promise.all(slow.map((s) => s.closedAfterMs));
    // The reconciler's headers timeout is 10 s, checked every second.
    expect(Math.max(...closed)).toBeLessThan(14_000);
    expect(Math.min(...closed)).toBeGreaterThan(5_000);
    expect(Math.max(...lat)).toBeLessThan(200);
    console.log(`slowloris: 50 dribbling clients cut after ${Math.min(...closed)}-${Math.max(...closed)} ms; /healthz max ${Math.max(...lat).toFixed(1)} ms`);
  }, 30_000);
});

describe('10,000 parked long-polls', () => {
  it('are held while /healthz and another host are served fast; memory stays bounded', async () => {
    const N = 10_000;
    const edge1 = (await h.fleet()).hosts.find((x) => x.host === 'edge-1')!;
    const rssBefore = rssMiB(pid);
    // One fd per parked client on each side: the reconciler inherits this process's limit.
    const limit = Number(execFileSync('bash', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
    expect(limit, 'RLIMIT_NOFILE must allow 10,000 sockets on each side').toBeGreaterThan(N + 1000);
    const child = spawn('bash', ['-c', `ulimit -n ${limit} && exec "${process.execPath}" "${join(import.meta.dirname, 'longpoll-swarm.mjs')}" ${port} edge-1 ${token('edge-1')} ${edge1.desired!.generation} ${N}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const t0 = Date.now();
      while (!out.includes('parked') && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 100));
      const parked = JSON.parse(out.split('\n')[0]!) as { parked: number; errors: number };
      expect(parked.parked).toBe(N);
      // Wait until the server has parked them all (its own gauge).
      let waiting = 0;
      for (let i = 0; i < 100 && waiting < N; i++) {
        const m = await get('/metrics');
        waiting = Number(/^bpfleet_longpolls_waiting (\d+)/m.exec(m.text)?.[1] ?? 0);
        if (waiting < N) await new Promise((r) => setTimeout(r, 200));
      }
      expect(waiting).toBeGreaterThanOrEqual(N);
      const lat = { healthz: [] as number[], edge2: [] as number[] };
      for (let i = 0; i < 20; i++) {
        let t = performance.now();
        expect((await get('/healthz')).status).toBe(200);
        lat.healthz.push(performance.now() - t);
        t = performance.now();
        expect((await get('/v1/hosts/edge-2/desired', bearer(token('edge-2')))).status).toBe(200);
        lat.edge2.push(performance.now() - t);
      }
      const rssHeld = rssMiB(pid);
      const fds = openFds(pid);
      const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)]!;
      console.log(`10k long-polls: reconciler RSS ${rssBefore.toFixed(0)} → ${rssHeld.toFixed(0)} MiB, ${fds} fds; /healthz p99 ${p99(lat.healthz).toFixed(1)} ms, edge-2 desired p99 ${p99(lat.edge2).toFixed(1)} ms`);
      expect(p99(lat.healthz)).toBeLessThan(100);
      expect(p99(lat.edge2)).toBeLessThan(100);
      expect(rssHeld - rssBefore).toBeLessThan(400);
      // The swarm is still parked: nobody got an answer they should not have.
      const stop = new Promise<string>((r) => child.stdout!.once('data', (d: Buffer) => r(d.toString())));
      child.kill('SIGTERM');
      const end = JSON.parse((await stop).trim()) as { replies: number; byStatus: Record<string, number> };
      expect(end.replies).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    // The fleet is unaffected.
    await h.waitConverged(h.introduction);
  }, 120_000);
});
