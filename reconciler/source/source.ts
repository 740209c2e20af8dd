// Where the reconciler reads the fleet repository from. Git is the truth; a
// file event or a webhook is only a hint to look again.

export interface FleetSource {
  /** Directory that git commands and isomorphic-git read (a work tree or a bare mirror). */
  readonly dir: string;
  /** Human description for status and logs (never includes credentials). */
  readonly description: string;
  /** Brings the local view up to date (fetches for a remote) and returns the tracked branch's commit. */
  refresh(): Promise<string>;
  /** Calls `onHint` whenever the tracked branch may have moved. */
  watch(onHint: () => void): void;
  /** Asks for a refresh soon (a webhook arrived). */
  poke(): void;
  close(): Promise<void>;
}

export class SourceError extends Error {
  constructor(
    readonly code: 'SourceUnavailable' | 'BranchNotFound',
    message: string,
  ) {
    super(message);
    this.name = 'SourceError';
  }
}

/** Strips user:password@ from URLs before they reach logs or status. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//***@');
}
