// The pure heart of the reconciler: (tree of one commit) → desired state per
// host, or every problem found, each at its file, line and column. The same
// commit always compiles to byte-identical output (hosts and hooks sorted,
// params in canonical key order, hashes over canonical JSON).

import { BpfObjectError, inspectBpfObject, type BpfObjectInfo } from '../../schemas/bpf-object.js';
import { canonicalHash, sha256Hex } from '../../schemas/canonical-json.js';
import type { ChainMember, FleetDesiredState, HostDesiredState } from '../../schemas/desired-state.js';
import { sortDiagnostics, type Diagnostic } from '../manifests/diagnostic.js';
import type { TreeReader } from '../manifests/git-tree.js';
import { parseHost, type HostManifest } from '../manifests/host.js';
import { parseProgram, type ProgramManifest } from '../manifests/program.js';
import { displayPath, schemaDiagnostics } from '../manifests/schema-validator.js';
import { parseYaml, type ParsedYaml } from '../manifests/yaml-document.js';

/** A BPF object this large is not a program, it is a mistake (or an attack on the agents' memory). */
export const MAX_OBJECT_BYTES = 8 * 1024 * 1024;

export interface CompileOptions {
  /** Fetches an object given by URL (a cache keyed by the pinned sha256). Without it, URL objects are an error. */
  fetchUrl?: (url: string, sha256: string) => Promise<Uint8Array>;
  /** Extra validation for files under .bpfleet/ (the trust gate's authorizations parser). */
  checkFile?: (file: string, text: string) => Diagnostic[];
}

export type CompileResult =
  | { ok: true; fleet: FleetDesiredState; diagnostics: [] }
  | { ok: false; diagnostics: Diagnostic[] };

const decoder = new TextDecoder('utf-8', { fatal: true });

export async function compileFleet(tree: TreeReader, opts: CompileOptions = {}): Promise<CompileResult> {
  const diags: Diagnostic[] = [];
  const entries = await tree.entries();
  const isManifest = (p: string, dir: string) => p.startsWith(`${dir}/`) && /\.ya?ml$/.test(p);

  const readManifest = async (file: string, mode: string): Promise<ParsedYaml | undefined> => {
    if (mode !== '100644' && mode !== '100755') {
      diags.push({ file, line: 1, col: 1, code: 'NotARegularFile', message: 'expected a regular file (symlinks and submodules are not followed)' });
      return undefined;
    }
    const bytes = await tree.read(file);
    let text: string;
    try {
      text = decoder.decode(bytes ?? new Uint8Array());
    } catch {
      diags.push({ file, line: 1, col: 1, code: 'NotUtf8', message: 'expected UTF-8 text' });
      return undefined;
    }
    const { doc, errors } = parseYaml(file, text);
    diags.push(...errors);
    return doc;
  };

  // Programs, indexed by name@version. A program whose manifest or object is
  // broken is reported once, at its own file; hosts using it fail silently.
  const programs = new Map<string, ProgramManifest>();
  const broken = new Set<string>();
  for (const e of entries.filter((e) => isManifest(e.path, 'programs'))) {
    const doc = await readManifest(e.path, e.mode);
    const { program, errors } = doc ? parseProgram(doc) : { program: undefined, errors: [] };
    diags.push(...errors);
    if (!program) {
      const m = /^programs\/([^/]+)\/([^/]+)\.ya?ml$/.exec(e.path);
      if (m) broken.add(`${m[1]}@${m[2]}`);
      continue;
    }
    const id = `${program.name}@${program.version}`;
    const prev = programs.get(id);
    if (prev) {
      diags.push(at(program.doc, ['metadata', 'name'], 'DuplicateProgram', `${id} is already defined in ${prev.file}`));
      continue;
    }
    programs.set(id, program);
  }

  // Objects: digest and content are checked for every program, used or not.
  const objectInfo = new Map<string, BpfObjectInfo>();
  const objects: Record<string, string> = {};
  const objectSize = new Map<string, number>();
  for (const p of [...programs.values()].sort((a, b) => a.file.localeCompare(b.file))) {
    const bytes = await loadObject(tree, p, opts, diags);
    const info = bytes && checkObject(p, bytes, diags);
    if (!bytes || !info) {
      // Reported at the program's file; hosts using it fail without repeating it.
      broken.add(`${p.name}@${p.version}`);
      continue;
    }
    objectInfo.set(p.object.sha256, info);
    objectSize.set(p.object.sha256, bytes.length);
    objects[p.object.sha256] = p.object.path ?? p.object.url!;
  }

  // Everything under .bpfleet/ is read by the trust gate; let it check its files here too.
  for (const e of entries.filter((e) => e.path.startsWith('.bpfleet/') && opts.checkFile)) {
    const bytes = await tree.read(e.path);
    if (bytes) diags.push(...opts.checkFile!(e.path, Buffer.from(bytes).toString('utf8')));
  }

  // Hosts.
  const hosts = new Map<string, HostManifest>();
  for (const e of entries.filter((e) => isManifest(e.path, 'hosts'))) {
    const doc = await readManifest(e.path, e.mode);
    if (!doc) continue;
    const { host, errors } = parseHost(doc);
    diags.push(...errors);
    if (!host) continue;
    const prev = hosts.get(host.name);
    if (prev) {
      diags.push(at(doc, ['metadata', 'name'], 'DuplicateHost', `host "${host.name}" is already defined in ${prev.file}`));
      continue;
    }
    hosts.set(host.name, host);
  }

  const out: FleetDesiredState = { commit: tree.commit, hosts: {}, objects: {} };
  for (const name of [...hosts.keys()].sort()) {
    const h = hosts.get(name)!;
    const state = compileHost(h, programs, broken, objectSize, diags);
    if (state) out.hosts[name] = { state, hash: canonicalHash(state) };
  }
  // Only objects some host runs are served to agents.
  for (const { state } of Object.values(out.hosts)) {
    for (const i of state.interfaces) for (const hk of i.hooks) for (const m of hk.chain) out.objects[m.object.sha256] = objects[m.object.sha256]!;
  }
  out.objects = Object.fromEntries(Object.entries(out.objects).sort(([a], [b]) => a.localeCompare(b)));

  if (diags.length) return { ok: false, diagnostics: sortDiagnostics(diags) };
  return { ok: true, fleet: out, diagnostics: [] };
}

function at(doc: ParsedYaml, path: (string | number)[], code: string, message: string): Diagnostic {
  const pos = doc.locate(path);
  return { file: doc.file, line: pos.line, col: pos.col, code, message };
}

async function loadObject(tree: TreeReader, p: ProgramManifest, opts: CompileOptions, diags: Diagnostic[]) {
  const where = ['spec', 'object', p.object.path !== undefined ? 'path' : 'url'];
  let bytes: Uint8Array | undefined;
  if (p.object.path !== undefined) {
    const entry = (await tree.entries()).find((e) => e.path === p.object.path);
    if (!entry) {
      diags.push(at(p.doc, where, 'ObjectNotFound', `spec.object.path: ${p.object.path} does not exist in commit ${tree.commit.slice(0, 12)}`));
      return undefined;
    }
    bytes = await tree.read(p.object.path);
    if (!bytes) {
      diags.push(at(p.doc, where, 'NotARegularFile', `spec.object.path: ${p.object.path} is a symlink or submodule; expected a regular file`));
      return undefined;
    }
  } else if (opts.fetchUrl) {
    try {
      bytes = await opts.fetchUrl(p.object.url!, p.object.sha256);
    } catch (err) {
      // A URL that is wrong for good (4xx, too large) is a verdict on the commit; the rest is retried.
      const code = (err as { transient?: boolean }).transient === false ? 'ObjectUrlRefused' : 'ObjectFetchFailed';
      diags.push(at(p.doc, where, code, `spec.object.url: cannot fetch ${redactUrl(p.object.url!)}: ${(err as Error).message}`));
      return undefined;
    }
  } else {
    diags.push(at(p.doc, where, 'ObjectFetchFailed', `spec.object.url: URL objects need network access, which this run does not have`));
    return undefined;
  }
  if (bytes.length > MAX_OBJECT_BYTES) {
    diags.push(at(p.doc, where, 'ObjectTooLarge', `object is ${bytes.length} bytes; expected at most ${MAX_OBJECT_BYTES}`));
    return undefined;
  }
  const digest = sha256Hex(bytes);
  if (digest !== p.object.sha256) {
    diags.push(at(p.doc, ['spec', 'object', 'sha256'], 'DigestMismatch', `spec.object.sha256: the object's sha256 is ${digest}, the manifest pins ${p.object.sha256}`));
    return undefined;
  }
  return bytes;
}

/** Userinfo and query strings can carry credentials: messages never show them. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(unparsable URL)';
  }
}

/** Checks that the object has what the manifest names: entries, globals, maps, BTF. */
function checkObject(p: ProgramManifest, bytes: Uint8Array, diags: Diagnostic[]): BpfObjectInfo | undefined {
  let info: BpfObjectInfo;
  try {
    info = inspectBpfObject(bytes);
  } catch (err) {
    const msg = err instanceof BpfObjectError ? err.message : String(err);
    diags.push(at(p.doc, ['spec', 'object'], 'BadObject', `spec.object: not a usable BPF object: ${msg}`));
    return undefined;
  }
  const before = diags.length;
  if (!info.hasBtf) diags.push(at(p.doc, ['spec', 'object'], 'ObjectWithoutBtf', 'spec.object: the object has no BTF (.BTF section); build it with clang -g'));
  const progs = new Set(info.programs.map((x) => x.name));
  for (const [hook, h] of Object.entries(p.hooks)) {
    if (!progs.has(h.entry)) {
      diags.push(at(p.doc, ['spec', 'hooks', hook, 'entry'], 'EntryNotFound', `spec.hooks.${hook}.entry: the object has no program "${h.entry}" (it has: ${[...progs].join(', ') || 'none'})`));
    }
  }
  const maps = new Set(info.maps);
  p.bindings.forEach((b, i) => {
    if (b.kind === 'global') {
      const g = info.globals.find((x) => x.name === b.symbol);
      if (!g) diags.push(at(p.doc, ['spec', 'bindings', i, 'global'], 'GlobalNotFound', `spec.bindings[${i}].global: the object has no global "${b.symbol}"`));
      else if (g.section === '.rodata') diags.push(at(p.doc, ['spec', 'bindings', i, 'global'], 'GlobalReadOnly', `spec.bindings[${i}].global: "${b.symbol}" is in .rodata (const), so it cannot change without a reload; expected a .data or .bss global`));
      else if (![1, 2, 4, 8].includes(g.size)) diags.push(at(p.doc, ['spec', 'bindings', i, 'global'], 'GlobalNotScalar', `spec.bindings[${i}].global: "${b.symbol}" is ${g.size} bytes; expected an integer of 1, 2, 4 or 8 bytes`));
    } else if (!maps.has(b.map)) {
      diags.push(at(p.doc, ['spec', 'bindings', i, 'lpmPrefixes'], 'MapNotFound', `spec.bindings[${i}].lpmPrefixes: the object has no map "${b.map}"`));
    }
  });
  p.maps.forEach((m, i) => {
    if (!maps.has(m.name)) diags.push(at(p.doc, ['spec', 'maps', i, 'name'], 'MapNotFound', `spec.maps[${i}].name: the object has no map "${m.name}" (it has: ${info.maps.join(', ') || 'none'})`));
  });
  return diags.length === before ? info : undefined;
}

function compileHost(
  h: HostManifest,
  programs: Map<string, ProgramManifest>,
  broken: Set<string>,
  objectSize: Map<string, number>,
  diags: Diagnostic[],
): HostDesiredState | undefined {
  const before = diags.length;
  let usesBroken = false;
  const state: HostDesiredState = { host: h.name, labels: sortKeys(h.labels), interfaces: [] };
  for (const iface of h.interfaces) {
    const hooks: HostDesiredState['interfaces'][number]['hooks'] = [];
    for (const hk of iface.hooks) {
      const chain: ChainMember[] = [];
      const persistentOwner = new Map<string, string>();
      const names = new Set<string>();
      for (const m of hk.chain) {
        const id = `${m.program}@${m.version}`;
        const p = programs.get(id);
        if (broken.has(id)) {
          usesBroken = true;
          continue;
        }
        if (!p) {
          const versions = [...programs.values()].filter((x) => x.name === m.program).map((x) => x.version);
          const hint = versions.length ? `; known versions: ${versions.sort().join(', ')}` : '; no program of that name exists under programs/';
          diags.push(at(h.doc, [...m.path, 'program'], 'UnknownProgram', `${displayPath([...m.path, 'program'])}: unknown program ${id}${hint}`));
          continue;
        }
        const entry = p.hooks[hk.hook];
        if (!entry) {
          diags.push(at(h.doc, [...m.path, 'program'], 'UnsupportedHook', `${displayPath([...m.path, 'program'])}: ${id} does not support hook ${hk.hook} (it supports: ${Object.keys(p.hooks).join(', ')})`));
          continue;
        }
        if (names.has(m.program)) {
          diags.push(at(h.doc, [...m.path, 'program'], 'DuplicateChainMember', `${displayPath([...m.path, 'program'])}: ${m.program} appears twice in this chain; its maps would be shared`));
          continue;
        }
        names.add(m.program);
        if (p.validateParams) {
          diags.push(...schemaDiagnostics(p.validateParams, m.params, h.doc, [...m.path, 'params'], 'InvalidParameter'));
        } else if (Object.keys(m.params).length) {
          diags.push(at(h.doc, [...m.path, 'params'], 'InvalidParameter', `${displayPath([...m.path, 'params'])}: ${id} takes no parameters`));
        }
        for (const map of p.maps.filter((x) => x.persistent)) {
          const owner = persistentOwner.get(map.name);
          if (owner) diags.push(at(h.doc, [...m.path, 'program'], 'MapNameConflict', `${displayPath([...m.path, 'program'])}: persistent map "${map.name}" is also used by ${owner} on this hook`));
          persistentOwner.set(map.name, id);
        }
        chain.push({
          program: p.name,
          version: p.version,
          object: { sha256: p.object.sha256, size: objectSize.get(p.object.sha256)! },
          entry: entry.entry,
          params: sortKeys(m.params),
          bindings: p.bindings,
          maps: p.maps,
        });
      }
      hooks.push({ hook: hk.hook, policy: hk.policy, chain });
    }
    state.interfaces.push({ name: iface.name, hooks });
  }
  return diags.length === before && !usesBroken ? state : undefined;
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
