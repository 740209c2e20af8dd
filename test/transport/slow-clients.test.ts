// A client that trickles its headers or body, or idles on a keep-alive
// connection, must not hold a socket forever.

import { afterEach, expect, test } from 'vitest';
import { connect, type Socket } from 'node:net';
import { TOKENS, fleet, C1, startApi, type Running } from './helpers.js';

let api: Running | undefined;
afterEach(async () => {
  await api?.stop();
  api = undefined;
});

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}
function closedWithin(s: Socket, ms: number): Promise<{ closed: boolean; after: number; data: string }> {
  const t0 = Date.now();
  let data = '';
  s.on('data', (c: Buffer) => (data += c.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ closed: false, after: Date.now() - t0, data }), ms);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, after: Date.now() - t0, data });
    });
  });
}

test('headers that never finish are cut off by the headers timeout (408)', async () => {
  api = await startApi({ extra: { timeouts: { headersMs: 500, requestMs: 1000, keepAliveMs: 300 } } });
  const s = await open(api.port);
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // no final CRLF, ever
  const r = await closedWithin(s, 4000);
  expect(r.closed).toBe(true);
  expect(r.after).toBeLessThan(3000);
  expect(r.data).toMatch(/^HTTP\/1\.1 408/);
});

test('a body that trickles is cut off by the request timeout', async () => {
  api = await startApi({ extra: { timeouts: { headersMs: 500, requestMs: 1000, keepAliveMs: 300 } } });
  await api.api.publish(fleet(C1, ['edge-1']));
  const s = await open(api.port);
  s.write(`POST /v1/hosts/edge-1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS['edge-1']}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
  const tick = setInterval(() => s.writable && s.write(' '), 100);
  const r = await closedWithin(s, 5000);
  clearInterval(tick);
  expect(r.closed).toBe(true);
  expect(r.after).toBeLessThan(3500);
});

test('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
  api = await startApi({ extra: { timeouts: { headersMs: 500, requestMs: 1000, keepAliveMs: 300 } } });
  const s = await open(api.port);
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  const r = await closedWithin(s, 3000);
  expect(r.data).toMatch(/^HTTP\/1\.1 200/);
  expect(r.closed).toBe(true);
  expect(r.after).toBeLessThan(1500);
});

test('a parked long-poll outlives the request timeout (the request itself was complete)', async () => {
  api = await startApi({ extra: { timeouts: { headersMs: 500, requestMs: 1000, keepAliveMs: 300 } } });
  await api.api.publish(fleet(C1, ['edge-1']));
  const s = await open(api.port);
  s.write(`GET /v1/hosts/edge-1/desired?wait=3 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS['edge-1']}\r\nIf-None-Match: "1"\r\n\r\n`);
  const r = await closedWithin(s, 6000);
  expect(r.data).toMatch(/^HTTP\/1\.1 304/);
  expect(r.after).toBeGreaterThanOrEqual(2900);
});
