// The one interface every signature scheme implements. A verifier answers a
// single question — did the holder of key K sign these bytes, under the rules
// we accept (namespace, digest)? — and returns the signer's fingerprint.
// Whether K may sign this commit is the rule's business (rule.ts), not the
// verifier's.

export type Scheme = 'ssh' | 'openpgp';

export type VerifyFailureReason =
  | 'BadSignature'
  | 'UnknownKey'
  | 'WrongNamespace'
  | 'WeakDigest'
  | 'UnsupportedSignature';

export type VerifyOutcome =
  | { ok: true; scheme: Scheme; fingerprint: string }
  | { ok: false; scheme: Scheme | null; reason: VerifyFailureReason; fingerprint?: string; message: string };

/** An OpenPGP public key the verifier may use; SSH signatures embed their key. */
export interface OpenPgpKeyRef {
  /** Primary key fingerprint, 40 upper-case hex. */
  fingerprint: string;
  armored: string;
}

export interface VerifyContext {
  openpgpKeys: readonly OpenPgpKeyRef[];
}

export interface SignatureVerifier {
  readonly scheme: Scheme;
  /** True when the armored signature is of this scheme. */
  accepts(signature: string): boolean;
  verify(payload: Uint8Array, signature: string, ctx: VerifyContext): Promise<VerifyOutcome>;
}
