// Shared fixtures of the transport tests: temp dirs, a sample desired state.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FleetDesiredState, HostDesiredState } from '../../schemas/desired-state.js';
import { canonicalHash } from '../../schemas/canonical-json.js';

export async function tempDir(prefix = 'bpfleet-transport-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

export const OBJ_A = 'a'.repeat(64);
export const OBJ_B = 'b'.repeat(64);

export function hostState(host: string, object = OBJ_A, rate = 100): HostDesiredState {
  return {
    host,
    labels: { role: 'edge' },
    interfaces: [
      {
        name: 'eth0',
        hooks: [
          {
            hook: 'xdp',
            policy: 'pass',
            chain: [
              {
                program: 'ratelimit',
                version: '1.0.0',
                object: { sha256: object, size: 4 },
                entry: 'xdp_ratelimit',
                params: { rate },
                bindings: [{ kind: 'global', parameter: 'rate', symbol: 'cfg_rate' }],
                maps: [{ name: 'buckets', persistent: true }],
              },
            ],
          },
        ],
      },
    ],
  };
}

export function fleet(commit: string, hosts: string[], opts: { object?: string; rate?: number; objectOf?: (host: string) => string } = {}): FleetDesiredState {
  const out: FleetDesiredState = { commit, hosts: {}, objects: {} };
  for (const h of hosts) {
    const object = opts.objectOf?.(h) ?? opts.object ?? OBJ_A;
    const state = hostState(h, object, opts.rate ?? 100);
    out.hosts[h] = { state, hash: canonicalHash(state) };
    out.objects[object] = `objects/${object.slice(0, 8)}.o`;
  }
  return out;
}

export const C1 = '1'.repeat(40);
export const C2 = '2'.repeat(40);
export const C3 = '3'.repeat(40);

// --- a running API server on 127.0.0.1 --------------------------------------

import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { Registry } from 'prom-client';
import { createApiServer, type ApiServer, type ApiServerOptions } from '../../reconciler/server/api-server.js';
import { hashToken } from '../../reconciler/server/auth.js';
import { createDesiredSigner } from '../../reconciler/signing/sign-desired.js';
import { openStateStore, type StateStore } from '../../reconciler/state/state-store.js';
import { sha256Hex } from '../../schemas/canonical-json.js';

export const OBJECT_BYTES: Record<string, Buffer> = {};
export function objectFor(text: string): string {
  const bytes = Buffer.from(text);
  const sha = sha256Hex(bytes);
  OBJECT_BYTES[sha] = bytes;
  return sha;
}

export const TOKENS: Record<string, string> = { 'edge-1': 'tok-edge-1-secret', 'edge-2': 'tok-edge-2-secret' };
export const ADMIN_TOKEN = 'tok-admin-secret';
export const WEBHOOK_SECRET = 'hook-secret';

export interface Running {
  api: ApiServer;
  url: string;
  port: number;
  store: StateStore;
  stateDir: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  webhooks: number;
  stop(): Promise<void>;
}

export async function startApi(o: { stateDir?: string; port?: number; keys?: { privateKey: KeyObject; publicKey: KeyObject }; hosts?: Record<string, string>; extra?: Partial<ApiServerOptions> } = {}): Promise<Running> {
  const dir = o.stateDir ? { path: o.stateDir, cleanup: async () => undefined } : await tempDir();
  const store = await openStateStore(dir.path);
  const keys = o.keys ?? generateKeyPairSync('ed25519');
  const tokens = o.hosts ?? TOKENS;
  const running: Running = {} as Running;
  running.webhooks = 0;
  const api = createApiServer({
    store,
    hosts: new Map(Object.entries(tokens).map(([h, t]) => [h, hashToken(t)])),
    adminTokenHash: hashToken(ADMIN_TOKEN),
    objects: async (sha) => OBJECT_BYTES[sha] ?? null,
    webhookSecret: WEBHOOK_SECRET,
    onWebhook: () => void running.webhooks++,
    signer: createDesiredSigner(keys.privateKey),
    registry: new Registry(),
    ...o.extra,
  });
  const addr = await api.listen(o.port ?? 0, '127.0.0.1');
  Object.assign(running, {
    api,
    url: `http://127.0.0.1:${addr.port}`,
    port: addr.port,
    store,
    stateDir: dir.path,
    privateKey: keys.privateKey,
    publicKey: keys.publicKey,
    async stop() {
      await api.close();
      await dir.cleanup();
    },
  });
  return running;
}
