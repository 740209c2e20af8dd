// The reconciler <-> agent protocol: TypeScript types of every message and
// config file, and ajv validators compiled from the JSON Schemas beside this
// file (schemas/protocol/*.schema.json). Both sides validate everything they
// receive with these, so a message the schema refuses never reaches logic.

import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Hook, HookPolicy, HostDesiredState } from './desired-state.js';
import type { DriftKind } from '../agent/datapath/datapath.js';

import defsSchema from './protocol/defs.schema.json' with { type: 'json' };
import hostDesiredStateSchema from './protocol/host-desired-state.schema.json' with { type: 'json' };
import desiredDocumentSchema from './protocol/desired-document.schema.json' with { type: 'json' };
import signedDesiredSchema from './protocol/signed-desired.schema.json' with { type: 'json' };
import statusReportSchema from './protocol/status-report.schema.json' with { type: 'json' };
import fleetStatusSchema from './protocol/fleet-status.schema.json' with { type: 'json' };
import reconcilerConfigSchema from './protocol/reconciler.config.schema.json' with { type: 'json' };
import agentConfigSchema from './protocol/agent.config.schema.json' with { type: 'json' };

export const API_VERSION = 'bpfleet.dev/v1';
export const HOST_NAME_PATTERN = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/;
export const SHA256_PATTERN = /^[0-9a-f]{64}$/;
/** Longest long-poll a client may ask for (`?wait=`), in seconds. */
export const MAX_WAIT_SECONDS = 60;

/** What the reconciler signs for one host. Serialised with canonicalJson. */
export interface DesiredDocument {
  apiVersion: typeof API_VERSION;
  kind: 'DesiredState';
  host: string;
  commit: string;
  /** Per host, only grows; survives reconciler restarts. */
  generation: number;
  /** canonicalHash(state). */
  hash: string;
  issuedAt: string;
  state: HostDesiredState;
}

/** Body of GET /v1/hosts/{host}/desired. */
export interface SignedDesired {
  /** canonicalJson(DesiredDocument): the exact bytes that were signed. */
  document: string;
  /** base64 ed25519 signature over the UTF-8 bytes of `document`. */
  signature: string;
  /** `ed25519:` + first 16 hex of sha256(SPKI DER) of the signing key. */
  keyId: string;
}

export type ReportedState = 'converged' | 'applying' | 'error' | 'drifted';

export interface ProtocolError {
  code: string;
  message: string;
  data?: Record<string, unknown>;
}

export interface ReportedMember {
  program: string;
  version: string;
  sha256: string;
  progId: number;
  tag: string;
  /** sha256 of the canonical JSON of the member's params (agents before 0.2 omit it). */
  paramsHash?: string;
}

export interface ReportedHook {
  iface: string;
  hook: Hook;
  policy: HookPolicy;
  generation: number;
  members: ReportedMember[];
}

export interface ReportedDrift {
  iface: string;
  hook: Hook;
  kind: DriftKind;
  detail: string;
}

/** Body of POST /v1/hosts/{host}/status. */
export interface StatusReport {
  host: string;
  /** Generation of the last applied DesiredDocument (0 before the first). */
  generation: number;
  commit: string | null;
  state: ReportedState;
  hooks: ReportedHook[];
  drift: ReportedDrift[];
  error?: ProtocolError;
  /** Apply receipt of this generation; free-form, bounded in size by the server. */
  receipt?: Record<string, unknown>;
  datapath: 'kernel' | 'sim';
  agentVersion: string;
  reportedAt: string;
}

export type HostState = 'converged' | 'applying' | 'drifted' | 'error' | 'unreachable' | 'unmanaged';
export const HOST_STATES: readonly HostState[] = ['converged', 'applying', 'drifted', 'error', 'unreachable', 'unmanaged'];

export interface TrustStatus {
  status: 'authenticated' | 'refused' | 'pending';
  /** PascalCase reason from the trust gate, e.g. UnsignedCommit, UnauthorizedKey, Downgrade. */
  reason?: string;
  message?: string;
  commit?: string;
  lastAuthenticatedCommit?: string;
  since?: string;
}

/** An authenticated head that could not be published yet (an object download failed); retried with backoff. */
export interface PendingHead {
  commit: string;
  reason: string;
  message: string;
  since: string;
}

export interface HostStatus {
  host: string;
  state: HostState;
  /** Why: Converged, NeverReported, Stale, BehindDesired, AgentAhead, AgentError, Drift, Applying, NothingDesired, NotInFleet. */
  reason: string;
  desired: { commit: string; generation: number; hash: string } | null;
  reported: {
    commit: string | null;
    generation: number;
    state: ReportedState;
    reportedAt: string;
    receivedAt: string;
    driftCount: number;
    error?: ProtocolError;
    datapath?: 'kernel' | 'sim';
    agentVersion?: string;
    /** What the host last reported running; only with GET /v1/fleet?hooks=1. */
    hooks?: ReportedHook[];
  } | null;
}

/** Body of GET /v1/fleet. */
export interface FleetStatus {
  generatedAt: string;
  staleAfterSeconds: number;
  commit?: string | null;
  trust: TrustStatus;
  pending?: PendingHead;
  hosts: HostStatus[];
  summary: { total: number; byState: Partial<Record<HostState, number>> };
}

export interface ReconcilerConfig {
  listen: string;
  stateDir: string;
  repo: { path: string; branch?: string } | { url: string; branch?: string; fetchInterval?: number };
  introduction: { commit: string; fingerprint: string };
  allowDowngrade?: boolean;
  signingKey: string;
  hosts: Record<string, { tokenSha256: string }>;
  adminTokenSha256?: string;
  webhookSecretFile?: string;
  staleAfterSeconds?: number;
  /** Seconds a URL object download may take (objects are cached by sha256 in stateDir/objects). */
  objectFetchTimeout?: number;
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
}

export interface AgentConfig {
  host: string;
  reconcilerUrls: string[];
  tokenFile: string;
  reconcilerPublicKey: string;
  datapath: 'kernel' | 'sim';
  stateDir: string;
  selfHeal?: boolean;
  statusInterval?: number;
  netns?: string;
  pinRoot?: string;
  metricsListen?: string;
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
}

// --- validation -------------------------------------------------------------

// ajv ships CommonJS whose module.exports also carries `.default`; under
// NodeNext the default import is module.exports, so `.default` is the class.
const Ajv2020 = Ajv2020Module.default;
const addFormats = addFormatsModule.default;
type Ajv = InstanceType<typeof Ajv2020>;

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats(ajv);
for (const schema of [defsSchema, hostDesiredStateSchema, desiredDocumentSchema, signedDesiredSchema, statusReportSchema, fleetStatusSchema, reconcilerConfigSchema, agentConfigSchema]) {
  ajv.addSchema(schema);
}

const SCHEMA_IDS = {
  HostDesiredState: hostDesiredStateSchema.$id,
  DesiredDocument: desiredDocumentSchema.$id,
  SignedDesired: signedDesiredSchema.$id,
  StatusReport: statusReportSchema.$id,
  FleetStatus: fleetStatusSchema.$id,
  ReconcilerConfig: reconcilerConfigSchema.$id,
  AgentConfig: agentConfigSchema.$id,
} as const;

export interface ProtocolTypes {
  HostDesiredState: HostDesiredState;
  DesiredDocument: DesiredDocument;
  SignedDesired: SignedDesired;
  StatusReport: StatusReport;
  FleetStatus: FleetStatus;
  ReconcilerConfig: ReconcilerConfig;
  AgentConfig: AgentConfig;
}
export type ProtocolKind = keyof ProtocolTypes;

export type Validation<T> = { ok: true; value: T } | { ok: false; errors: string[] };

const compiled = new Map<ProtocolKind, ValidateFunction>();
function validatorFor(kind: ProtocolKind): ValidateFunction {
  let fn = compiled.get(kind);
  if (!fn) {
    fn = ajv.getSchema(SCHEMA_IDS[kind]);
    if (!fn) throw new Error(`protocol schema ${kind} is not registered`);
    compiled.set(kind, fn);
  }
  return fn;
}

/** Validate `value` against the protocol schema of `kind`; errors read like `/hooks/0/iface: must match pattern ...`. */
export function validateProtocol<K extends ProtocolKind>(kind: K, value: unknown): Validation<ProtocolTypes[K]> {
  const fn = validatorFor(kind);
  if (fn(value)) return { ok: true, value: value as ProtocolTypes[K] };
  return { ok: false, errors: formatErrors(fn.errors) };
}

function formatErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).slice(0, 20).map((e) => {
    const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : '';
    return `${e.instancePath || '/'}: ${e.message ?? e.keyword}${extra}`;
  });
}

/** The protocol's ajv instance, for stores that validate their own files with $refs into these schemas. */
export function protocolAjv(): Ajv {
  return ajv;
}

export const PROTOCOL_SCHEMA_IDS = SCHEMA_IDS;
