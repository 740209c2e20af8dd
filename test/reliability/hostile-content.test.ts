// Hostile repository content, one real Git repository per case: every case
// must end in a diagnostic with a stable code at the right file — never a
// crash, a hang, an out-of-memory, or a file read from outside the commit.

import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFleet } from '../../reconciler/compile/compile-fleet.js';
import { formatDiagnostic } from '../../reconciler/manifests/diagnostic.js';
import { openRevision } from '../../reconciler/manifests/git-tree.js';
import { fleetCompileOptions } from '../../cli/compile-options.js';
import { exampleObject, hostElfObject, hostileRepo, hostYaml, objectWithoutBtf, programYaml, sha256, tempDir, type Edit } from './hostile-repo.js';

const E1 = 'hosts/edge-1.yaml';
const RL = 'programs/ratelimit/1.0.0.yaml';
const CT = 'programs/counter/1.0.0.yaml';
const COUNTER_SHA = sha256(exampleObject('counter.bpf.o'));

let dir: string;
let noBtf: Uint8Array;
let hostElf: Uint8Array;
beforeAll(() => {
  dir = tempDir('bpfleet-hostile-');
  noBtf = objectWithoutBtf(dir);
  hostElf = hostElfObject(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const host = (body: string) => `apiVersion: bpfleet.dev/v1\nkind: Host\nmetadata:\n  name: edge-1\n${body}`;
/** A program "probe@1.0.0" whose object is `path` (digest of `bytes`), used by edge-1. */
const probe = (path: string, bytes: Uint8Array | string, extra: Record<string, Edit> = {}, entry = 'counter_xdp'): Record<string, Edit> => ({
  'programs/probe/1.0.0.yaml': programYaml('probe', '1.0.0', { path, sha256: sha256(bytes) }, entry),
  [E1]: hostYaml('edge-1', ['probe@1.0.0']),
  ...extra,
});

interface Case {
  name: string;
  edits: () => Record<string, Edit>;
  file: string;
  code: string;
  text?: RegExp;
}

const bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
for (let i = 1; i < 10; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);

const CASES: Case[] = [
  // --- YAML itself ---------------------------------------------------------
  { name: 'billion laughs (anchors and aliases)', edits: () => ({ [E1]: bomb.join('\n') + '\n' }), file: E1, code: 'YamlSyntax', text: /alias/i },
  { name: 'a single alias in a host', edits: () => ({ [E1]: (t) => t.replace('labels: { role: edge, site: fra1 }', 'labels: &l { role: edge }\n  annotations: *l') }), file: E1, code: 'YamlSyntax', text: /alias/i },
  { name: 'merge key << with an alias', edits: () => ({ [E1]: (t) => t.replace('labels: { role: edge, site: fra1 }', 'labels:\n    <<: &base { role: edge }\n    site: fra1') }), file: E1, code: 'YamlSyntax|SchemaViolation', text: /alias|<</ },
  { name: 'deep nesting of flow sequences (5,000 levels)', edits: () => ({ [E1]: host(`spec: ${'['.repeat(5000)}${']'.repeat(5000)}\n`) }), file: E1, code: 'YamlSyntax|SchemaViolation' },
  { name: 'deep nesting of flow maps (5,000 levels)', edits: () => ({ [E1]: host(`spec: ${'{a: '.repeat(5000)}1${'}'.repeat(5000)}\n`) }), file: E1, code: 'YamlSyntax|SchemaViolation' },
  { name: 'deep nesting of block maps (300 levels)', edits: () => ({ [E1]: host('spec:\n' + Array.from({ length: 300 }, (_, i) => `${' '.repeat(2 * (i + 1))}k${i}:`).join('\n') + ' 1\n') }), file: E1, code: 'YamlSyntax|SchemaViolation' },
  { name: 'huge scalar (1 MiB)', edits: () => ({ [E1]: (t) => t.replace('site: fra1', `site: "${'x'.repeat(1 << 20)}"`) }), file: E1, code: 'FileTooLarge' },
  { name: 'long scalar under the size limit (200 KiB label)', edits: () => ({ [E1]: (t) => t.replace('site: fra1', `site: "${'x'.repeat(200 * 1024)}"`) }), file: E1, code: 'SchemaViolation' },
  { name: '10,000 keys in one map', edits: () => ({ [E1]: (t) => t.replace('labels: { role: edge, site: fra1 }', `labels: { ${Array.from({ length: 10000 }, (_, i) => `k${i}: v`).join(', ')} }`) }), file: E1, code: 'SchemaViolation' },
  { name: 'tab indentation', edits: () => ({ [E1]: (t) => t.replace('  name: edge-1', '\tname: edge-1') }), file: E1, code: 'YamlSyntax' },
  { name: 'duplicate keys', edits: () => ({ [E1]: (t) => t.replace('  name: edge-1', '  name: edge-1\n  name: edge-9') }), file: E1, code: 'YamlSyntax', text: /duplicate key/ },
  { name: 'Latin-1 bytes (not UTF-8)', edits: () => ({ [E1]: Buffer.concat([Buffer.from(host('spec: {}\n# caf')), Buffer.from([0xe9, 0x0a])]) }), file: E1, code: 'NotUtf8' },
  { name: 'UTF-16 with a BOM', edits: () => ({ [E1]: Buffer.from('\ufeff' + host('spec: {}\n'), 'utf16le') }), file: E1, code: 'NotUtf8|YamlSyntax' },
  { name: 'raw NUL byte inside a scalar', edits: () => ({ [E1]: (t) => t.replace('name: eth0', 'name: eth\u00000') }), file: E1, code: 'YamlSyntax|SchemaViolation' },
  { name: 'two documents in one file', edits: () => ({ [E1]: (t) => `${t}---\n${t}` }), file: E1, code: 'MultipleDocuments' },
  { name: 'empty file', edits: () => ({ [E1]: '' }), file: E1, code: 'EmptyFile|SchemaViolation' },
  { name: 'only a comment', edits: () => ({ [E1]: '# nothing here\n' }), file: E1, code: 'EmptyFile|SchemaViolation' },
  { name: 'a top-level list instead of a document', edits: () => ({ [E1]: '- a\n- b\n' }), file: E1, code: 'SchemaViolation' },
  { name: 'a !!js/function tag', edits: () => ({ [E1]: (t) => t.replace('site: fra1', 'site: !!js/function "function(){ return 1 }"') }), file: E1, code: 'YamlSyntax|SchemaViolation' },
  { name: 'a !!binary scalar where a string is expected', edits: () => ({ [E1]: (t) => t.replace('site: fra1', 'site: !!binary aGVsbG8=') }), file: E1, code: 'YamlSyntax|SchemaViolation' },
  { name: 'unterminated quoted string', edits: () => ({ [E1]: (t) => t.replace('site: fra1', 'site: "fra1') }), file: E1, code: 'YamlSyntax' },
  { name: '__proto__ key in params (prototype pollution)', edits: () => ({ [E1]: (t) => t.replace('params: { ratePps: 200000, burst: 400000 }', 'params: { ratePps: 200000, burst: 400000, __proto__: { polluted: 1 } }') }), file: E1, code: 'InvalidParameter' },
  { name: 'a number too large for any integer (1e400)', edits: () => ({ [E1]: (t) => t.replace('ratePps: 200000', 'ratePps: 1e400') }), file: E1, code: 'InvalidParameter' },
  { name: '.nan as a rate', edits: () => ({ [E1]: (t) => t.replace('ratePps: 200000', 'ratePps: .nan') }), file: E1, code: 'InvalidParameter' },
  // --- schema ----------------------------------------------------------------
  { name: 'wrong kind', edits: () => ({ [E1]: (t) => t.replace('kind: Host', 'kind: Program') }), file: E1, code: 'SchemaViolation|WrongKind' },
  { name: 'host name with path characters', edits: () => ({ [E1]: (t) => t.replace('name: edge-1', 'name: ../../etc') }), file: E1, code: 'SchemaViolation' },
  { name: 'interface name with a slash', edits: () => ({ [E1]: (t) => t.replace('name: eth0', 'name: ../eth0') }), file: E1, code: 'SchemaViolation' },
  { name: 'program name with path characters', edits: () => ({ [RL]: (t) => t.replace('name: ratelimit', 'name: ../ratelimit') }), file: RL, code: 'SchemaViolation|FileNameMismatch' },
  { name: 'chain longer than the tail-call limit (33 members)', edits: () => ({ [E1]: hostYaml('edge-1', Array(33).fill('counter@1.0.0')) }), file: E1, code: 'SchemaViolation', text: /at most 32|32/ },
  { name: 'unknown program', edits: () => ({ [E1]: hostYaml('edge-1', ['firewall@1.0.0']) }), file: E1, code: 'UnknownProgram' },
  { name: 'unknown version', edits: () => ({ [E1]: hostYaml('edge-1', ['counter@2.0.0']) }), file: E1, code: 'UnknownProgram', text: /known versions: 1\.0\.0/ },
  // --- objects and paths -------------------------------------------------------
  { name: 'digest mismatch', edits: () => ({ [CT]: (t) => t.replace(COUNTER_SHA, 'f'.repeat(64)) }), file: CT, code: 'DigestMismatch' },
  { name: 'object path with ".."', edits: () => probe('objects/../../../../etc/passwd', 'x'), file: 'programs/probe/1.0.0.yaml', code: 'PathEscapesRepository' },
  { name: 'absolute object path', edits: () => probe('/etc/passwd', 'x'), file: 'programs/probe/1.0.0.yaml', code: 'PathEscapesRepository' },
  { name: 'object path that is a symlink out of the repository', edits: () => probe('objects/evil.o', 'x', { 'objects/evil.o': { symlink: '/etc/passwd' } }), file: 'programs/probe/1.0.0.yaml', code: 'NotARegularFile' },
  { name: 'object path that is a symlink to a good object in the repository', edits: () => probe('objects/alias.o', exampleObject('counter.bpf.o'), { 'objects/alias.o': { symlink: 'counter.bpf.o' } }), file: 'programs/probe/1.0.0.yaml', code: 'NotARegularFile' },
  { name: 'object path through a symlinked directory', edits: () => probe('linked/counter.bpf.o', exampleObject('counter.bpf.o'), { linked: { symlink: 'objects' } }), file: 'programs/probe/1.0.0.yaml', code: 'ObjectNotFound' },
  { name: 'host manifest that is a symlink', edits: () => ({ 'hosts/edge-9.yaml': { symlink: '/etc/hostname' } }), file: 'hosts/edge-9.yaml', code: 'NotARegularFile' },
  { name: 'object path that is a submodule (gitlink)', edits: () => probe('objects/sub.o', 'x', { 'objects/sub.o': { gitlink: 'a'.repeat(40) } }), file: 'programs/probe/1.0.0.yaml', code: 'NotARegularFile|ObjectNotFound' },
  { name: 'oversize object (9 MiB)', edits: () => { const big = new Uint8Array(9 << 20); return probe('objects/big.o', big, { 'objects/big.o': big }); }, file: 'programs/probe/1.0.0.yaml', code: 'ObjectTooLarge' },
  { name: 'object that is not ELF (a shell script)', edits: () => probe('objects/sh.o', '#!/bin/sh\nrm -rf /\n', { 'objects/sh.o': '#!/bin/sh\nrm -rf /\n' }), file: 'programs/probe/1.0.0.yaml', code: 'BadObject' },
  { name: 'ELF for the host CPU, not BPF', edits: () => probe('objects/host.o', hostElf, { 'objects/host.o': hostElf }), file: 'programs/probe/1.0.0.yaml', code: 'BadObject' },
  { name: 'truncated BPF ELF', edits: () => { const t = exampleObject('counter.bpf.o').slice(0, 200); return probe('objects/trunc.o', t, { 'objects/trunc.o': t }); }, file: 'programs/probe/1.0.0.yaml', code: 'BadObject' },
  { name: 'ELF with section offsets past the end', edits: () => { const t = exampleObject('counter.bpf.o'); const b = new Uint8Array(t); new DataView(b.buffer).setBigUint64(0x28, 0xffff_ffffn, true); return probe('objects/lie.o', b, { 'objects/lie.o': b }); }, file: 'programs/probe/1.0.0.yaml', code: 'BadObject' },
  { name: 'BPF object without BTF (clang without -g)', edits: () => probe('objects/nobtf.o', noBtf, { 'objects/nobtf.o': noBtf }), file: 'programs/probe/1.0.0.yaml', code: 'ObjectWithoutBtf' },
  { name: 'entry that the object does not have', edits: () => probe('objects/counter.bpf.o', exampleObject('counter.bpf.o'), {}, 'evil_xdp'), file: 'programs/probe/1.0.0.yaml', code: 'EntryNotFound' },
  // Refused before any packet is sent (tests send traffic only to loopback).
  { name: 'object URL pointing at a cloud metadata service', edits: () => ({ 'programs/probe/1.0.0.yaml': programYaml('probe', '1.0.0', { url: 'http://169.254.169.254/latest/meta-data', sha256: 'd'.repeat(64) }, 'counter_xdp'), [E1]: hostYaml('edge-1', ['probe@1.0.0']) }), file: 'programs/probe/1.0.0.yaml', code: 'ObjectUrlRefused', text: /link-local/ },
  { name: 'object URL where nothing answers', edits: () => ({ 'programs/probe/1.0.0.yaml': programYaml('probe', '1.0.0', { url: 'http://127.0.0.1:9/probe.bpf.o', sha256: 'c'.repeat(64) }, 'counter_xdp'), [E1]: hostYaml('edge-1', ['probe@1.0.0']) }), file: 'programs/probe/1.0.0.yaml', code: 'ObjectFetchFailed' },
  { name: 'object URL with a file: scheme', edits: () => ({ 'programs/probe/1.0.0.yaml': programYaml('probe', '1.0.0', { url: 'file:///etc/passwd', sha256: COUNTER_SHA }, 'counter_xdp') }), file: 'programs/probe/1.0.0.yaml', code: 'SchemaViolation' },
  { name: 'authorizations that are not YAML', edits: () => ({ '.bpfleet/authorizations': 'ssh: [[[\n' }), file: '.bpfleet/authorizations', code: 'InvalidAuthorizations|YamlSyntax|SchemaViolation' },
];

describe('hostile repository content is refused with a clear reason', () => {
  it(`has at least 40 cases (${CASES.length})`, () => expect(CASES.length).toBeGreaterThanOrEqual(40));

  for (const c of CASES) {
    it(c.name, async () => {
      const repo = hostileRepo(dir, c.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60), c.edits());
      const started = Date.now();
      const r = await compileFleet(await openRevision(repo, 'HEAD'), fleetCompileOptions());
      expect(Date.now() - started, 'compile must stay fast on hostile input').toBeLessThan(10_000);
      expect(r.ok, 'the hostile commit must not compile').toBe(false);
      const codes = new RegExp(`^(?:${c.code})$`);
      const hit = r.diagnostics.find((d) => d.file === c.file && codes.test(d.code));
      const shown = r.diagnostics.map((d) => `${d.code} ${formatDiagnostic(d).slice(0, 300)}`).join('\n');
      expect(hit, `expected ${c.code} at ${c.file}; got:\n${shown}`).toBeDefined();
      if (c.text) expect(hit!.message).toMatch(c.text);
      expect(hit!.line).toBeGreaterThanOrEqual(1);
      // Nothing polluted the prototype of plain objects.
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      rmSync(repo, { recursive: true, force: true });
    });
  }
});

describe('odd but legitimate content compiles to the same desired state', () => {
  const same = async (name: string, edits: Record<string, Edit>) => {
    const base = await compileFleet(await openRevision(hostileRepo(dir, `${name}-base`, {}), 'HEAD'), fleetCompileOptions());
    const odd = await compileFleet(await openRevision(hostileRepo(dir, name, edits), 'HEAD'), fleetCompileOptions());
    expect(odd.ok, JSON.stringify(odd.diagnostics)).toBe(true);
    expect(base.ok && odd.ok && JSON.stringify(odd.fleet.hosts)).toBe(base.ok && JSON.stringify(base.fleet.hosts));
  };
  it('a UTF-8 byte order mark', () => same('utf8-bom', { [E1]: (t) => `\ufeff${t}` }));
  it('CRLF line endings', () => same('crlf', { [E1]: (t) => t.replaceAll('\n', '\r\n') }));
});
