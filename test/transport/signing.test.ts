import { afterEach, describe, expect, test } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSigningKey, loadSigningKey } from '../../reconciler/signing/key-files.js';
import { createDesiredSigner, desiredDocument } from '../../reconciler/signing/sign-desired.js';
import { keyIdOf, verifyDesired } from '../../schemas/desired-signature.js';
import { canonicalJson } from '../../schemas/canonical-json.js';
import { C1, hostState, tempDir } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('signing key files', () => {
  test('generate writes a 0600 private key and refuses to overwrite it; load round-trips', async () => {
    const d = await tempDir();
    cleanups.push(d.cleanup);
    const path = join(d.path, 'signing.key');
    const made = await generateSigningKey(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readFile(`${path}.pub`, 'utf8')).toContain('BEGIN PUBLIC KEY');
    await expect(generateSigningKey(path)).rejects.toMatchObject({ code: 'KeyExists' });
    const loaded = await loadSigningKey(path);
    expect(loaded.keyId).toBe(made.keyId);
    expect(loaded.keyId).toMatch(/^ed25519:[0-9a-f]{16}$/);
    await chmod(path, 0o644);
    await expect(loadSigningKey(path)).rejects.toMatchObject({ code: 'KeyTooOpen', data: { path } });
  });
});

describe('signed desired state', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const signer = createDesiredSigner(privateKey);
  const doc = desiredDocument({ host: 'edge-1', commit: C1, generation: 3, state: hostState('edge-1'), issuedAt: new Date() });

  test('verifies with the pinned key and returns the document', () => {
    const env = signer.sign(doc);
    expect(env.keyId).toBe(keyIdOf(publicKey));
    expect(verifyDesired(env, publicKey)).toEqual(doc);
    expect(env.document).toBe(canonicalJson(doc));
  });

  test('refuses another key, a tampered document, a bad hash and a malformed envelope', () => {
    const env = signer.sign(doc);
    const other = generateKeyPairSync('ed25519');
    expect(() => verifyDesired(env, other.publicKey)).toThrow(expect.objectContaining({ code: 'UnknownSigningKey' }));
    // Same keyId claimed, signature by another key: forged.
    const forged = { ...createDesiredSigner(other.privateKey).sign(doc), keyId: env.keyId };
    expect(() => verifyDesired(forged, publicKey)).toThrow(expect.objectContaining({ code: 'BadSignature' }));
    const tampered = { ...env, document: env.document.replace('"generation":3', '"generation":4') };
    expect(() => verifyDesired(tampered, publicKey)).toThrow(expect.objectContaining({ code: 'BadSignature' }));
    const badHash = signer.sign({ ...doc, hash: '0'.repeat(64) });
    expect(() => verifyDesired(badHash, publicKey)).toThrow(expect.objectContaining({ code: 'HashMismatch' }));
    expect(() => verifyDesired({ document: env.document }, publicKey)).toThrow(expect.objectContaining({ code: 'MalformedEnvelope' }));
    const invalid = signer.sign({ ...doc, kind: 'Other' } as never);
    expect(() => verifyDesired(invalid, publicKey)).toThrow(expect.objectContaining({ code: 'MalformedDocument' }));
  });
});
