// The last desired-state generation this agent applied, persisted so that a
// restarted agent still refuses anything older (replay protection).

import { join } from 'node:path';
import { readJsonFile, writeFileAtomic } from '../../schemas/atomic-file.js';
import { protocolAjv } from '../../schemas/protocol.js';

export interface AppliedRecord {
  host: string;
  generation: number;
  commit: string;
  hash: string;
  appliedAt: string;
}

const defs = 'https://bpfleet.dev/schemas/v1/protocol/defs.schema.json#/$defs';
const validate = protocolAjv().compile({
  type: 'object',
  additionalProperties: false,
  required: ['host', 'generation', 'commit', 'hash', 'appliedAt'],
  properties: {
    host: { $ref: `${defs}/hostName` },
    generation: { $ref: `${defs}/generation` },
    commit: { $ref: `${defs}/commit` },
    hash: { $ref: `${defs}/sha256` },
    appliedAt: { $ref: `${defs}/timestamp` },
  },
});

export const appliedRecordPath = (stateDir: string) => join(stateDir, 'applied-desired.json');

/** undefined before the first apply; throws CorruptFileError (with the path) on a damaged file. */
export function readAppliedRecord(stateDir: string): Promise<AppliedRecord | undefined> {
  return readJsonFile(appliedRecordPath(stateDir), (v) =>
    validate(v) ? { ok: true, value: v as AppliedRecord } : { ok: false, errors: (validate.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message}`) },
  );
}

export function writeAppliedRecord(stateDir: string, record: AppliedRecord): Promise<void> {
  return writeFileAtomic(appliedRecordPath(stateDir), `${JSON.stringify(record, null, 1)}\n`);
}
