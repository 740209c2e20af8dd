// Canonical JSON: object keys sorted by code unit, no whitespace, so that equal
// data always serialises (and therefore hashes) to the same bytes. The
// reconciler hashes each host's desired state with it and the agent hashes
// chain-member params with it; both sides must agree byte for byte.

import { createHash } from 'node:crypto';

export class CanonicalJsonError extends Error {
  readonly code = 'NotCanonicalizable';
  constructor(
    message: string,
    /** JSON-pointer-ish path of the offending value, e.g. `/interfaces/0/x`. */
    readonly data: { path: string; type: string },
  ) {
    super(message);
    this.name = 'CanonicalJsonError';
  }
}

/**
 * Serialise `value` as canonical JSON.
 *
 * Follows JSON.stringify for what JSON can hold (object members whose value is
 * `undefined` are omitted, `toJSON` is honoured) but refuses what would make two
 * different inputs collide silently: non-finite numbers, bigint, functions,
 * symbols and `undefined` at the top level or inside arrays.
 *
 * @example canonicalJson({ b: 1, a: [true, null] }) === '{"a":[true,null],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  return write(value, '');
}

function write(value: unknown, path: string): string {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw refuse(path, 'non-finite number');
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value.map((item, i) => {
          if (item === undefined) throw refuse(`${path}/${i}`, 'undefined');
          return write(item, `${path}/${i}`);
        }).join(',')}]`;
      }
      const record = value as Record<string, unknown>;
      const parts: string[] = [];
      for (const key of Object.keys(record).sort()) {
        const member = record[key];
        if (member === undefined) continue;
        parts.push(`${JSON.stringify(key)}:${write(member, `${path}/${key}`)}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      throw refuse(path, typeof value);
  }
}

function refuse(path: string, type: string): CanonicalJsonError {
  return new CanonicalJsonError(`canonical JSON cannot hold a ${type} at ${path || '/'}`, { path: path || '/', type });
}

/** Lower-case hex sha256 of a string (hashed as UTF-8) or of raw bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256Hex(canonicalJson(value)): the identity of a piece of desired state. */
export function canonicalHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
