// Validates parsed manifests against the JSON Schemas in schemas/ and turns
// ajv's errors into operator-facing diagnostics at the right line and column.

import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import hostSchema from '../../schemas/host.schema.json' with { type: 'json' };
import programSchema from '../../schemas/program.schema.json' with { type: 'json' };
import { canonicalJson } from '../../schemas/canonical-json.js';
import type { Diagnostic } from './diagnostic.js';
import type { ParsedYaml } from './yaml-document.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
  addFormats(ajv);
  return ajv;
}

const manifestAjv = newAjv();
manifestAjv.addSchema(programSchema);
manifestAjv.addSchema(hostSchema);

export const validateProgramDoc = manifestAjv.getSchema(programSchema.$id)!;
export const validateHostDoc = manifestAjv.getSchema(hostSchema.$id)!;

/** Separate instance for user-supplied parameter schemas (one compile per program version). */
const paramAjv = new Ajv2020({ allErrors: true, verbose: true, strict: false, allowUnionTypes: true });
(addFormats as unknown as (a: Ajv2020) => void)(paramAjv);

// ajv keeps every schema it compiled, keyed by object identity, and each commit
// parses a fresh object: a long-lived reconciler would grow by one compiled
// validator per program version per commit (found by the steady soak). So the
// validators are shared by content and bounded; an evicted one leaves ajv too.
const MAX_PARAM_VALIDATORS = 256;
const paramValidators = new Map<string, { schema: object; validate: ValidateFunction }>();

export function compileParameterSchema(schema: object): { validate?: ValidateFunction; error?: string } {
  const key = canonicalJson(schema);
  const hit = paramValidators.get(key);
  if (hit) {
    paramValidators.delete(key); // most recently used last
    paramValidators.set(key, hit);
    return { validate: hit.validate };
  }
  try {
    const validate = paramAjv.compile(schema);
    paramValidators.set(key, { schema, validate });
    if (paramValidators.size > MAX_PARAM_VALIDATORS) {
      const [oldest, entry] = paramValidators.entries().next().value as [string, { schema: object }];
      paramValidators.delete(oldest);
      paramAjv.removeSchema(entry.schema);
    }
    return { validate };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Runs a validator and returns every error (not only the first) as diagnostics. */
export function schemaDiagnostics(
  validate: ValidateFunction,
  value: unknown,
  doc: ParsedYaml,
  basePath: readonly (string | number)[] = [],
  code = 'SchemaViolation',
): Diagnostic[] {
  if (validate(value)) return [];
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const e of pruneErrors(validate.errors ?? [])) {
    const path = [...basePath, ...pointerToPath(e.instancePath)];
    const key = e.keyword === 'additionalProperties' ? String(e.params.additionalProperty) : undefined;
    const pos = doc.locate(path, key);
    const where = displayPath(key ? [...path, key] : path);
    const message = `${where || '(document)'}: ${describe(e)}`;
    const k = `${pos.line}:${pos.col}:${message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ file: doc.file, line: pos.line, col: pos.col, code, message });
  }
  return out;
}

/** ajv reports the failed branch of an `if` and similar bookkeeping: keep what a human can act on. */
function pruneErrors(errors: ErrorObject[]): ErrorObject[] {
  return errors.filter((e) => e.keyword !== 'if' && e.keyword !== '$ref');
}

export function pointerToPath(pointer: string): string[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function displayPath(path: readonly (string | number)[]): string {
  let s = '';
  for (const seg of path) {
    if (typeof seg === 'number' || /^\d+$/.test(String(seg))) s += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(String(seg))) s += s ? `.${seg}` : String(seg);
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s;
}

function describe(e: ErrorObject): string {
  const parent = e.parentSchema as { description?: string } | undefined;
  switch (e.keyword) {
    case 'required':
      return `missing required key "${e.params.missingProperty}"`;
    case 'additionalProperties': {
      const allowed = Object.keys((parent as { properties?: object })?.properties ?? {});
      const bad = String(e.params.additionalProperty);
      const hint = closest(bad, allowed);
      return `unknown key "${bad}"` + (hint ? ` (did you mean "${hint}"?)` : allowed.length ? ` (expected one of: ${allowed.join(', ')})` : '');
    }
    case 'type': {
      // YAML reads an all-digit digest or a bare `yes` as a number or boolean.
      const quote = e.params.type === 'string' && (typeof e.data === 'number' || typeof e.data === 'boolean') ? ' (quote the value)' : '';
      return `expected ${e.params.type}, got ${typeName(e.data)}${quote}`;
    }
    case 'const':
      return `expected ${JSON.stringify(e.params.allowedValue)}, got ${JSON.stringify(e.data)}`;
    case 'enum':
      return `expected one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(e.data)}`;
    case 'pattern':
    case 'format':
      return `expected ${parent?.description ?? `a value matching ${e.params.pattern ?? e.params.format}`}, got ${JSON.stringify(e.data)}`;
    case 'minProperties':
      return `expected at least ${e.params.limit} key(s)`;
    case 'maxItems':
      return `expected at most ${e.params.limit} items, got ${Array.isArray(e.data) ? e.data.length : '?'}`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `expected a number ${e.params.comparison} ${e.params.limit}, got ${JSON.stringify(e.data)}`;
    case 'propertyNames':
      return `invalid key ${JSON.stringify(e.params.propertyName)}`;
    default:
      return e.message ?? e.keyword;
  }
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'number' && Number.isInteger(v) ? 'integer' : typeof v;
}

/** Suggests a known key within edit distance 2 (typos are the common case). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
