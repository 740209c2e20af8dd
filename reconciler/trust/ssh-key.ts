// SSH public keys: decode the wire blob into a node:crypto KeyObject and
// compute the fingerprint exactly as `ssh-keygen -lf` prints it
// (SHA256:<base64 of sha256(blob), no padding>).

import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { SshReader } from './ssh-wire.js';

export const SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
] as const;
export type SshKeyType = (typeof SSH_KEY_TYPES)[number];

const CURVES: Record<string, { jwk: string; size: number; hash: string }> = {
  nistp256: { jwk: 'P-256', size: 32, hash: 'sha256' },
  nistp384: { jwk: 'P-384', size: 48, hash: 'sha384' },
  nistp521: { jwk: 'P-521', size: 66, hash: 'sha512' },
};

export interface SshPublicKey {
  type: SshKeyType;
  blob: Buffer;
  key: KeyObject;
  /** For ECDSA: digest the curve mandates (RFC 5656 §6.2.1) and field size. */
  ecdsa?: { hash: string; size: number };
  fingerprint: string;
}

export function sshFingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

function b64url(b: Buffer): string {
  return b.toString('base64url');
}

function leftPad(b: Buffer, size: number): Buffer {
  if (b.length >= size) return b;
  return Buffer.concat([Buffer.alloc(size - b.length), b]);
}

/** Decode a public key blob. Throws on unknown types or malformed blobs. */
export function decodeSshPublicKey(blob: Buffer): SshPublicKey {
  const r = new SshReader(blob);
  const type = r.text();
  const fingerprint = sshFingerprint(blob);
  if (type === 'ssh-ed25519') {
    const pk = r.string();
    if (pk.length !== 32) throw new Error('ed25519 key is not 32 bytes');
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(pk) }, format: 'jwk' });
    return { type, blob, key, fingerprint };
  }
  if (type.startsWith('ecdsa-sha2-')) {
    const curveName = r.text();
    const curve = CURVES[curveName];
    if (!curve || type !== `ecdsa-sha2-${curveName}`) throw new Error(`unsupported ECDSA curve ${curveName}`);
    const q = r.string();
    if (q[0] !== 0x04 || q.length !== 1 + 2 * curve.size) throw new Error('ECDSA point is not uncompressed');
    const x = q.subarray(1, 1 + curve.size);
    const y = q.subarray(1 + curve.size);
    const key = createPublicKey({ key: { kty: 'EC', crv: curve.jwk, x: b64url(x), y: b64url(y) }, format: 'jwk' });
    return { type: type as SshKeyType, blob, key, ecdsa: { hash: curve.hash, size: curve.size }, fingerprint };
  }
  if (type === 'ssh-rsa') {
    const e = r.mpint();
    const n = r.mpint();
    const key = createPublicKey({ key: { kty: 'RSA', n: b64url(n), e: b64url(e) }, format: 'jwk' });
    return { type, blob, key, fingerprint };
  }
  throw new Error(`unsupported SSH key type ${type}`);
}

/** Parse "<type> <base64> [comment]" (one authorized_keys style key). */
export function parseSshPublicKeyText(text: string): SshPublicKey {
  const [type, b64] = text.trim().split(/\s+/);
  if (!type || !b64) throw new Error('expected "<key-type> <base64>"');
  const key = decodeSshPublicKey(Buffer.from(b64, 'base64'));
  if (key.type !== type) throw new Error(`key type ${type} does not match its blob (${key.type})`);
  return key;
}
