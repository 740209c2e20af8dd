// Why an apply did not complete. StageFailed is the all-or-nothing refusal:
// nothing changed on any hook of the host. The later codes mean the kernel
// refused after some hooks changed; the receipt's steps say which.

import type { ApplyReceipt } from './receipt.js';

export type ApplyErrorCode =
  /** Reading live state or drift failed: nothing was attempted. */
  | 'InspectFailed'
  /** A generation could not be staged: all staged ones were discarded, nothing changed. */
  | 'StageFailed'
  /** An in-place params update failed: earlier params steps of this apply stay written, no live chain was swapped, hooks attached by this apply were removed again. */
  | 'ParamsFailed'
  /** A staged generation could not be made live. Attaching a new hook: the hooks this apply attached were removed again (the message says if one could not be). Swapping a live hook: hooks listed as done in the receipt did switch. */
  | 'ActivateFailed'
  /** Removing a hook no longer desired failed: everything else was applied. */
  | 'RemoveFailed';

export class ApplyError extends Error {
  constructor(
    readonly code: ApplyErrorCode,
    message: string,
    /** host, iface, hook, member, and the datapath's own error ({ code, message, data } incl. verifier log). */
    readonly data: Record<string, unknown>,
    /** The failed apply's receipt, ready to record and report. */
    readonly receipt: ApplyReceipt,
  ) {
    super(message);
    this.name = 'ApplyError';
  }

  toJSON(): { name: string; code: ApplyErrorCode; message: string; data: Record<string, unknown> } {
    return { name: this.name, code: this.code, message: this.message, data: this.data };
  }
}
