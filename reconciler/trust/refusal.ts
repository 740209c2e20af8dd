// Why the trust gate refused a head. Every refusal is data (stable PascalCase
// reason + the commit, parent, key involved) so the daemon can put it in status
// and the CLI can print it; `message` is for humans and names the commit.

export const REFUSAL_REASONS = [
  'Unsigned',
  'BadSignature',
  'UnknownKey',
  'NotAuthorized',
  'Downgrade',
  'AuthorizationsRemoved',
  'InvalidAuthorizations',
  'NotDescendantOfIntroduction',
  'IntroductionMismatch',
  'WrongNamespace',
  'WeakDigest',
  'UnsupportedSignature',
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface Refusal {
  reason: RefusalReason;
  /** Full id of the commit (or tag object) that was refused. */
  commit: string;
  /** The parent whose authorizations did not admit the signer. */
  parent?: string;
  fingerprint?: string;
  principal?: string;
  message: string;
}

/** A refusal as an Error, for callers that prefer throwing (the CLI, `validate`). */
export class TrustRefusedError extends Error {
  readonly code: RefusalReason;
  readonly data: Refusal;
  constructor(refusal: Refusal) {
    super(refusal.message);
    this.name = 'TrustRefusedError';
    this.code = refusal.reason;
    this.data = refusal;
  }
}

/** "1a2b3c4d (subject)" — how every message names a commit. */
export function describeCommit(id: string, subject: string): string {
  return `${id.slice(0, 10)} (${subject})`;
}
