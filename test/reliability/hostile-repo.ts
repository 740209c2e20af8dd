// Builders for hostile fleet repositories: the example fleet committed to a
// real Git repository with one edit applied — files replaced, removed, made
// symlinks or submodule entries — so the compiler reads exactly what Git holds.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, rmSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EXAMPLE_REPO } from '../fleet/example-tree.js';
import { git, gitCommitSigned, initRepo, tempDir } from '../trust/fixtures.js';

export type Edit =
  | string
  | Uint8Array
  | null
  | ((text: string) => string)
  | { symlink: string }
  | { gitlink: string };

export const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** Applies edits to a work tree (relative paths); symlinks are real symlinks, gitlinks go into the index. */
export function applyEdits(repo: string, edits: Record<string, Edit>): void {
  for (const [rel, e] of Object.entries(edits)) {
    const file = join(repo, rel);
    if (e === null) {
      rmSync(file, { force: true });
      continue;
    }
    mkdirSync(dirname(file), { recursive: true });
    if (typeof e === 'function') writeFileSync(file, e(readFileSync(file, 'utf8')));
    else if (typeof e === 'string' || e instanceof Uint8Array) writeFileSync(file, e);
    else if ('symlink' in e) {
      rmSync(file, { force: true });
      symlinkSync(e.symlink, file);
    }
  }
}

/** Stages gitlink (submodule) entries that point at a commit id, without a .gitmodules. */
function stageGitlinks(repo: string, edits: Record<string, Edit>): void {
  for (const [rel, e] of Object.entries(edits)) {
    if (e && typeof e === 'object' && !(e instanceof Uint8Array) && 'gitlink' in e) {
      git(repo, ['update-index', '--add', '--cacheinfo', `160000,${e.gitlink},${rel}`]);
    }
  }
}

/** A fresh repository holding the example fleet with `edits`, committed unsigned. Returns its directory. */
export function hostileRepo(parent: string, name: string, edits: Record<string, Edit>): string {
  const repo = initRepo(join(parent, name));
  cpSync(EXAMPLE_REPO, repo, { recursive: true });
  rmSync(join(repo, 'README.md'));
  applyEdits(repo, edits);
  git(repo, ['add', '-A']);
  stageGitlinks(repo, edits);
  git(repo, ['commit', '-q', '-m', `hostile: ${name}`]);
  return repo;
}

/** Signed commit of edits in an existing repository (gitlinks included). */
export function commitEdits(repo: string, signer: Parameters<typeof gitCommitSigned>[1], message: string, edits: Record<string, Edit>): string {
  applyEdits(repo, edits);
  git(repo, ['add', '-A']);
  stageGitlinks(repo, edits);
  return gitCommitSigned(repo, signer, message);
}

/** A program manifest for `objects/<file>` with the given digest (entry names follow the example objects). */
export function programYaml(name: string, version: string, object: { path?: string; url?: string; sha256: string }, entry = `${name}_xdp`): string {
  const where = object.path !== undefined ? `path: ${JSON.stringify(object.path)}` : `url: ${JSON.stringify(object.url)}`;
  return [
    'apiVersion: bpfleet.dev/v1',
    'kind: Program',
    'metadata:',
    `  name: ${name}`,
    `  version: ${version}`,
    'spec:',
    '  object:',
    `    ${where}`,
    `    sha256: ${object.sha256}`,
    '  license: GPL-2.0-only',
    '  hooks:',
    `    xdp: { entry: ${entry} }`,
    '',
  ].join('\n');
}

/** A host manifest whose eth0 XDP chain is `chain` (name@version list). */
export function hostYaml(host: string, chain: string[], iface = 'eth0'): string {
  return [
    'apiVersion: bpfleet.dev/v1',
    'kind: Host',
    'metadata:',
    `  name: ${host}`,
    'spec:',
    '  interfaces:',
    `    - name: ${iface}`,
    '      xdp:',
    '        chain:',
    ...chain.map((m) => `          - program: ${m}`),
    '',
  ].join('\n');
}

const BPF_DIR = new URL('../../bpf/', import.meta.url).pathname;

/** counter.bpf.c built like the Makefile does but without -g: a valid BPF ELF with no .BTF. */
export function objectWithoutBtf(dir: string): Uint8Array {
  const out = join(dir, 'counter-nobtf.bpf.o');
  const arch = `/usr/include/${execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim()}-linux-gnu`;
  execFileSync('clang', ['-O2', '-target', 'bpf', '-Wall', `-I${join(BPF_DIR, 'include')}`, `-I${arch}`, '-c', join(BPF_DIR, 'counter.bpf.c'), '-o', out]);
  return new Uint8Array(readFileSync(out));
}

/** A host-architecture ELF relocatable: an ELF, but not a BPF object. */
export function hostElfObject(dir: string): Uint8Array {
  const src = join(dir, 'plain.c');
  writeFileSync(src, 'int counter_xdp(void) { return 2; }\n');
  execFileSync('cc', ['-c', '-o', join(dir, 'plain.o'), src]);
  return new Uint8Array(readFileSync(join(dir, 'plain.o')));
}

export function exampleObject(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(EXAMPLE_REPO, 'objects', name)));
}

export { tempDir };
