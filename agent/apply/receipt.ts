// What an apply leaves behind for the audit trail (`bpfleet history`) and for
// the status the agent reports: every step with its timing, and why it failed.

import type { Drift } from '../datapath/datapath.js';
import type { Hook } from '../../schemas/desired-state.js';
import type { StepAction } from './plan.js';

export interface ReceiptStep {
  iface: string;
  hook: Hook;
  action: StepAction;
  reason: string;
  /** The generation made live (stage) or written in place (params). */
  generation?: number;
  durationMs: number;
}

export interface ReceiptError {
  code: string;
  message: string;
  data: Record<string, unknown>;
}

export interface ApplyReceipt {
  host: string;
  /** Commit the desired state came from, when the caller knows it. */
  commit?: string;
  result: 'applied' | 'unchanged' | 'failed';
  /** Steps that took effect, in the order they ran; on failure, the ones that ran before it. */
  steps: ReceiptStep[];
  /** Drift found before applying; repaired only when self-heal was on (see the steps' reasons). */
  drift: Drift[];
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  error?: ReceiptError;
}
