// Builds in-memory fleet trees from examples/repo with per-test edits, so each
// validation rule is tested against a realistic repository.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { memoryTree, type TreeReader } from '../../reconciler/manifests/git-tree.js';

export const EXAMPLE_REPO = new URL('../../examples/repo/', import.meta.url).pathname;

export function exampleFiles(): Record<string, string | Uint8Array> {
  const out: Record<string, string | Uint8Array> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else {
        const rel = relative(EXAMPLE_REPO, p);
        out[rel] = rel.endsWith('.o') ? new Uint8Array(readFileSync(p)) : readFileSync(p, 'utf8');
      }
    }
  };
  walk(EXAMPLE_REPO);
  return out;
}

/** The example fleet with files replaced (string), removed (null) or edited (function). */
export function exampleTree(edits: Record<string, string | Uint8Array | null | ((text: string) => string)> = {}): TreeReader {
  const files = exampleFiles();
  for (const [p, e] of Object.entries(edits)) {
    if (e === null) delete files[p];
    else if (typeof e === 'function') files[p] = e(String(files[p]));
    else files[p] = e;
  }
  return memoryTree(files);
}
