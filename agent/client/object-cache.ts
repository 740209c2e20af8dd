// Content-addressed cache of program objects under <stateDir>/objects/<sha256>.
// Bytes are checked against their name on every read and before every write,
// so a damaged cache entry is refetched, never loaded.

import { mkdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '../../schemas/canonical-json.js';
import { writeFileAtomic } from '../../schemas/atomic-file.js';

export interface ObjectCache {
  get(sha256: string): Promise<Uint8Array | undefined>;
  put(sha256: string, bytes: Uint8Array): Promise<void>;
}

export function createObjectCache(stateDir: string): ObjectCache {
  const dir = join(stateDir, 'objects');
  return {
    async get(sha) {
      let bytes: Buffer;
      try {
        bytes = await readFile(join(dir, sha));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      if (sha256Hex(bytes) === sha) return bytes;
      await unlink(join(dir, sha)).catch(() => undefined);
      return undefined;
    },
    async put(sha, bytes) {
      if (sha256Hex(bytes) !== sha) throw new Error(`refusing to cache bytes under ${sha}: digest differs`);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeFileAtomic(join(dir, sha), bytes, 0o600);
    },
  };
}
