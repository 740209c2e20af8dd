// The trust rule, as a pure function of data already fetched and verified:
//
//  - the introduction commit is authentic iff its signature verifies with the
//    introduction key (fingerprint given out of band);
//  - any other commit is authentic iff its signature verifies AND its key is
//    authorized in the `.bpfleet/authorizations` of EVERY parent — so a
//    change to the authorizations takes effect for the commit's children,
//    and a merge needs a signer both sides agree on;
//  - in both cases the commit's own tree must still carry a non-empty, valid
//    authorizations file: deleting or emptying it would lock the repository
//    (or, worse, invite a fallback), so it is refused.

import type { Authorizations, AuthorizationsProblem } from './authorizations.js';
import { authorizedPrincipal } from './authorizations.js';
import { describeCommit, type Refusal } from './refusal.js';
import type { Scheme, VerifyOutcome } from './verifier.js';

export interface CommitAuth {
  commit: string;
  fingerprint: string;
  principal: string;
  scheme: Scheme;
}

/** What a commit's tree says about signers. */
export type AuthorizationsState =
  | { state: 'ok'; value: Authorizations }
  | { state: 'missing' }
  | { state: 'empty' }
  | { state: 'invalid'; problems: AuthorizationsProblem[] };

export interface CommitEvidence {
  id: string;
  subject: string;
  /** Outcome of signature verification, or null for an unsigned commit. */
  signature: VerifyOutcome | null;
  own: AuthorizationsState;
  /** One entry per parent, in parent order. Empty for the introduction. */
  parents: { id: string; authorizations: AuthorizationsState }[];
}

export interface IntroductionRef {
  commit: string;
  fingerprint: string;
}

/** SSH fingerprints are case sensitive (base64); OpenPGP ones are hex in any case. */
export function normalizeFingerprint(fpr: string): string {
  const t = fpr.trim();
  if (/^SHA256:/i.test(t)) return 'SHA256:' + t.slice(7);
  return t.replace(/\s+/g, '').toUpperCase();
}

export type Judgement = { ok: true; auth: CommitAuth } | Refused;
type Refused = { ok: false; refusal: Refusal };
type Signed = { ok: true; fingerprint: string; scheme: Scheme };

function refuse(ev: CommitEvidence, r: Omit<Refusal, 'commit' | 'message'> & { detail: string }): Refused {
  const { detail, ...rest } = r;
  return { ok: false, refusal: { ...rest, commit: ev.id, message: `commit ${describeCommit(ev.id, ev.subject)}: ${detail}` } };
}

function checkOwnTree(ev: CommitEvidence): Refused | null {
  switch (ev.own.state) {
    case 'ok':
      return null;
    case 'missing':
      return refuse(ev, { reason: 'AuthorizationsRemoved', detail: 'its tree has no .bpfleet/authorizations; every commit must keep at least one authorized key' });
    case 'empty':
      return refuse(ev, { reason: 'AuthorizationsRemoved', detail: 'its .bpfleet/authorizations authorizes no key; at least one is required' });
    case 'invalid': {
      const first = ev.own.problems[0];
      const where = first ? `${first.file}:${first.line}:${first.col}: ${first.message}` : 'unparseable';
      return refuse(ev, { reason: 'InvalidAuthorizations', detail: `its .bpfleet/authorizations is invalid (${where})` });
    }
  }
}

function checkSignature(ev: CommitEvidence): Refused | Signed {
  const sig = ev.signature;
  if (sig === null) return refuse(ev, { reason: 'Unsigned', detail: 'is not signed; a signature by an authorized key is required' });
  if (!sig.ok) {
    return refuse(ev, { reason: sig.reason, ...(sig.fingerprint ? { fingerprint: sig.fingerprint } : {}), detail: sig.message });
  }
  return { ok: true, fingerprint: sig.fingerprint, scheme: sig.scheme };
}

export function judgeIntroduction(ev: CommitEvidence, intro: IntroductionRef): Judgement {
  const sig = checkSignature(ev);
  if (!sig.ok) return sig;
  const expected = normalizeFingerprint(intro.fingerprint);
  if (normalizeFingerprint(sig.fingerprint) !== expected) {
    return refuse(ev, {
      reason: 'IntroductionMismatch',
      fingerprint: sig.fingerprint,
      detail: `introduction is signed by ${sig.fingerprint}, expected the introduction key ${expected}`,
    });
  }
  const tree = checkOwnTree(ev);
  if (tree) return tree;
  const own = ev.own.state === 'ok' ? authorizedPrincipal(ev.own.value, sig.fingerprint) : null;
  return { ok: true, auth: { commit: ev.id, fingerprint: sig.fingerprint, principal: own ?? 'introduction', scheme: sig.scheme } };
}

export function judgeCommit(ev: CommitEvidence): Judgement {
  const sig = checkSignature(ev);
  if (!sig.ok) return sig;
  let principal: string | null = null;
  for (const parent of ev.parents) {
    // A parent is only ever judged after it was authenticated, so its tree
    // passed checkOwnTree; anything else here is a caller bug, refused anyway.
    const p = parent.authorizations.state === 'ok' ? authorizedPrincipal(parent.authorizations.value, sig.fingerprint) : null;
    if (p === null) {
      return refuse(ev, {
        reason: 'NotAuthorized',
        parent: parent.id,
        fingerprint: sig.fingerprint,
        detail: `signing key ${sig.fingerprint} is not authorized by the .bpfleet/authorizations of parent ${parent.id.slice(0, 10)}`,
      });
    }
    principal ??= p;
  }
  if (principal === null) {
    return refuse(ev, { reason: 'NotDescendantOfIntroduction', fingerprint: sig.fingerprint, detail: 'is a root commit that is not the introduction' });
  }
  const tree = checkOwnTree(ev);
  if (tree) return { ok: false, refusal: { ...tree.refusal, fingerprint: sig.fingerprint, principal } };
  return { ok: true, auth: { commit: ev.id, fingerprint: sig.fingerprint, principal, scheme: sig.scheme } };
}
