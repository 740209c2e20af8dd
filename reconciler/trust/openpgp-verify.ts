// OpenPGP detached-signature verification with openpgp.js v6.
//
// Git signs the commit payload as binary data (gpg --detach-sign), so the
// message is built with `createMessage({ binary })`. Digests weaker than
// SHA-256 (MD5, SHA-1, RIPEMD-160, SHA-224) are refused before any crypto
// runs. A signature made by a subkey is reported under its primary key's
// fingerprint, because authorizations name primary keys. The key is only
// taken from the caller's list (the parents' authorizations), never from a
// keyserver or the local keyring.

import * as openpgp from 'openpgp';
import type { OpenPgpKeyRef, SignatureVerifier, VerifyOutcome } from './verifier.js';

const BEGIN = '-----BEGIN PGP SIGNATURE-----';
const ACCEPTED_HASHES = new Set<number>([
  openpgp.enums.hash.sha256,
  openpgp.enums.hash.sha384,
  openpgp.enums.hash.sha512,
  openpgp.enums.hash.sha3_256,
  openpgp.enums.hash.sha3_512,
]);

type Fail = Extract<VerifyOutcome, { ok: false }>;
const fail = (reason: Fail['reason'], message: string, fingerprint?: string): Fail => ({
  ok: false,
  scheme: 'openpgp',
  reason,
  message,
  ...(fingerprint ? { fingerprint } : {}),
});

// Parsed keys by armored text: the same few keys verify thousands of commits.
const parsedKeys = new Map<string, Promise<openpgp.PublicKey | null>>();

function parseKey(armored: string): Promise<openpgp.PublicKey | null> {
  let p = parsedKeys.get(armored);
  if (!p) {
    p = openpgp.readKey({ armoredKey: armored }).then(
      (k) => k as openpgp.PublicKey,
      () => null,
    );
    parsedKeys.set(armored, p);
  }
  return p;
}

function hex(bytes: Uint8Array | null | undefined): string | undefined {
  return bytes && bytes.length > 0 ? Buffer.from(bytes).toString('hex').toUpperCase() : undefined;
}

async function findKey(keys: readonly OpenPgpKeyRef[], issuer: openpgp.KeyID): Promise<openpgp.PublicKey | null> {
  for (const ref of keys) {
    const key = await parseKey(ref.armored);
    // The authorization names a fingerprint; a key file that holds another key is not that key.
    if (!key || key.getFingerprint().toUpperCase() !== ref.fingerprint) continue;
    if (key.getKeys(issuer).length > 0) return key;
  }
  return null;
}

export async function verifyOpenPgpSignature(
  payload: Uint8Array,
  armored: string,
  keys: readonly OpenPgpKeyRef[],
): Promise<VerifyOutcome> {
  let signature: openpgp.Signature;
  try {
    signature = await openpgp.readSignature({ armoredSignature: armored });
  } catch (e) {
    return fail('BadSignature', `malformed OpenPGP signature: ${(e as Error).message}`);
  }
  const packets = [...signature.packets];
  const packet = packets[0];
  if (!packet || packets.length !== 1) {
    return fail('UnsupportedSignature', `expected one OpenPGP signature packet, found ${packets.length}`);
  }
  const issuerFpr = hex((packet as unknown as { issuerFingerprint?: Uint8Array }).issuerFingerprint);
  const issuerName = issuerFpr ?? packet.issuerKeyID.toHex().toUpperCase();
  if (packet.hashAlgorithm === null || !ACCEPTED_HASHES.has(packet.hashAlgorithm)) {
    const name = packet.hashAlgorithm === null ? 'unknown' : openpgp.enums.read(openpgp.enums.hash, packet.hashAlgorithm);
    return fail('WeakDigest', `OpenPGP signature uses digest ${name}; SHA-256 or stronger required`, issuerName);
  }
  const key = await findKey(keys, packet.issuerKeyID);
  if (!key) {
    return fail('UnknownKey', `no authorized OpenPGP key has key id ${packet.issuerKeyID.toHex().toUpperCase()}`, issuerName);
  }
  const fingerprint = key.getFingerprint().toUpperCase();
  try {
    const message = await openpgp.createMessage({ binary: payload });
    const result = await openpgp.verify({ message, signature, verificationKeys: [key], format: 'binary' });
    const first = result.signatures[0];
    if (!first) return fail('BadSignature', 'OpenPGP signature has no verifiable entry', fingerprint);
    await first.verified;
  } catch (e) {
    return fail('BadSignature', `OpenPGP signature does not verify: ${(e as Error).message}`, fingerprint);
  }
  return { ok: true, scheme: 'openpgp', fingerprint };
}

export const openPgpVerifier: SignatureVerifier = {
  scheme: 'openpgp',
  accepts: (signature) => signature.trimStart().startsWith(BEGIN),
  verify: (payload, signature, ctx) => verifyOpenPgpSignature(payload, signature, ctx.openpgpKeys),
};
