// Schemas of the reconciler's state files. Every file is validated when read,
// so a truncated or hand-edited file is reported with its path instead of
// being half-used.

import type { StatusReport } from '../../schemas/protocol.js';
import { protocolAjv, PROTOCOL_SCHEMA_IDS } from '../../schemas/protocol.js';

const defs = 'https://bpfleet.dev/schemas/v1/protocol/defs.schema.json#/$defs';

export interface CommitsFile {
  /** Newest commit the trust gate authenticated. */
  authenticated: string | null;
  /** Commit of the fleet state last published to agents (forward-only anchor). */
  applied: string | null;
  updatedAt: string;
}

export interface HostGeneration {
  generation: number;
  commit: string;
  hash: string;
  issuedAt: string;
}

export interface GenerationsFile {
  hosts: Record<string, HostGeneration>;
}

export interface StoredStatus {
  receivedAt: string;
  report: StatusReport;
}

export interface StoredReceipt {
  generation: number;
  commit: string | null;
  receivedAt: string;
  receipt: Record<string, unknown>;
}

export interface ReceiptsFile {
  host: string;
  receipts: StoredReceipt[];
}

const commitOrNull = { oneOf: [{ $ref: `${defs}/commit` }, { type: 'null' }] };

const schemas = {
  commits: {
    type: 'object',
    additionalProperties: false,
    required: ['authenticated', 'applied', 'updatedAt'],
    properties: { authenticated: commitOrNull, applied: commitOrNull, updatedAt: { $ref: `${defs}/timestamp` } },
  },
  generations: {
    type: 'object',
    additionalProperties: false,
    required: ['hosts'],
    properties: {
      hosts: {
        type: 'object',
        propertyNames: { $ref: `${defs}/hostName` },
        additionalProperties: {
          type: 'object',
          additionalProperties: false,
          required: ['generation', 'commit', 'hash', 'issuedAt'],
          properties: {
            generation: { $ref: `${defs}/generation` },
            commit: { $ref: `${defs}/commit` },
            hash: { $ref: `${defs}/sha256` },
            issuedAt: { $ref: `${defs}/timestamp` },
          },
        },
      },
    },
  },
  status: {
    type: 'object',
    additionalProperties: false,
    required: ['receivedAt', 'report'],
    properties: { receivedAt: { $ref: `${defs}/timestamp` }, report: { $ref: PROTOCOL_SCHEMA_IDS.StatusReport } },
  },
  receipts: {
    type: 'object',
    additionalProperties: false,
    required: ['host', 'receipts'],
    properties: {
      host: { $ref: `${defs}/hostName` },
      receipts: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['generation', 'commit', 'receivedAt', 'receipt'],
          properties: {
            generation: { $ref: `${defs}/generation` },
            commit: commitOrNull,
            receivedAt: { $ref: `${defs}/timestamp` },
            receipt: { type: 'object' },
          },
        },
      },
    },
  },
} as const;

type Check<T> = (value: unknown) => { ok: true; value: T } | { ok: false; errors: string[] };

function checker<T>(schema: object): Check<T> {
  const fn = protocolAjv().compile(schema);
  return (value) => (fn(value) ? { ok: true, value: value as T } : { ok: false, errors: (fn.errors ?? []).slice(0, 10).map((e) => `${e.instancePath || '/'}: ${e.message ?? e.keyword}`) });
}

export const checkCommits = checker<CommitsFile>(schemas.commits);
export const checkGenerations = checker<GenerationsFile>(schemas.generations);
export const checkStatus = checker<StoredStatus>(schemas.status);
export const checkReceipts = checker<ReceiptsFile>(schemas.receipts);
