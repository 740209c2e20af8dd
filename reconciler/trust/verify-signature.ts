// Dispatch a signature to the verifier of its scheme. Adding a scheme means
// adding one SignatureVerifier to VERIFIERS; nothing else changes.

import { openPgpVerifier } from './openpgp-verify.js';
import { sshVerifier } from './sshsig.js';
import type { SignatureVerifier, VerifyContext, VerifyOutcome } from './verifier.js';

export const VERIFIERS: readonly SignatureVerifier[] = [sshVerifier, openPgpVerifier];

export async function verifySignature(
  payload: Uint8Array,
  signature: string,
  ctx: VerifyContext,
): Promise<VerifyOutcome> {
  const verifier = VERIFIERS.find((v) => v.accepts(signature));
  if (!verifier) {
    const firstLine = signature.trimStart().split('\n', 1)[0] ?? '';
    return { ok: false, scheme: null, reason: 'UnsupportedSignature', message: `unsupported signature type "${firstLine}"` };
  }
  return verifier.verify(payload, signature, ctx);
}
