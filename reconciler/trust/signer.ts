// Who signed a commit or tag, for audit displays and tag checks. Unlike the
// gate, this answers for a single object and does not walk history.

import { authorizedPrincipal } from './authorizations.js';
import { EvidenceReader } from './evidence.js';
import { splitTag } from './payload.js';
import { describeCommit, type Refusal } from './refusal.js';
import type { TrustRepository } from './repository.js';
import type { CommitAuth } from './rule.js';
import type { Scheme } from './verifier.js';
import { verifySignature } from './verify-signature.js';

export interface SignerInfo {
  fingerprint: string;
  principal?: string;
  scheme: Scheme;
}

/**
 * The verified signer of `commit`, named by the authorizations of its first
 * parent that knows the key (or of its own tree for a root). Null when the
 * commit is unsigned or its signature does not verify.
 */
export async function commitSignerIn(repo: TrustRepository, rev: string): Promise<SignerInfo | null> {
  const reader = new EvidenceReader(repo);
  const info = await reader.commit(await repo.resolveCommit(rev));
  // Keys and names may come from the parents or, for a root, the commit itself.
  const ev = await reader.evidence({ ...info, parents: [...info.parents, info.id] }, false);
  if (!ev.signature?.ok) return null;
  const { fingerprint, scheme } = ev.signature;
  for (const p of ev.parents) {
    const principal = p.authorizations.state === 'ok' ? authorizedPrincipal(p.authorizations.value, fingerprint) : null;
    if (principal !== null) return { fingerprint, principal, scheme };
  }
  return { fingerprint, scheme };
}

export type TagResult =
  | { ok: true; tag: string; target: string; auth: CommitAuth }
  | { ok: false; refusal: Refusal };

/**
 * Verify an annotated tag: its signature must verify and its key be
 * authorized in the .bpfleet/authorizations of the commit it points to.
 */
export async function verifyTagIn(repo: TrustRepository, rev: string): Promise<TagResult> {
  const tagId = await repo.resolveObject(rev);
  const obj = await repo.readObject(tagId);
  const name = `tag ${rev} (${tagId.slice(0, 10)})`;
  if (obj.type !== 'tag') {
    return { ok: false, refusal: { reason: 'Unsigned', commit: tagId, message: `${name}: is a lightweight tag; only signed annotated tags can be verified` } };
  }
  const target = /^object ([0-9a-f]{40})$/m.exec(Buffer.from(obj.raw).toString('utf8'))?.[1];
  if (!target) throw new Error(`${name}: has no object header`);
  const reader = new EvidenceReader(repo);
  const targetInfo = await reader.commit(target);
  const { payload, signature } = splitTag(obj.raw);
  if (signature === null) {
    return { ok: false, refusal: { reason: 'Unsigned', commit: tagId, message: `${name}: is not signed` } };
  }
  const outcome = await verifySignature(payload, signature, { openpgpKeys: await reader.openPgpKeys(target) });
  if (!outcome.ok) {
    return { ok: false, refusal: { reason: outcome.reason, commit: tagId, message: `${name}: ${outcome.message}`, ...(outcome.fingerprint ? { fingerprint: outcome.fingerprint } : {}) } };
  }
  const auth = await reader.authorizations(target);
  const principal = auth.state === 'ok' ? authorizedPrincipal(auth.value, outcome.fingerprint) : null;
  if (principal === null) {
    return {
      ok: false,
      refusal: {
        reason: 'NotAuthorized',
        commit: tagId,
        parent: target,
        fingerprint: outcome.fingerprint,
        message: `${name}: signing key ${outcome.fingerprint} is not authorized by the .bpfleet/authorizations of the tagged commit ${describeCommit(target, targetInfo.subject)}`,
      },
    };
  }
  return { ok: true, tag: tagId, target, auth: { commit: tagId, fingerprint: outcome.fingerprint, principal, scheme: outcome.scheme } };
}
