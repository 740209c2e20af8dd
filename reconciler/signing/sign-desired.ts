// Signing a host's desired state: canonical JSON of the document, ed25519 over
// its UTF-8 bytes. The agent's verifyDesired (schemas/desired-signature.ts) is
// the other half.

import { sign, type KeyObject } from 'node:crypto';
import { canonicalHash, canonicalJson } from '../../schemas/canonical-json.js';
import { keyIdOf } from '../../schemas/desired-signature.js';
import { API_VERSION, type DesiredDocument, type SignedDesired } from '../../schemas/protocol.js';
import type { HostDesiredState } from '../../schemas/desired-state.js';

export interface DesiredSigner {
  readonly keyId: string;
  sign(doc: DesiredDocument): SignedDesired;
}

export function createDesiredSigner(privateKey: KeyObject): DesiredSigner {
  const keyId = keyIdOf(privateKey);
  return {
    keyId,
    sign(doc) {
      const document = canonicalJson(doc);
      const signature = sign(null, Buffer.from(document, 'utf8'), privateKey).toString('base64');
      return { document, signature, keyId };
    },
  };
}

/** Build the document for one host (pure apart from the clock the caller passes). */
export function desiredDocument(args: { host: string; commit: string; generation: number; state: HostDesiredState; hash?: string; issuedAt: Date }): DesiredDocument {
  return {
    apiVersion: API_VERSION,
    kind: 'DesiredState',
    host: args.host,
    commit: args.commit,
    generation: args.generation,
    hash: args.hash ?? canonicalHash(args.state),
    issuedAt: args.issuedAt.toISOString(),
    state: args.state,
  };
}
