// SSHSIG (OpenSSH PROTOCOL.sshsig) verification with node:crypto, as git's
// `gpg.format=ssh` produces it with `ssh-keygen -Y sign -n git`.
//
//   blob   = "SSHSIG" u32(1) string(pubkey) string(namespace) string(reserved)
//            string(hash_alg) string(signature)
//   signed = "SSHSIG" string(namespace) string(reserved) string(hash_alg)
//            string(H(payload))
//
// We accept namespace "git" only (a signature made for files or e-mail must
// not pass for a commit), message digests sha256/sha512, and signature
// algorithms ed25519, ECDSA P-256/384/521, rsa-sha2-256/512. `ssh-rsa`
// (RSA with SHA-1) is refused as a weak digest.

import { constants, createHash, verify as cryptoVerify } from 'node:crypto';
import { decodeSshPublicKey, type SshPublicKey } from './ssh-key.js';
import { SshReader, sshString } from './ssh-wire.js';
import type { SignatureVerifier, VerifyOutcome } from './verifier.js';

const BEGIN = '-----BEGIN SSH SIGNATURE-----';
const END = '-----END SSH SIGNATURE-----';
const MAGIC = Buffer.from('SSHSIG');
const MIN_RSA_BITS = 2048;

export interface SshSig {
  publicKey: Buffer;
  namespace: string;
  hashAlgorithm: string;
  signatureAlgorithm: string;
  signature: Buffer;
  reserved: Buffer;
}

export function parseSshSignatureArmor(armored: string): Buffer {
  const text = armored.trim();
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (begin === -1 || end === -1 || end < begin) throw new Error('not an armored SSH signature');
  return Buffer.from(text.slice(begin + BEGIN.length, end).replace(/\s+/g, ''), 'base64');
}

export function parseSshSig(blob: Buffer): SshSig {
  const r = new SshReader(blob);
  if (!r.bytes(6).equals(MAGIC)) throw new Error('missing SSHSIG magic');
  const version = r.uint32();
  if (version !== 1) throw new Error(`SSHSIG version ${version} is not 1`);
  const publicKey = r.string();
  const namespace = r.text();
  const reserved = r.string();
  const hashAlgorithm = r.text();
  const sigBlob = new SshReader(r.string());
  const signatureAlgorithm = sigBlob.text();
  const signature = sigBlob.string();
  return { publicKey, namespace, hashAlgorithm, signatureAlgorithm, signature, reserved };
}

/** The bytes the private key actually signed. */
export function sshSignedData(sig: Pick<SshSig, 'namespace' | 'reserved' | 'hashAlgorithm'>, payload: Uint8Array): Buffer {
  const digest = createHash(sig.hashAlgorithm).update(payload).digest();
  return Buffer.concat([
    MAGIC,
    sshString(sig.namespace),
    sshString(sig.reserved),
    sshString(sig.hashAlgorithm),
    sshString(digest),
  ]);
}

type Fail = Extract<VerifyOutcome, { ok: false }>;
const fail = (reason: Fail['reason'], message: string, fingerprint?: string): Fail => ({
  ok: false,
  scheme: 'ssh',
  reason,
  message,
  ...(fingerprint ? { fingerprint } : {}),
});

function checkSignature(key: SshPublicKey, sig: SshSig, data: Buffer): boolean | Fail {
  const alg = sig.signatureAlgorithm;
  switch (key.type) {
    case 'ssh-ed25519':
      if (alg !== 'ssh-ed25519') break;
      return cryptoVerify(null, data, key.key, sig.signature);
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521': {
      if (alg !== key.type || !key.ecdsa) break;
      const r = new SshReader(sig.signature);
      const size = key.ecdsa.size;
      const rs = [r.mpint(), r.mpint()];
      if (rs.some((v) => v.length > size)) return false;
      const p1363 = Buffer.concat(rs.map((v) => Buffer.concat([Buffer.alloc(size - v.length), v])));
      return cryptoVerify(key.ecdsa.hash, data, { key: key.key, dsaEncoding: 'ieee-p1363' }, p1363);
    }
    case 'ssh-rsa': {
      if (alg === 'ssh-rsa') return fail('WeakDigest', 'RSA signature uses ssh-rsa (SHA-1); rsa-sha2-256 or rsa-sha2-512 required', key.fingerprint);
      const hash = alg === 'rsa-sha2-256' ? 'sha256' : alg === 'rsa-sha2-512' ? 'sha512' : null;
      if (!hash) break;
      const bits = key.key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < MIN_RSA_BITS) return fail('UnsupportedSignature', `RSA key of ${bits} bits; at least ${MIN_RSA_BITS} required`, key.fingerprint);
      return cryptoVerify(hash, data, { key: key.key, padding: constants.RSA_PKCS1_PADDING }, sig.signature);
    }
  }
  return fail('UnsupportedSignature', `signature algorithm ${alg} does not fit key type ${key.type}`, key.fingerprint);
}

export async function verifySshSignature(payload: Uint8Array, armored: string, namespace = 'git'): Promise<VerifyOutcome> {
  let sig: SshSig;
  let key: SshPublicKey;
  try {
    sig = parseSshSig(parseSshSignatureArmor(armored));
  } catch (e) {
    return fail('BadSignature', `malformed SSH signature: ${(e as Error).message}`);
  }
  try {
    key = decodeSshPublicKey(sig.publicKey);
  } catch (e) {
    return fail('UnsupportedSignature', (e as Error).message);
  }
  if (sig.namespace !== namespace) {
    return fail('WrongNamespace', `SSH signature namespace is "${sig.namespace}", expected "${namespace}"`, key.fingerprint);
  }
  if (sig.hashAlgorithm !== 'sha256' && sig.hashAlgorithm !== 'sha512') {
    const weak = /^(sha1|md5)$/i.test(sig.hashAlgorithm);
    return fail(weak ? 'WeakDigest' : 'UnsupportedSignature', `SSH signature hash "${sig.hashAlgorithm}"; sha256 or sha512 required`, key.fingerprint);
  }
  let verdict: boolean | Fail;
  try {
    verdict = checkSignature(key, sig, sshSignedData(sig, payload));
  } catch (e) {
    verdict = fail('BadSignature', `malformed ${key.type} signature: ${(e as Error).message}`, key.fingerprint);
  }
  if (verdict === true) return { ok: true, scheme: 'ssh', fingerprint: key.fingerprint };
  if (verdict === false) return fail('BadSignature', `${key.type} signature does not match the signed content`, key.fingerprint);
  return verdict;
}

export const sshVerifier: SignatureVerifier = {
  scheme: 'ssh',
  accepts: (signature) => signature.trimStart().startsWith(BEGIN),
  verify: (payload, signature) => verifySshSignature(payload, signature),
};
