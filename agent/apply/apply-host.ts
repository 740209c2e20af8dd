// One transaction per host. Order matters and is the whole point:
//   1. stage EVERY new generation (load, verify, wire — no traffic touched);
//      one refusal discards them all and the host stays exactly as it was;
//   2. attach the hooks that run nothing yet — the activation that meets the
//      outside world (interface gone, another tool's program there); a refusal
//      removes the hooks attached so far, and the host is as it was;
//   3. write params-only changes in place (a failure also removes the hooks
//      attached in step 2; params written before it stay written);
//   4. swap the live hooks (one atomic slot update each; only a drift repair
//      that must re-attach a detached root can still be refused here);
//   5. remove hooks that are no longer desired.
// Drift is repaired only when self-heal is on; otherwise it is reported.

import { DatapathError, type Datapath, type Drift, type HookRef, type LiveHook, type ObjectSource, type StagedGeneration } from '../datapath/datapath.js';
import type { HostDesiredState } from '../../schemas/desired-state.js';
import { ApplyError, type ApplyErrorCode } from './errors.js';
import { planHostSteps, type Step } from './plan.js';
import type { ApplyReceipt, ReceiptError, ReceiptStep } from './receipt.js';

export type ApplyEvent =
  | { event: 'planned'; host: string; steps: Step[]; drift: Drift[] }
  | { event: 'staged' | 'activated' | 'discarded'; host: string; iface: string; hook: string; generation: number }
  | { event: 'params-updated' | 'removed'; host: string; iface: string; hook: string }
  | { event: 'failed'; host: string; code: ApplyErrorCode; iface?: string; hook?: string; error: ReceiptError };

export interface ApplyHostOptions {
  datapath: Datapath;
  desired: HostDesiredState;
  objects: ObjectSource;
  /** Restage hooks whose kernel state drifted from what we pinned (default false: report only). */
  selfHeal?: boolean;
  /** Commit the desired state came from, copied into the receipt. */
  commit?: string;
  log?: (event: ApplyEvent) => void;
}

/**
 * Bring one host's datapath to `desired`.
 *
 * @returns the receipt (`applied` or `unchanged`).
 * @throws ApplyError with `.receipt` (result `failed`). `StageFailed`, and
 *   `ActivateFailed` while attaching new hooks (the receipt has no steps),
 *   guarantee that no hook of the host changed.
 */
export async function applyHost(opts: ApplyHostOptions): Promise<ApplyReceipt> {
  const { datapath, desired, objects } = opts;
  const host = desired.host;
  const log = opts.log ?? (() => {});
  const startedAt = new Date();
  const t0 = performance.now();
  const receiptSteps: ReceiptStep[] = [];
  let drift: Drift[] = [];

  const receipt = (result: ApplyReceipt['result'], error?: ReceiptError): ApplyReceipt => {
    const finishedAt = new Date();
    return {
      host,
      ...(opts.commit !== undefined ? { commit: opts.commit } : {}),
      result,
      steps: receiptSteps,
      drift,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: round(performance.now() - t0),
      ...(error ? { error } : {}),
    };
  };
  const fail = (code: ApplyErrorCode, message: string, cause: unknown, where: Partial<HookRef> = {}): ApplyError => {
    const datapathError = describe(cause);
    const error: ReceiptError = { code, message, data: { host, ...where, datapath: datapathError } };
    const member = datapathError.data.member;
    if (member !== undefined) error.data.member = member;
    log({ event: 'failed', host, code, ...where, error });
    return new ApplyError(code, message, error.data, receipt('failed', error));
  };

  let live: LiveHook[];
  try {
    live = await datapath.live();
    drift = await datapath.drift();
  } catch (e) {
    throw fail('InspectFailed', `${host}: could not read the live datapath: ${(e as Error).message}`, e);
  }
  const steps = planHostSteps(desired, live, opts.selfHeal ? drift : []);
  log({ event: 'planned', host, steps, drift });

  // 1. Stage everything before anything goes live.
  const staged: { step: Step; handle: StagedGeneration; stageMs: number }[] = [];
  const discardAll = async () => {
    for (const { handle } of staged.splice(0)) {
      await datapath.discard(handle).catch(() => {}); // best effort: an undiscarded stage is never live
      log({ event: 'discarded', host, iface: handle.iface, hook: handle.hook, generation: handle.generation });
    }
  };
  for (const step of steps) {
    if (step.action !== 'stage') continue;
    const ref = { iface: step.iface, hook: step.hook };
    const s0 = performance.now();
    try {
      const handle = await datapath.stage(ref, step.desired!, objects);
      staged.push({ step, handle, stageMs: performance.now() - s0 });
      log({ event: 'staged', host, ...ref, generation: handle.generation });
    } catch (e) {
      await discardAll();
      throw fail('StageFailed', `${host}: staging ${step.iface}/${step.hook} (${step.reason}) failed, nothing was changed: ${(e as Error).message}`, e, ref);
    }
  }

  const activate = async (entry: (typeof staged)[number]) => {
    const { step, handle, stageMs } = entry;
    const s0 = performance.now();
    await datapath.activate(handle);
    staged.splice(staged.indexOf(entry), 1);
    receiptSteps.push(record(step, stageMs + performance.now() - s0, handle.generation));
    log({ event: 'activated', host, iface: handle.iface, hook: handle.hook, generation: handle.generation });
  };

  // Removes the hooks step 2 attached; says honestly what could not be undone.
  const attached: HookRef[] = [];
  const undoAttached = async (failed?: HookRef): Promise<string> => {
    const undone: string[] = [];
    const stuck: string[] = [];
    // The hook that failed to attach may have pins but nothing live: clean it up quietly.
    if (failed) await datapath.remove(failed).catch(() => undefined);
    for (const r of attached.splice(0)) {
      try {
        await datapath.remove(r);
        undone.push(`${r.iface}/${r.hook}`);
        const i = receiptSteps.findIndex((s) => s.iface === r.iface && s.hook === r.hook);
        if (i >= 0) receiptSteps.splice(i, 1);
      } catch (e) {
        stuck.push(`${r.iface}/${r.hook} (${(e as Error).message})`);
      }
    }
    return [
      undone.length ? `${undone.join(', ')} attached in this apply ${undone.length === 1 ? 'was' : 'were'} removed again` : '',
      stuck.length ? `COULD NOT remove ${stuck.join(', ')} again: still attached` : '',
    ]
      .filter(Boolean)
      .join('; ');
  };

  // 2. Attach the hooks that run nothing yet; undo them all if one cannot attach.
  for (const entry of staged.filter((x) => x.step.fromGeneration === undefined)) {
    const ref = { iface: entry.handle.iface, hook: entry.handle.hook };
    try {
      await activate(entry);
      attached.push(ref);
    } catch (e) {
      const undo = await undoAttached(ref);
      await discardAll();
      const outcome = undo.includes('COULD NOT') ? undo : `nothing was changed${undo ? `; ${undo}` : ''}`;
      throw fail('ActivateFailed', `${host}: attaching ${ref.iface}/${ref.hook} failed, ${outcome}: ${(e as Error).message}`, e, ref);
    }
  }

  // 3. In-place parameter writes.
  for (const step of steps) {
    if (step.action === 'unchanged') receiptSteps.push(record(step, 0));
    if (step.action !== 'params') continue;
    const ref = { iface: step.iface, hook: step.hook };
    const s0 = performance.now();
    try {
      await datapath.updateParams(ref, step.desired!.chain);
    } catch (e) {
      await discardAll();
      const undo = await undoAttached();
      throw fail('ParamsFailed', `${host}: params update of ${step.iface}/${step.hook} failed; no live chain was swapped${undo ? `; ${undo}` : ''}: ${(e as Error).message}`, e, ref);
    }
    receiptSteps.push(record(step, performance.now() - s0, step.fromGeneration));
    log({ event: 'params-updated', host, ...ref });
  }

  // 4. Swap the live hooks: one atomic slot update each.
  while (staged.length > 0) {
    const entry = staged[0]!;
    try {
      await activate(entry);
    } catch (e) {
      await discardAll();
      const { handle } = entry;
      throw fail('ActivateFailed', `${host}: activating generation ${handle.generation} on ${handle.iface}/${handle.hook} failed: ${(e as Error).message}`, e, { iface: handle.iface, hook: handle.hook });
    }
  }

  // 5. Hooks no longer desired.
  for (const step of steps) {
    if (step.action !== 'remove') continue;
    const ref = { iface: step.iface, hook: step.hook };
    const s0 = performance.now();
    try {
      await datapath.remove(ref);
    } catch (e) {
      throw fail('RemoveFailed', `${host}: removing ${step.iface}/${step.hook} failed: ${(e as Error).message}`, e, ref);
    }
    receiptSteps.push(record(step, performance.now() - s0));
    log({ event: 'removed', host, ...ref });
  }

  return receipt(steps.every((s) => s.action === 'unchanged') ? 'unchanged' : 'applied');
}

function record(step: Step, durationMs: number, generation?: number): ReceiptStep {
  return {
    iface: step.iface,
    hook: step.hook,
    action: step.action,
    reason: step.reason,
    ...(generation !== undefined ? { generation } : {}),
    durationMs: round(durationMs),
  };
}

function describe(cause: unknown): ReceiptError {
  if (cause instanceof DatapathError) return { code: cause.code, message: cause.message, data: cause.data };
  const error = cause as { code?: unknown; message?: unknown };
  return { code: typeof error?.code === 'string' ? error.code : 'Unexpected', message: String(error?.message ?? cause), data: {} };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
