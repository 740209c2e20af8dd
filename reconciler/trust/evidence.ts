// Fetch and verify what the rule needs about one commit: its signature
// outcome, its own authorizations and its parents'. Authorizations are parsed
// once per distinct file content (most commits do not touch them).

import { AUTHORIZATIONS_PATH, isEmptyAuthorizations, parseAuthorizations, type Authorizations } from './authorizations.js';
import { commitParents, commitSubject, splitCommit } from './payload.js';
import type { TrustRepository } from './repository.js';
import type { AuthorizationsState, CommitEvidence } from './rule.js';
import type { OpenPgpKeyRef } from './verifier.js';
import { verifySignature } from './verify-signature.js';

export interface CommitInfo {
  id: string;
  parents: string[];
  subject: string;
  raw: Uint8Array;
}

export class EvidenceReader {
  private readonly byContent = new Map<string, AuthorizationsState>();
  private readonly byCommit = new Map<string, Promise<AuthorizationsState>>();
  private readonly keysByCommit = new Map<string, Promise<OpenPgpKeyRef[]>>();
  private readonly commits = new Map<string, Promise<CommitInfo>>();

  constructor(private readonly repo: TrustRepository) {}

  commit(id: string): Promise<CommitInfo> {
    let p = this.commits.get(id);
    if (!p) {
      p = this.repo.readObject(id).then((o) => {
        if (o.type !== 'commit') throw new Error(`object ${id} is a ${o.type}, not a commit`);
        return { id, parents: commitParents(o.raw), subject: commitSubject(o.raw), raw: o.raw };
      });
      this.commits.set(id, p);
    }
    return p;
  }

  authorizations(commit: string): Promise<AuthorizationsState> {
    let p = this.byCommit.get(commit);
    if (!p) {
      p = this.repo.readFile(commit, AUTHORIZATIONS_PATH).then((bytes) => {
        if (bytes === null) return { state: 'missing' } as const;
        const text = Buffer.from(bytes).toString('utf8');
        const known = this.byContent.get(text);
        if (known) return known;
        const parsed = parseAuthorizations(text, `${commit.slice(0, 10)}:${AUTHORIZATIONS_PATH}`);
        const state: AuthorizationsState = !parsed.ok
          ? { state: 'invalid', problems: parsed.errors }
          : isEmptyAuthorizations(parsed.value)
            ? { state: 'empty' }
            : { state: 'ok', value: parsed.value };
        this.byContent.set(text, state);
        return state;
      });
      this.byCommit.set(commit, p);
    }
    return p;
  }

  /** Armored OpenPGP keys the authorizations of `commit` point to, read from that commit's tree. */
  openPgpKeys(commit: string): Promise<OpenPgpKeyRef[]> {
    let p = this.keysByCommit.get(commit);
    if (!p) {
      p = this.authorizations(commit).then(async (st) => {
        if (st.state !== 'ok') return [];
        return readKeys(this.repo, commit, st.value);
      });
      this.keysByCommit.set(commit, p);
    }
    return p;
  }

  /**
   * Evidence for `info`. `keysFrom` are the commits whose authorizations may
   * hold the signer's OpenPGP key: the parents, or the introduction itself.
   */
  async evidence(info: CommitInfo, asIntroduction: boolean): Promise<CommitEvidence> {
    const keysFrom = asIntroduction ? [info.id] : info.parents;
    const keyLists = await Promise.all(keysFrom.map((c) => this.openPgpKeys(c)));
    const { payload, signature } = splitCommit(info.raw);
    const outcome = signature === null ? null : await verifySignature(payload, signature, { openpgpKeys: keyLists.flat() });
    const parents = asIntroduction
      ? []
      : await Promise.all(info.parents.map(async (id) => ({ id, authorizations: await this.authorizations(id) })));
    return { id: info.id, subject: info.subject, signature: outcome, own: await this.authorizations(info.id), parents };
  }
}

async function readKeys(repo: TrustRepository, commit: string, a: Authorizations): Promise<OpenPgpKeyRef[]> {
  const refs: OpenPgpKeyRef[] = [];
  for (const k of a.openpgp) {
    const bytes = await repo.readFile(commit, k.key);
    // A missing key file leaves that key unusable (UnknownKey), not the repo.
    if (bytes !== null) refs.push({ fingerprint: k.fingerprint, armored: Buffer.from(bytes).toString('utf8') });
  }
  return refs;
}
