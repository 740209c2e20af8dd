// Bearer-token authentication. Only sha256 hashes of tokens are configured or
// kept in memory; a presented token is hashed and compared in constant time.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-util.js';

export type Principal = { kind: 'host'; host: string } | { kind: 'admin' };

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface Authenticator {
  /** Who presented this request's token; throws 401 when nobody. */
  identify(req: IncomingMessage): Principal;
}

export function createAuthenticator(hosts: ReadonlyMap<string, string>, adminTokenHash?: string): Authenticator {
  // Reverse index so a valid token of another host is told apart (403) from an
  // unknown one (401). The lookup key is a sha256 the client cannot steer, and
  // the final match is re-checked with timingSafeEqual.
  const byHash = new Map<string, Principal>();
  for (const [host, hash] of hosts) byHash.set(hash.toLowerCase(), { kind: 'host', host });
  if (adminTokenHash) byHash.set(adminTokenHash.toLowerCase(), { kind: 'admin' });

  return {
    identify(req) {
      const header = req.headers.authorization;
      if (!header) throw new HttpError(401, 'MissingToken', 'an Authorization: Bearer token is required');
      const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header);
      if (!m) throw new HttpError(401, 'MalformedToken', 'the Authorization header must be "Bearer <token>"');
      const presented = hashToken(m[1]!);
      const principal = byHash.get(presented);
      const expected = principal && (principal.kind === 'admin' ? adminTokenHash : hosts.get(principal.host));
      if (principal && expected && timingSafeEqual(Buffer.from(expected.toLowerCase()), Buffer.from(presented))) return principal;
      throw new HttpError(401, 'UnknownToken', 'the token is not known');
    },
  };
}

/** A host's own endpoints: only that host's token (and, for reads, the admin's). */
export function requireHost(p: Principal, host: string, opts: { adminMayRead: boolean }): void {
  if (p.kind === 'host' && p.host === host) return;
  if (p.kind === 'admin' && opts.adminMayRead) return;
  throw new HttpError(403, 'ForeignHost', `this token may not access host ${host}`, { host });
}

export function requireAdmin(p: Principal): void {
  if (p.kind !== 'admin') throw new HttpError(403, 'AdminOnly', 'this endpoint needs the admin token');
}
