import { describe, expect, test } from 'vitest';
import { PROTOCOL_SCHEMA_IDS, validateProtocol, type ProtocolKind } from '../../schemas/protocol.js';
import { C1, hostState } from './helpers.js';

describe('protocol schemas', () => {
  test('every schema compiles in strict mode', () => {
    for (const kind of Object.keys(PROTOCOL_SCHEMA_IDS) as ProtocolKind[]) {
      expect(() => validateProtocol(kind, {})).not.toThrow();
    }
  });

  test('a status report with hooks, drift and receipt validates; bad fields are named', () => {
    const good = {
      host: 'edge-1', generation: 2, commit: C1, state: 'drifted',
      hooks: [{ iface: 'eth0', hook: 'xdp', policy: 'pass', generation: 5, members: [{ program: 'p', version: '1', sha256: 'a'.repeat(64), progId: 42, tag: '0123456789abcdef' }] }],
      drift: [{ iface: 'eth0', hook: 'xdp', kind: 'root-detached', detail: 'link gone' }],
      error: { code: 'VerifierRejected', message: 'r0 !read_ok' },
      receipt: { steps: [] }, datapath: 'kernel', agentVersion: '0.1.0', reportedAt: new Date().toISOString(),
    };
    expect(validateProtocol('StatusReport', good).ok).toBe(true);
    const bad = validateProtocol('StatusReport', { ...good, hooks: [{ ...good.hooks[0], iface: 'eth0/../x' }], extra: 1 });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.errors.join('\n')).toContain('/hooks/0/iface');
      expect(bad.errors.join('\n')).toContain('(extra)');
    }
  });

  test('host desired state and configs', () => {
    expect(validateProtocol('HostDesiredState', hostState('edge-1')).ok).toBe(true);
    expect(validateProtocol('HostDesiredState', { ...hostState('edge-1'), host: 'Edge_1' }).ok).toBe(false);
    expect(validateProtocol('ReconcilerConfig', {
      listen: '127.0.0.1:7443', stateDir: '/var/lib/bpfleet', repo: { url: 'ssh://git@example.org/fleet.git', fetchInterval: 30 },
      introduction: { commit: C1, fingerprint: 'SHA256:abcdefghijklmnopqrstuvwxyz' }, signingKey: '/etc/bpfleet/signing.key',
      hosts: { 'edge-1': { tokenSha256: 'c'.repeat(64) } }, adminTokenSha256: 'd'.repeat(64), webhookSecretFile: '/etc/bpfleet/webhook',
    }).ok).toBe(true);
    // Plaintext tokens are not a thing the config can hold.
    expect(validateProtocol('ReconcilerConfig', {
      listen: '127.0.0.1:7443', stateDir: '/x', repo: { path: '/repo' }, introduction: { commit: C1, fingerprint: 'SHA256:abcdefghijklmnop' },
      signingKey: '/k', hosts: { 'edge-1': { token: 'secret' } },
    }).ok).toBe(false);
    expect(validateProtocol('AgentConfig', {
      host: 'edge-1', reconcilerUrls: ['http://10.0.0.1:7443', 'http://10.0.0.2:7443'], tokenFile: '/etc/bpfleet/token',
      reconcilerPublicKey: '/etc/bpfleet/reconciler.pub', datapath: 'kernel', stateDir: '/var/lib/bpfleet-agent', selfHeal: true,
    }).ok).toBe(true);
  });
});
