// The agent's apply transaction: a pure planner and the shell that runs it against a Datapath.
export { planHostSteps, type Step, type StepAction } from './plan.js';
export { applyHost, type ApplyEvent, type ApplyHostOptions } from './apply-host.js';
export { ApplyError, type ApplyErrorCode } from './errors.js';
export type { ApplyReceipt, ReceiptError, ReceiptStep } from './receipt.js';
