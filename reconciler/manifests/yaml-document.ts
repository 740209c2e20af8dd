// YAML parsing that keeps source positions, so that every schema error can be
// reported at the line and column of the offending key or value.

import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import type { Diagnostic } from './diagnostic.js';

export interface ParsedYaml {
  file: string;
  value: unknown;
  /** Position of the value at a JSON pointer path, or of its key when `key` is set. */
  locate(path: readonly (string | number)[], key?: string): { line: number; col: number };
}

/** Manifests are small; anything larger is a mistake or an attack. */
export const MAX_MANIFEST_BYTES = 256 * 1024;

export function parseYaml(file: string, text: string): { doc?: ParsedYaml; errors: Diagnostic[] } {
  if (Buffer.byteLength(text) > MAX_MANIFEST_BYTES) {
    return { errors: [{ file, line: 1, col: 1, code: 'FileTooLarge', message: `file is larger than ${MAX_MANIFEST_BYTES} bytes` }] };
  }
  const lineCounter = new LineCounter();
  const options = {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
    strict: true,
  } as const;
  const docs = parseAllDocuments(text, options);
  // yaml returns an empty stream (an empty array) for an empty or comment-only file.
  if (!Array.isArray(docs) || docs.length === 0) {
    return { errors: [{ file, line: 1, col: 1, code: 'EmptyFile', message: 'expected a YAML document, found an empty file' }] };
  }
  const errors: Diagnostic[] = [];
  if (docs.length > 1) {
    const pos = lineCounter.linePos(docs[1]!.range[0]);
    errors.push({ file, line: pos.line, col: pos.col, code: 'MultipleDocuments', message: 'expected exactly one YAML document per file' });
  }
  const doc = docs[0]!;
  for (const e of [...doc.errors, ...doc.warnings]) {
    const pos = lineCounter.linePos(e.pos[0]);
    const msg = e.code === 'DUPLICATE_KEY' ? `duplicate key: ${firstLine(e.message)}` : firstLine(e.message);
    errors.push({ file, line: pos.line, col: pos.col, code: 'YamlSyntax', message: msg });
  }
  if (errors.length) return { errors };
  let value: unknown;
  try {
    // Aliases make "billion laughs" expansions possible; manifests do not need them.
    value = doc.toJS({ maxAliasCount: 0 });
  } catch (err) {
    return { errors: [{ file, line: 1, col: 1, code: 'YamlSyntax', message: (err as Error).message }] };
  }
  return {
    errors: [],
    doc: {
      file,
      value,
      locate: (path, key) => locate(doc, lineCounter, path, key),
    },
  };
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}

function locate(doc: Document, lc: LineCounter, path: readonly (string | number)[], key?: string) {
  let node: unknown = doc.contents;
  let last: Node | undefined = doc.contents ?? undefined;
  for (const seg of path) {
    const next = child(node, seg);
    if (!next) break;
    node = next.value;
    last = (next.value ?? next.key) as Node | undefined;
  }
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
    if (pair && isScalar(pair.key) && pair.key.range) return lc.linePos(pair.key.range[0]);
  }
  const range = (last as { range?: [number, number, number] } | undefined)?.range;
  return range ? lc.linePos(range[0]) : { line: 1, col: 1 };
}

function child(node: unknown, seg: string | number): { key?: unknown; value: unknown } | undefined {
  if (isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
    return pair ? { key: pair.key, value: pair.value ?? pair.key } : undefined;
  }
  if (isSeq(node) && typeof seg === 'number') {
    const item = node.items[seg];
    return item ? { value: item } : undefined;
  }
  if (isSeq(node) && typeof seg === 'string' && /^\d+$/.test(seg)) {
    const item = node.items[Number(seg)];
    return item ? { value: item } : undefined;
  }
  return undefined;
}
