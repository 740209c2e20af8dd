// Shared output helpers: colour only on a TTY (and never with NO_COLOR), JSON
// on stdout for machines, diagnostics on stderr for people.

export function useColour(stream: NodeJS.WriteStream = process.stdout): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function fail(message: string, code = 1): void {
  process.stderr.write(`bpfleet: ${message}\n`);
  process.exitCode = code;
}
