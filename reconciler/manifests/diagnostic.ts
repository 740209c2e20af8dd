// A problem found in the fleet repository, pointing at the exact place an
// operator must fix: file, line and column (1-based), plus a stable code.

export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  /** Stable PascalCase reason, e.g. SchemaViolation, UnknownProgram, DigestMismatch. */
  code: string;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.message}`;
}

/** Sorted by file, then position, so output is stable across runs. */
export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort(
    (a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col || a.message.localeCompare(b.message),
  );
}
