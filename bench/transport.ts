// Long-poll fan-out: publish → every one of N parked agents answered. The
// reconciler runs in this process; the N clients run in a forked child so they
// do not share the server's event loop (on 2 cores this is what a real fleet
// of remote agents looks like to the server, minus the network).
// Run: npx tsc -p tsconfig.json && node dist/bench/transport.js [N ...]
// Writes bench/results/transport.json.

import { fork } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { Agent, request } from 'undici';
import { canonicalHash } from '../schemas/canonical-json.js';
import type { FleetDesiredState, HostDesiredState } from '../schemas/desired-state.js';
import { createApiServer } from '../reconciler/server/api-server.js';
import { hashToken } from '../reconciler/server/auth.js';
import { createDesiredSigner } from '../reconciler/signing/sign-desired.js';
import { openStateStore } from '../reconciler/state/state-store.js';

const ROUNDS = 5;
const tokenOf = (h: string) => `bench-token-${h}`;
const names = (n: number) => Array.from({ length: n }, (_, i) => `node-${String(i).padStart(5, '0')}`);

function state(host: string, rate: number): HostDesiredState {
  return {
    host,
    labels: {},
    interfaces: [{ name: 'eth0', hooks: [{ hook: 'xdp', policy: 'pass', chain: [{ program: 'rl', version: '1', object: { sha256: 'a'.repeat(64), size: 1 }, entry: 'xdp_rl', params: { rate }, bindings: [], maps: [] }] }] }],
  };
}
function fleet(commitNo: number, hosts: string[]): FleetDesiredState {
  const f: FleetDesiredState = { commit: commitNo.toString(16).padStart(40, '0'), hosts: {}, objects: {} };
  for (const h of hosts) {
    const s = state(h, commitNo);
    f.hosts[h] = { state: s, hash: canonicalHash(s) };
  }
  return f;
}

// --- child: N parked agents ------------------------------------------------
async function child(): Promise<void> {
  const dispatcher = new Agent({ connections: null, keepAliveTimeout: 120_000, headersTimeout: 120_000 });
  process.on('message', async (m: { url: string; hosts: string[]; since: number }) => {
    const arrivals = await Promise.all(
      m.hosts.map(async (h) => {
        const res = await request(`${m.url}/v1/hosts/${h}/desired?wait=60`, { dispatcher, headers: { authorization: `Bearer ${tokenOf(h)}`, 'if-none-match': `"${m.since}"` } });
        await res.body.arrayBuffer();
        if (res.statusCode !== 200) throw new Error(`${h}: ${res.statusCode}`);
        return process.hrtime.bigint(); // CLOCK_MONOTONIC: comparable across processes
      }),
    );
    const first = arrivals.reduce((a, b) => (a < b ? a : b));
    const last = arrivals.reduce((a, b) => (a > b ? a : b));
    process.send!({ first: first.toString(), last: last.toString() });
  });
}

// --- parent: the reconciler -------------------------------------------------
async function parent(sizes: number[]): Promise<void> {
  const results: Record<string, unknown>[] = [];
  for (const n of sizes) {
    const hosts = names(n);
    const dir = mkdtempSync(join(tmpdir(), 'bpfleet-bench-transport-'));
    const registry = new Registry();
    const api = createApiServer({
      store: await openStateStore(dir),
      hosts: new Map(hosts.map((h) => [h, hashToken(tokenOf(h))])),
      objects: async () => null,
      signer: createDesiredSigner(generateKeyPairSync('ed25519').privateKey),
      registry,
    });
    const addr = await api.listen(0);
    const url = `http://127.0.0.1:${addr.port}`;
    await api.publish(fleet(1, hosts));
    const kid = fork(fileURLToPath(import.meta.url), ['--child'], { stdio: 'inherit' });
    const rounds: { publishMs: number; firstMs: number; allMs: number }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const done = new Promise<{ first: string; last: string }>((res) => kid.once('message', res as (m: unknown) => void));
      kid.send({ url, hosts, since: r + 1 });
      const local = new Agent({ connections: 1 });
      for (;;) {
        const text = await (await request(`${url}/metrics`, { dispatcher: local })).body.text();
        if (Number(/^bpfleet_longpolls_waiting (\d+)$/m.exec(text)?.[1]) >= n) break;
        await new Promise((s) => setTimeout(s, 20));
      }
      await local.close();
      const t0 = process.hrtime.bigint();
      await api.publish(fleet(r + 2, hosts));
      const published = process.hrtime.bigint();
      const m = await done;
      const ms = (t: bigint) => Number(t - t0) / 1e6;
      rounds.push({ publishMs: ms(published), firstMs: ms(BigInt(m.first)), allMs: ms(BigInt(m.last)) });
    }
    kid.kill();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
    const median = (k: 'publishMs' | 'firstMs' | 'allMs') => [...rounds].sort((a, b) => a[k] - b[k])[Math.floor(ROUNDS / 2)]![k];
    const row = { n, rounds: ROUNDS, medianPublishMs: round(median('publishMs')), medianFirstAnswerMs: round(median('firstMs')), medianAllAnsweredMs: round(median('allMs')), worstAllAnsweredMs: round(Math.max(...rounds.map((x) => x.allMs))) };
    console.log(`N=${n}: publish (fsync + sign ${n} docs + write ${n} responses) ${row.medianPublishMs} ms, first answer ${row.medianFirstAnswerMs} ms, all ${n} answered ${row.medianAllAnsweredMs} ms (median of ${ROUNDS}; worst ${row.worstAllAnsweredMs} ms)`);
    results.push(row);
  }
  const out = join(dirname(fileURLToPath(import.meta.url)), '../../bench/results/transport.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ node: process.version, cpus: (await import('node:os')).cpus().length, measuredAt: new Date().toISOString(), results }, null, 2)}\n`);
}

const round = (x: number) => Math.round(x * 10) / 10;

if (process.argv.includes('--child')) void child();
else void parent(process.argv.slice(2).map(Number).filter((x) => x > 0).length ? process.argv.slice(2).map(Number) : [1000, 2000]);
