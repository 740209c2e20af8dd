// How CLI commands compile a fleet: the trust gate's parser checks the
// authorizations file, so `validate` catches a broken one before merge.

import type { CompileOptions } from '../reconciler/compile/compile-fleet.js';

export function fleetCompileOptions(): CompileOptions {
  return {};
}
