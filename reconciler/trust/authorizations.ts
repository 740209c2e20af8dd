// Parser for `.bpfleet/authorizations`, the in-repository list of who may sign.
//
// Format (YAML, validated against schemas/authorizations.schema.json):
//
//   apiVersion: bpfleet.dev/v1
//   kind: Authorizations
//   spec:
//     ssh:            # git's allowed_signers lines, verbatim
//       - 'alice namespaces="git" ssh-ed25519 AAAAC3Nz... alice@laptop'
//     openpgp:
//       - principal: bob
//         fingerprint: 0123456789ABCDEF0123456789ABCDEF01234567   # primary key, 40 hex
//         key: .bpfleet/keys/bob.asc                              # armored public key in the repo
//
// SSH lines are byte-for-byte git's allowed_signers format, so the same lines
// written to a file make `git -c gpg.ssh.allowedSignersFile=FILE verify-commit`
// agree with us. The file must authorize at least one key: an empty list is
// treated like a deleted file (AuthorizationsRemoved), since it would lock
// the repository forever.
//
// Errors name `file:line:col` and say what was expected.

import { Ajv, type ErrorObject } from 'ajv';
import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import schema from '../../schemas/authorizations.schema.json' with { type: 'json' };
import { AllowedSignerError, namespaceAllowed, parseAllowedSigner, type AllowedSigner } from './allowed-signers.js';

export const AUTHORIZATIONS_PATH = '.bpfleet/authorizations';

export interface OpenPgpAuthorization {
  principal: string;
  /** Primary key fingerprint, normalised to 40 upper-case hex. */
  fingerprint: string;
  /** Path of the armored public key inside the repository. */
  key: string;
}

export interface Authorizations {
  ssh: AllowedSigner[];
  openpgp: OpenPgpAuthorization[];
}

export interface AuthorizationsProblem {
  file: string;
  line: number;
  col: number;
  /** JSON pointer-ish path inside the document, e.g. "/spec/ssh/1". */
  path: string;
  message: string;
}

export type ParseAuthorizationsResult =
  | { ok: true; value: Authorizations }
  | { ok: false; errors: AuthorizationsProblem[] };

const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

interface RawDoc {
  spec?: { ssh?: string[]; openpgp?: { principal: string; fingerprint: string; key: string }[] };
}

function nodeAt(doc: Document, path: (string | number)[]): Node | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (node && typeof node === 'object' && 'range' in node) return node as Node;
  }
  return undefined;
}

function ajvMessage(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') {
    return `unknown field "${String(e.params.additionalProperty)}"`;
  }
  if (e.keyword === 'required') return `missing field "${String(e.params.missingProperty)}"`;
  if (e.keyword === 'type' && e.params.type === 'string') {
    return 'must be a string; quote the value (YAML read it as a number or boolean)';
  }
  if (e.keyword === 'const') return `must be ${JSON.stringify(e.params.allowedValue)}`;
  if (e.keyword === 'pattern' && e.instancePath.endsWith('/fingerprint')) {
    return 'fingerprint must be 40 hexadecimal digits (the primary key fingerprint, as `gpg --fingerprint` prints it)';
  }
  if (e.keyword === 'pattern' && e.instancePath.endsWith('/key')) return 'key must be a path .bpfleet/keys/<name>.asc';
  return e.message ?? e.keyword;
}

export function parseAuthorizations(text: string, file: string): ParseAuthorizationsResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const problems: AuthorizationsProblem[] = [];
  const at = (offset: number, path: string, message: string): void => {
    const { line, col } = lineCounter.linePos(offset);
    problems.push({ file, line, col, path, message });
  };
  for (const err of doc.errors) at(err.pos[0], '', `YAML syntax: ${err.message.split('\n', 1)[0]}`);
  if (problems.length > 0) return { ok: false, errors: problems };

  const raw = doc.toJS() as unknown;
  if (!validate(raw)) {
    for (const e of validate.errors ?? []) {
      const path = e.instancePath.split('/').slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
      let node = nodeAt(doc, path);
      if (e.keyword === 'additionalProperties' && isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && p.key.value === e.params.additionalProperty);
        if (pair && isScalar(pair.key)) node = pair.key;
      }
      at(node?.range?.[0] ?? 0, e.instancePath || '/', ajvMessage(e));
    }
    return { ok: false, errors: problems.sort((a, b) => a.line - b.line || a.col - b.col) };
  }

  const spec = (raw as RawDoc).spec ?? {};
  const ssh: AllowedSigner[] = [];
  (spec.ssh ?? []).forEach((line, i) => {
    try {
      ssh.push(parseAllowedSigner(line));
    } catch (e) {
      const node = doc.getIn(['spec', 'ssh', i], true) as Node | undefined;
      const start = node?.range?.[0] ?? 0;
      const quoted = isScalar(node) && (node.type === 'QUOTE_SINGLE' || node.type === 'QUOTE_DOUBLE');
      const offset = e instanceof AllowedSignerError && isScalar(node) && node.type !== 'BLOCK_LITERAL' && node.type !== 'BLOCK_FOLDED'
        ? e.offset + (quoted ? 1 : 0)
        : 0;
      at(start + offset, `/spec/ssh/${i}`, `invalid allowed_signers line: ${(e as Error).message}`);
    }
  });
  const openpgp = (spec.openpgp ?? []).map((k) => ({ ...k, fingerprint: k.fingerprint.toUpperCase() }));
  const seen = new Map<string, number>();
  openpgp.forEach((k, i) => {
    const first = seen.get(k.fingerprint);
    if (first !== undefined) {
      const node = doc.getIn(['spec', 'openpgp', i, 'fingerprint'], true) as Node | undefined;
      at(node?.range?.[0] ?? 0, `/spec/openpgp/${i}/fingerprint`, `fingerprint already listed at /spec/openpgp/${first}`);
    } else seen.set(k.fingerprint, i);
  });
  if (problems.length > 0) return { ok: false, errors: problems };
  return { ok: true, value: { ssh, openpgp } };
}

export function isEmptyAuthorizations(a: Authorizations): boolean {
  return a.ssh.length === 0 && a.openpgp.length === 0;
}

/** Who, if anyone, this key is in these authorizations (SSH lines must allow namespace "git"). */
export function authorizedPrincipal(a: Authorizations, fingerprint: string): string | null {
  for (const s of a.ssh) {
    if (s.fingerprint === fingerprint && namespaceAllowed(s.namespaces, 'git')) return s.principals;
  }
  const upper = fingerprint.toUpperCase();
  for (const k of a.openpgp) if (k.fingerprint === upper) return k.principal;
  return null;
}

export function formatProblem(p: AuthorizationsProblem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.message}`;
}
