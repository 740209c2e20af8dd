// The transport's public surface changes only on purpose: the exports other
// parts (daemons, CLI, audit) build on, and the HTTP routes agents depend on.

import { expect, test } from 'vitest';
import { request } from 'undici';
import { C1, fleet, startApi } from './helpers.js';

test('exports', async () => {
  const surface = {
    protocol: Object.keys(await import('../../schemas/protocol.js')).sort(),
    signature: Object.keys(await import('../../schemas/desired-signature.js')).sort(),
    atomicFile: Object.keys(await import('../../schemas/atomic-file.js')).sort(),
    signing: [...Object.keys(await import('../../reconciler/signing/key-files.js')), ...Object.keys(await import('../../reconciler/signing/sign-desired.js'))].sort(),
    state: Object.keys(await import('../../reconciler/state/state-store.js')).sort(),
    server: Object.keys(await import('../../reconciler/server/api-server.js')).sort(),
    client: Object.keys(await import('../../agent/client/desired-client.js')).sort(),
    status: Object.keys(await import('../../cli/commands/status.js')).sort(),
  };
  expect(surface).toEqual({
    protocol: ['API_VERSION', 'HOST_NAME_PATTERN', 'HOST_STATES', 'MAX_WAIT_SECONDS', 'PROTOCOL_SCHEMA_IDS', 'SHA256_PATTERN', 'protocolAjv', 'validateProtocol'],
    signature: ['DesiredVerificationError', 'keyIdOf', 'toPublicKey', 'verifyDesired'],
    atomicFile: ['AtomicWriteError', 'CorruptFileError', 'readJsonFile', 'syncDir', 'writeFileAtomic'],
    signing: ['SigningKeyError', 'createDesiredSigner', 'desiredDocument', 'generateSigningKey', 'loadSigningKey'],
    state: ['GenerationRegressionError', 'openStateStore'],
    server: ['createApiServer'],
    client: ['DesiredClientError', 'createDesiredClient'],
    status: ['registerStatus', 'renderStatus', 'runStatus'],
  });
});

test('routes and the status each answers without credentials', async () => {
  const api = await startApi();
  try {
    await api.api.publish(fleet(C1, ['edge-1']));
    const routes: Array<[string, string, number]> = [
      ['GET', '/healthz', 200],
      ['GET', '/readyz', 200],
      ['GET', '/metrics', 200],
      ['GET', '/v1/fleet', 401],
      ['GET', '/v1/hosts/edge-1/desired', 401],
      ['POST', '/v1/hosts/edge-1/status', 401],
      ['GET', `/v1/objects/${'a'.repeat(64)}`, 401],
      ['POST', '/v1/webhook', 401],
      ['GET', '/v1/hosts/edge-1/status', 405],
      ['GET', '/v2/fleet', 404],
    ];
    for (const [method, path, code] of routes) {
      const res = await request(`${api.url}${path}`, { method: method as 'GET' | 'POST', body: method === 'POST' ? '{}' : undefined });
      await res.body.dump();
      expect(`${method} ${path} ${res.statusCode}`).toBe(`${method} ${path} ${code}`);
    }
  } finally {
    await api.stop();
  }
});
