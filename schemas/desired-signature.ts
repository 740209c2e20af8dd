// Verification side of the signed desired state. It lives in schemas/ because
// the agent verifies and must not import reconciler code; the reconciler's
// signer (reconciler/signing) produces exactly what this accepts.

import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { canonicalHash } from './canonical-json.js';
import { validateProtocol, type DesiredDocument, type SignedDesired } from './protocol.js';

export type DesiredRefusal =
  | 'MalformedEnvelope'
  | 'UnknownSigningKey'
  | 'BadSignature'
  | 'MalformedDocument'
  | 'HashMismatch';

export class DesiredVerificationError extends Error {
  constructor(
    readonly code: DesiredRefusal,
    message: string,
    readonly data: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DesiredVerificationError';
  }
}

/** Load a public key from SPKI PEM text, a KeyObject (public or private: its public half). */
export function toPublicKey(key: string | KeyObject): KeyObject {
  const k = typeof key === 'string' ? createPublicKey(key) : key.type === 'private' ? createPublicKey(key) : key;
  if (k.asymmetricKeyType !== 'ed25519') throw new DesiredVerificationError('UnknownSigningKey', `expected an ed25519 key, got ${k.asymmetricKeyType}`);
  return k;
}

/** `ed25519:` + the first 16 hex digits of sha256 over the key's SPKI DER. */
export function keyIdOf(key: string | KeyObject): string {
  const der = toPublicKey(key).export({ type: 'spki', format: 'der' });
  return `ed25519:${createHash('sha256').update(der).digest('hex').slice(0, 16)}`;
}

/**
 * Check an envelope against the pinned public key and return its document.
 * Order matters: the signature is checked over the raw document string before
 * the string is parsed, so nothing unauthenticated is ever interpreted.
 * Host and generation are the caller's checks (they need its state).
 */
export function verifyDesired(envelope: unknown, publicKey: string | KeyObject): DesiredDocument {
  const env = validateProtocol('SignedDesired', envelope);
  if (!env.ok) throw new DesiredVerificationError('MalformedEnvelope', `signed desired state is malformed: ${env.errors.join('; ')}`, { errors: env.errors });
  const key = toPublicKey(publicKey);
  const expectedKeyId = keyIdOf(key);
  if (env.value.keyId !== expectedKeyId) {
    throw new DesiredVerificationError('UnknownSigningKey', `signed by key ${env.value.keyId}, pinned key is ${expectedKeyId}`, { keyId: env.value.keyId, pinned: expectedKeyId });
  }
  const ok = verify(null, Buffer.from(env.value.document, 'utf8'), key, Buffer.from(env.value.signature, 'base64'));
  if (!ok) throw new DesiredVerificationError('BadSignature', `signature does not verify with pinned key ${expectedKeyId}`, { keyId: expectedKeyId });
  let parsed: unknown;
  try {
    parsed = JSON.parse(env.value.document);
  } catch (err) {
    throw new DesiredVerificationError('MalformedDocument', `signed document is not JSON: ${(err as Error).message}`);
  }
  const doc = validateProtocol('DesiredDocument', parsed);
  if (!doc.ok) throw new DesiredVerificationError('MalformedDocument', `signed document is invalid: ${doc.errors.join('; ')}`, { errors: doc.errors });
  const actual = canonicalHash(doc.value.state);
  if (actual !== doc.value.hash) {
    throw new DesiredVerificationError('HashMismatch', `document hash ${doc.value.hash} does not match its state (${actual})`, { host: doc.value.host, generation: doc.value.generation });
  }
  return doc.value;
}

export type { SignedDesired };
