// How CLI commands compile a fleet: the trust gate's parser checks the
// authorizations file, so `validate` catches a broken one before merge, and
// URL objects are fetched once into the user's cache (keyed by their sha256).

import { homedir } from 'node:os';
import { join } from 'node:path';
import { MAX_OBJECT_BYTES, type CompileOptions } from '../reconciler/compile/compile-fleet.js';
import { createUrlObjectFetcher } from '../reconciler/objects/url-objects.js';
import { AUTHORIZATIONS_PATH, parseAuthorizations } from '../reconciler/trust/index.js';

/** Checks .bpfleet/ files; the reconciler daemon adds its own object fetcher. */
export function authorizationsCheck(): CompileOptions {
  return {
    checkFile(file, text) {
      if (file !== AUTHORIZATIONS_PATH) return [];
      const r = parseAuthorizations(text, file);
      return r.ok ? [] : r.errors.map((e) => ({ file: e.file, line: e.line, col: e.col, code: 'InvalidAuthorizations', message: e.message }));
    },
  };
}

/** BPFLEET_CACHE_DIR, else $XDG_CACHE_HOME/bpfleet, else ~/.cache/bpfleet. */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.BPFLEET_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'bpfleet');
}

export function fleetCompileOptions(): CompileOptions {
  return { ...authorizationsCheck(), fetchUrl: createUrlObjectFetcher({ cacheDir: join(userCacheDir(), 'objects'), maxBytes: MAX_OBJECT_BYTES }) };
}
