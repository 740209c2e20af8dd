// Program manifests: programs/<name>/<version>.yaml. Parsing checks the
// document against schemas/program.schema.json and the rules a schema cannot
// express (file location, bindings refer to declared parameters, safe paths).

import type { ValidateFunction } from 'ajv';
import { HOOKS, type Hook, type MapSpec, type ParamBinding } from '../../schemas/desired-state.js';
import type { Diagnostic } from './diagnostic.js';
import { compileParameterSchema, schemaDiagnostics, validateProgramDoc } from './schema-validator.js';
import type { ParsedYaml } from './yaml-document.js';

export interface ProgramManifest {
  file: string;
  name: string;
  version: string;
  object: { path?: string; url?: string; sha256: string };
  license: string;
  hooks: Partial<Record<Hook, { entry: string }>>;
  parameterSchema?: object;
  validateParams?: ValidateFunction;
  bindings: ParamBinding[];
  maps: MapSpec[];
  doc: ParsedYaml;
}

interface ProgramDoc {
  metadata: { name: string; version: string };
  spec: {
    object: { path?: string; url?: string; sha256: string };
    license: string;
    hooks: Partial<Record<Hook, { entry: string }>>;
    parameters?: { properties?: Record<string, unknown> };
    bindings?: { parameter: string; global?: string; lpmPrefixes?: string }[];
    maps?: MapSpec[];
  };
}

export function parseProgram(doc: ParsedYaml): { program?: ProgramManifest; errors: Diagnostic[] } {
  const errors = schemaDiagnostics(validateProgramDoc, doc.value, doc);
  if (errors.length) return { errors };
  const v = doc.value as ProgramDoc;
  const at = (path: (string | number)[], code: string, message: string, key?: string) => {
    const pos = doc.locate(path, key);
    errors.push({ file: doc.file, line: pos.line, col: pos.col, code, message });
  };

  const expected = `programs/${v.metadata.name}/${v.metadata.version}.yaml`;
  if (doc.file !== expected) {
    at(['metadata', 'name'], 'FileNameMismatch', `metadata says ${v.metadata.name}@${v.metadata.version}, so the file must be ${expected}`);
  }

  const obj = v.spec.object;
  if ((obj.path === undefined) === (obj.url === undefined)) {
    at(['spec', 'object'], 'SchemaViolation', 'spec.object: expected exactly one of "path" or "url"');
  }
  if (obj.path !== undefined) {
    const problem = unsafeRepoPath(obj.path);
    if (problem) at(['spec', 'object', 'path'], 'PathEscapesRepository', `spec.object.path: ${problem}, got ${JSON.stringify(obj.path)}`);
  }

  let validateParams: ValidateFunction | undefined;
  if (v.spec.parameters) {
    const compiled = compileParameterSchema(v.spec.parameters);
    if (compiled.error) at(['spec', 'parameters'], 'InvalidParameterSchema', `spec.parameters: not a valid JSON Schema: ${compiled.error}`);
    validateParams = compiled.validate;
  }

  const declared = new Set(Object.keys(v.spec.parameters?.properties ?? {}));
  const bindings: ParamBinding[] = [];
  const bound = new Set<string>();
  (v.spec.bindings ?? []).forEach((b, i) => {
    const targets = [b.global, b.lpmPrefixes].filter((t) => t !== undefined);
    if (targets.length !== 1) {
      at(['spec', 'bindings', i], 'SchemaViolation', `spec.bindings[${i}]: expected exactly one of "global" or "lpmPrefixes"`);
      return;
    }
    if (!declared.has(b.parameter)) {
      at(['spec', 'bindings', i, 'parameter'], 'UnknownParameter', `spec.bindings[${i}].parameter: "${b.parameter}" is not declared in spec.parameters.properties`);
    }
    if (bound.has(b.parameter)) at(['spec', 'bindings', i, 'parameter'], 'DuplicateBinding', `spec.bindings[${i}]: parameter "${b.parameter}" is bound twice`);
    bound.add(b.parameter);
    bindings.push(b.global !== undefined ? { kind: 'global', parameter: b.parameter, symbol: b.global } : { kind: 'lpm-prefixes', parameter: b.parameter, map: b.lpmPrefixes! });
  });

  const maps = v.spec.maps ?? [];
  const mapNames = new Set<string>();
  maps.forEach((m, i) => {
    if (mapNames.has(m.name)) at(['spec', 'maps', i, 'name'], 'DuplicateMap', `spec.maps[${i}]: map "${m.name}" is listed twice`);
    mapNames.add(m.name);
  });

  if (errors.length) return { errors };
  const hooks: Partial<Record<Hook, { entry: string }>> = {};
  for (const h of HOOKS) if (v.spec.hooks[h]) hooks[h] = { entry: v.spec.hooks[h]!.entry };
  return {
    errors,
    program: {
      file: doc.file,
      name: v.metadata.name,
      version: v.metadata.version,
      object: obj,
      license: v.spec.license,
      hooks,
      parameterSchema: v.spec.parameters,
      validateParams,
      bindings,
      maps: maps.map((m) => ({ name: m.name, persistent: m.persistent })),
      doc,
    },
  };
}

/** Returns why a path may not be used to read from the repository, or undefined when it is safe. */
export function unsafeRepoPath(p: string): string | undefined {
  if (p.startsWith('/')) return 'expected a path relative to the repository root, not an absolute path';
  if (p.includes('\\')) return 'expected "/" as the path separator';
  if (p.includes('\0')) return 'path contains a NUL byte';
  const segs = p.split('/');
  if (segs.some((s) => s === '..')) return 'expected a path inside the repository (".." escapes it)';
  if (segs.some((s) => s === '' || s === '.')) return 'expected a normalised path (no empty or "." segments)';
  if (segs[0] === '.git') return 'expected a path outside .git';
  return undefined;
}
