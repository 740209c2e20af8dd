// The little the trust gate needs from Git, behind an interface so the rule
// and the range walk can be driven by data in tests and by any backend.

export interface RawObject {
  id: string;
  type: 'commit' | 'tag' | 'tree' | 'blob';
  /** Object content without the "<type> <len>\0" header: the bytes git hashes and signs. */
  raw: Uint8Array;
}

export interface TrustRepository {
  /** Full commit id for a name (HEAD, branch, tag — tags peeled) or a (short) id. */
  resolveCommit(rev: string): Promise<string>;
  /** Object id a ref or id names, without peeling (an annotated tag stays a tag). */
  resolveObject(rev: string): Promise<string>;
  readObject(id: string): Promise<RawObject>;
  /** Bytes of `path` in the tree of `commit`, or null when absent. */
  readFile(commit: string, path: string): Promise<Uint8Array | null>;
}

export class RevisionNotFoundError extends Error {
  readonly code = 'RevisionNotFound';
  constructor(readonly rev: string, readonly dir: string) {
    super(`revision "${rev}" not found in ${dir}`);
  }
}
