// Durable, atomic replacement of a small file: write a temp file beside it,
// fsync it, rename over the target, fsync the directory. A reader sees the old
// bytes or the new bytes, never a mix; a failed write (ENOSPC, EIO) leaves the
// old file untouched. Shared edge helper: it sits in schemas/ because that is
// the one package both the reconciler and the agent may import.

import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export class AtomicWriteError extends Error {
  constructor(
    readonly code: 'NoSpace' | 'WriteFailed',
    message: string,
    readonly data: { path: string; errno?: string },
  ) {
    super(message);
    this.name = 'AtomicWriteError';
  }
}

export class CorruptFileError extends Error {
  readonly code = 'CorruptFile';
  constructor(
    message: string,
    readonly data: { path: string; reason: string; errors?: string[] },
  ) {
    super(message);
    this.name = 'CorruptFileError';
  }
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    const errno = (err as NodeJS.ErrnoException).code;
    throw new AtomicWriteError(errno === 'ENOSPC' || errno === 'EDQUOT' ? 'NoSpace' : 'WriteFailed', `cannot write ${path}: ${(err as Error).message}`, { path, errno });
  }
  await syncDir(dir);
}

/** fsync a directory so a rename in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Read and parse a JSON file; `undefined` when it does not exist. A file that
 * does not parse or that `check` refuses throws CorruptFileError naming it:
 * corrupt state is reported, never silently used or replaced.
 */
export async function readJsonFile<T>(path: string, check: (value: unknown) => { ok: true; value: T } | { ok: false; errors: string[] }): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CorruptFileError(`${path} is corrupt (${text.length} bytes, not JSON: ${(err as Error).message})`, { path, reason: 'NotJson' });
  }
  const result = check(value);
  if (!result.ok) throw new CorruptFileError(`${path} is corrupt: ${result.errors.join('; ')}`, { path, reason: 'SchemaInvalid', errors: result.errors });
  return result.value;
}
