// Many parked long-polls on one reconciler: the event loop must stay free for
// health checks, and one publish must answer every waiter in one round trip.

import { afterEach, expect, test } from 'vitest';
import { Agent, request } from 'undici';
import { C1, C2, C3, fleet, startApi, type Running } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const names = (n: number) => Array.from({ length: n }, (_, i) => `node-${String(i).padStart(5, '0')}`);
const tokenOf = (h: string) => `token-of-${h}`;

async function setup(n: number): Promise<{ api: Running; hosts: string[]; dispatcher: Agent }> {
  const hosts = names(n);
  const api = await startApi({ hosts: Object.fromEntries(hosts.map((h) => [h, tokenOf(h)])) });
  cleanups.push(() => api.stop());
  await api.api.publish(fleet(C1, hosts));
  const dispatcher = new Agent({ connections: null, pipelining: 0, keepAliveTimeout: 60_000, headersTimeout: 90_000 });
  cleanups.push(() => dispatcher.destroy());
  return { api, hosts, dispatcher };
}

function park(api: Running, dispatcher: Agent, host: string, since: number) {
  return request(`${api.url}/v1/hosts/${host}/desired?wait=60`, {
    dispatcher,
    headers: { authorization: `Bearer ${tokenOf(host)}`, 'if-none-match': `"${since}"` },
  }).then(async (res) => {
    await res.body.arrayBuffer();
    return { status: res.statusCode, etag: res.headers.etag, at: performance.now() };
  });
}

async function waitingCount(api: Running): Promise<number> {
  const text = await (await request(`${api.url}/metrics`)).body.text();
  return Number(/^bpfleet_longpolls_waiting (\d+)$/m.exec(text)?.[1] ?? -1);
}

async function untilWaiting(api: Running, n: number): Promise<void> {
  const end = Date.now() + 30_000;
  while ((await waitingCount(api)) < n) {
    if (Date.now() > end) throw new Error(`only ${await waitingCount(api)} of ${n} long-polls parked`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('2,000 parked long-polls: /healthz still answers fast, and one publish answers them all', async () => {
  const { api, hosts, dispatcher } = await setup(2000);
  const answers = hosts.map((h) => park(api, dispatcher, h, 1));
  await untilWaiting(api, 2000);

  const probe = new Agent({ connections: 1 });
  cleanups.push(() => probe.close());
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    const res = await request(`${api.url}/healthz`, { dispatcher: probe });
    await res.body.text();
    expect(res.statusCode).toBe(200);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const p50 = times[25]!;
  const max = times.at(-1)!;
  console.log(`[transport] /healthz with 2000 parked long-polls: p50 ${p50.toFixed(2)} ms, max ${max.toFixed(2)} ms`);
  expect(max).toBeLessThan(100);

  const t0 = performance.now();
  await api.api.publish(fleet(C2, hosts));
  const results = await Promise.all(answers);
  const last = Math.max(...results.map((r) => r.at)) - t0;
  console.log(`[transport] publish -> all 2000 long-polls answered: ${last.toFixed(0)} ms`);
  expect(results.every((r) => r.status === 200 && r.etag === '"2"')).toBe(true);
  expect(await waitingCount(api)).toBe(0);
});

test('publish -> all N=1000 long-polls answered (measured)', async () => {
  const { api, hosts, dispatcher } = await setup(1000);
  const figures: number[] = [];
  let gen = 1;
  for (const commit of [C2, C3]) {
    const answers = hosts.map((h) => park(api, dispatcher, h, gen));
    await untilWaiting(api, 1000);
    const t0 = performance.now();
    await api.api.publish(fleet(commit, hosts));
    const published = performance.now() - t0;
    const results = await Promise.all(answers);
    gen++;
    expect(results.every((r) => r.status === 200 && r.etag === `"${gen}"`)).toBe(true);
    const first = Math.min(...results.map((r) => r.at)) - t0;
    const last = Math.max(...results.map((r) => r.at)) - t0;
    figures.push(last);
    console.log(`[transport] N=1000: publish (sign + persist) ${published.toFixed(0)} ms, first answer ${first.toFixed(0)} ms, all answered ${last.toFixed(0)} ms`);
  }
  expect(Math.max(...figures)).toBeLessThan(5000);
});
