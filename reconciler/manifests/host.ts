// Host manifests: hosts/<name>.yaml (subdirectories allowed). Parsing checks
// the schema and the rules across entries (an interface listed twice).

import { HOOKS, type Hook, type HookPolicy } from '../../schemas/desired-state.js';
import type { Diagnostic } from './diagnostic.js';
import { schemaDiagnostics, validateHostDoc } from './schema-validator.js';
import type { ParsedYaml } from './yaml-document.js';

export interface HostChainEntry {
  program: string;
  version: string;
  params: Record<string, unknown>;
  /** Where this entry is in the document, for diagnostics. */
  path: (string | number)[];
}

export interface HostManifest {
  file: string;
  name: string;
  labels: Record<string, string>;
  interfaces: { name: string; hooks: { hook: Hook; policy: HookPolicy; chain: HostChainEntry[] }[] }[];
  doc: ParsedYaml;
}

type HookDoc = { policy?: HookPolicy; chain: { program: string; params?: Record<string, unknown> }[] };
interface HostDoc {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { interfaces: ({ name: string } & Partial<Record<Hook, HookDoc>>)[] };
}

export function parseHost(doc: ParsedYaml): { host?: HostManifest; errors: Diagnostic[] } {
  const errors = schemaDiagnostics(validateHostDoc, doc.value, doc);
  if (errors.length) return { errors };
  const v = doc.value as HostDoc;
  const at = (path: (string | number)[], code: string, message: string) => {
    const pos = doc.locate(path);
    errors.push({ file: doc.file, line: pos.line, col: pos.col, code, message });
  };

  const base = doc.file.split('/').pop()!.replace(/\.ya?ml$/, '');
  if (base !== v.metadata.name) {
    at(['metadata', 'name'], 'FileNameMismatch', `metadata.name is "${v.metadata.name}", so the file must be named ${v.metadata.name}.yaml`);
  }

  const seen = new Map<string, number>();
  const interfaces: HostManifest['interfaces'] = [];
  v.spec.interfaces.forEach((iface, i) => {
    const first = seen.get(iface.name);
    if (first !== undefined) {
      at(['spec', 'interfaces', i, 'name'], 'DuplicateInterface', `spec.interfaces[${i}]: interface "${iface.name}" is already listed at spec.interfaces[${first}]; list each interface once`);
      return;
    }
    seen.set(iface.name, i);
    const hooks = HOOKS.filter((h) => iface[h]).map((hook) => {
      const hd = iface[hook]!;
      return {
        hook,
        policy: hd.policy ?? 'pass',
        chain: hd.chain.map((m, j) => {
          const at = m.program.lastIndexOf('@');
          return {
            program: m.program.slice(0, at),
            version: m.program.slice(at + 1),
            params: m.params ?? {},
            path: ['spec', 'interfaces', i, hook, 'chain', j] as (string | number)[],
          };
        }),
      };
    });
    interfaces.push({ name: iface.name, hooks });
  });
  if (errors.length) return { errors };
  interfaces.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { errors, host: { file: doc.file, name: v.metadata.name, labels: v.metadata.labels ?? {}, interfaces, doc } };
}
