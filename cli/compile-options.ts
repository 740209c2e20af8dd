// How CLI commands compile a fleet: the trust gate's parser checks the
// authorizations file, so `validate` catches a broken one before merge.

import type { CompileOptions } from '../reconciler/compile/compile-fleet.js';
import { AUTHORIZATIONS_PATH, parseAuthorizations } from '../reconciler/trust/index.js';

export function fleetCompileOptions(): CompileOptions {
  return {
    checkFile(file, text) {
      if (file !== AUTHORIZATIONS_PATH) return [];
      const r = parseAuthorizations(text, file);
      return r.ok ? [] : r.errors.map((e) => ({ file: e.file, line: e.line, col: e.col, code: 'InvalidAuthorizations', message: e.message }));
    },
  };
}
