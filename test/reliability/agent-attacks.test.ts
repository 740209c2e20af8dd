// Attacks on the agent through its transport: a real `bpfleet agent` process
// (sim datapath) pointed at a fake reconciler that serves forged, foreign,
// replayed, tampered, oversize and garbage desired states and lying objects.
// The agent must refuse each, keep running what it applied, and say why.

import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFleet } from '../../reconciler/compile/compile-fleet.js';
import { createDesiredSigner, desiredDocument } from '../../reconciler/signing/sign-desired.js';
import { canonicalHash } from '../../schemas/canonical-json.js';
import type { HostDesiredState } from '../../schemas/desired-state.js';
import { exampleTree } from '../fleet/example-tree.js';
import { tempDir } from '../trust/fixtures.js';
import { startFakeReconciler, type FakeReconciler } from './fake-reconciler.js';
import { exampleObject, sha256 } from './hostile-repo.js';

const BIN = new URL('../../bin/bpfleet', import.meta.url).pathname;
const good = generateKeyPairSync('ed25519');
const evil = generateKeyPairSync('ed25519');
const signer = createDesiredSigner(good.privateKey);
const forger = createDesiredSigner(evil.privateKey);

let dir: string;
let fake: FakeReconciler;
let agent: ChildProcess;
let logs = '';
let state: HostDesiredState;
let appliedGen = 0;

const doc = (generation: number, s: HostDesiredState = state, host = 'edge-1', commit = String(generation).padStart(40, 'c')) =>
  desiredDocument({ host, commit, generation, state: s, hash: canonicalHash(s), issuedAt: new Date() });
const serve = (body: unknown, generation: number) => (fake.reply = { status: 200, body: typeof body === 'string' ? body : JSON.stringify(body), etag: `"${generation}"` });

const lastReport = () => fake.reports.at(-1)!;
const chainNow = () => JSON.stringify(lastReport().hooks.map((h) => [h.iface, h.hook, h.generation, h.members.map((m) => m.sha256)]));
async function until(pred: () => boolean, what: string, ms = 15_000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${logs.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  dir = tempDir('bpfleet-agent-attacks-');
  fake = await startFakeReconciler();
  const compiled = await compileFleet(exampleTree());
  if (!compiled.ok) throw new Error('example fleet does not compile');
  state = compiled.fleet.hosts['edge-1']!.state;
  for (const f of ['blocklist.bpf.o', 'ratelimit.bpf.o', 'counter.bpf.o']) fake.objects.set(sha256(exampleObject(f)), exampleObject(f));
  writeFileSync(join(dir, 'token'), 'agent-token', { mode: 0o600 });
  writeFileSync(join(dir, 'reconciler.pub'), good.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  mkdirSync(join(dir, 'state'));
  writeFileSync(
    join(dir, 'agent.yaml'),
    stringify({ host: 'edge-1', reconcilerUrls: [fake.url], tokenFile: join(dir, 'token'), reconcilerPublicKey: join(dir, 'reconciler.pub'), datapath: 'sim', stateDir: join(dir, 'state'), statusInterval: 1, logLevel: 'debug' }),
  );
  agent = spawn(process.execPath, [BIN, 'agent', '--config', join(dir, 'agent.yaml')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BPFLEET_LOG_FORMAT: 'json' } });
  agent.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
  agent.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
  // A legitimate generation first.
  appliedGen = 5;
  serve(signer.sign(doc(appliedGen)), appliedGen);
  await until(() => fake.reports.some((r) => r.generation === 5 && r.state === 'converged' && r.hooks.length > 0), 'the agent to apply generation 5');
  fake.reply = null;
}, 30_000);

afterAll(async () => {
  if (agent && agent.exitCode === null) {
    const gone = new Promise((r) => agent.once('exit', r));
    agent.kill('SIGTERM');
    await gone;
  }
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Serves the attack until the agent logs `code`, then checks that what runs did not change. */
async function refuses(code: string, attack: () => void) {
  const before = chainNow();
  const mark = logs.length;
  attack();
  const logged = new RegExp(`"code":"(?:${code})"`);
  await until(() => logged.test(logs.slice(mark)), `the agent to log ${code}`);
  fake.reply = null;
  const n = fake.reports.length;
  await until(() => fake.reports.length > n + 1, 'two more status reports');
  expect(lastReport().generation).toBe(appliedGen);
  expect(chainNow()).toBe(before);
  expect(JSON.parse(readFileSync(join(dir, 'state', 'applied-desired.json'), 'utf8')).generation).toBe(appliedGen);
}

describe('the agent refuses hostile desired states and keeps its datapath', () => {
  it('signed by another key', () => refuses('UnknownSigningKey|BadSignature', () => serve(forger.sign(doc(6)), 6)));
  it('a valid signature over a document whose state was then edited', () =>
    refuses('BadSignature', () => {
      const env = signer.sign(doc(6)) as unknown as { document: string };
      serve({ ...env, document: env.document.replace('"ratePps":200000', '"ratePps":1') }, 6);
    }));
  it("another host's genuine document", () => refuses('ForeignHost', () => serve(signer.sign(doc(6, { ...state, host: 'edge-2' }, 'edge-2')), 6)));
  it('a replay of an older genuine generation', () => refuses('StaleGeneration', () => serve(signer.sign(doc(3)), 3)));
  it('a replay of the applied generation with other content', () => refuses('StaleGeneration', () => serve(signer.sign(doc(5, { ...state, labels: { role: 'evil' } })), 5)));
  it('a body that is not JSON', () => refuses('MalformedEnvelope', () => (fake.reply = { status: 200, body: '<html>gateway</html>', etag: '"9"' })));
  it('a 20 MiB body', () => refuses('ResponseTooLarge', () => (fake.reply = { status: 200, body: Buffer.alloc(20 << 20, 0x20), etag: '"9"' })));
  it('an object whose bytes do not match its digest', async () => {
    const lie = new Uint8Array(exampleObject('counter.bpf.o'));
    lie[lie.length - 1] = lie[lie.length - 1]! ^ 0xff;
    const fakeSha = 'e'.repeat(64);
    fake.objects.set(fakeSha, lie);
    const s = structuredClone(state);
    const m = s.interfaces[0]!.hooks[0]!.chain.at(-1)!;
    m.object = { sha256: fakeSha, size: lie.length };
    const before = chainNow();
    serve(signer.sign(doc(6, s)), 6);
    await until(() => lastReport().state === 'error' && lastReport().generation === 6, 'an error report for generation 6');
    fake.reply = null;
    expect(JSON.stringify(lastReport().error)).toMatch(/DigestMismatch|digest|hashes to/i);
    expect(chainNow()).toBe(before);
  });
  it('still applies the next genuine generation', async () => {
    const s = structuredClone(state);
    (s.interfaces[0]!.hooks[0]!.chain[1]!.params as Record<string, unknown>).ratePps = 123;
    serve(signer.sign(doc(7, s)), 7);
    await until(() => lastReport().generation === 7 && lastReport().state === 'converged', 'generation 7 applied');
    fake.reply = null;
    expect(agent.exitCode).toBeNull();
  });
});
