// Public surface of the trust gate. The reconciler daemon calls
// `authenticate` before applying a head; `bpfleet history`/audit call
// `commitSigner`; `bpfleet validate` calls `parseAuthorizations`.

import { authenticateIn, type AuthenticateOptions, type AuthResult } from './authenticate.js';
import { openGitRepository } from './git-repository.js';
import { commitSignerIn, verifyTagIn, type SignerInfo, type TagResult } from './signer.js';

export type { AuthenticateOptions, AuthResult } from './authenticate.js';
export { authenticateIn } from './authenticate.js';
export type { Authorizations, AuthorizationsProblem, OpenPgpAuthorization, ParseAuthorizationsResult } from './authorizations.js';
export { AUTHORIZATIONS_PATH, formatProblem, parseAuthorizations } from './authorizations.js';
export type { AllowedSigner } from './allowed-signers.js';
export { parseIntroduction, InvalidIntroductionError } from './introduction.js';
export type { Refusal, RefusalReason } from './refusal.js';
export { REFUSAL_REASONS, TrustRefusedError } from './refusal.js';
export type { CommitAuth, IntroductionRef } from './rule.js';
export type { SignerInfo, TagResult } from './signer.js';
export type { Scheme, SignatureVerifier, VerifyOutcome } from './verifier.js';
export { verifySignature } from './verify-signature.js';
export { splitCommit, splitTag } from './payload.js';
export { RevisionNotFoundError, type TrustRepository } from './repository.js';
export { openGitRepository } from './git-repository.js';

export function authenticate(opts: AuthenticateOptions): Promise<AuthResult> {
  return authenticateIn(openGitRepository(opts.dir), opts);
}

export function commitSigner(dir: string, commit: string): Promise<SignerInfo | null> {
  return commitSignerIn(openGitRepository(dir), commit);
}

export function verifyTag(dir: string, tag: string): Promise<TagResult> {
  return verifyTagIn(openGitRepository(dir), tag);
}
