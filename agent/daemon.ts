// `bpfleet agent`: long-polls its host's signed desired state, applies it in
// one transaction, and reports what runs. The datapath outlives the agent: a
// crash, a restart or a reconciler outage never detaches anything.

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { readJsonFile, writeFileAtomic } from '../schemas/atomic-file.js';
import type { AgentConfig, DesiredDocument, ReportedState, StatusReport } from '../schemas/protocol.js';
import { validateProtocol } from '../schemas/protocol.js';
import { applyHost, ApplyError, type ApplyReceipt } from './apply/index.js';
import { trimLongStrings } from './trim-long-strings.js';
import { createDesiredClient, type ClientLogger, type DesiredClient } from './client/desired-client.js';
import type { Datapath } from './datapath/datapath.js';
import { createKernelDatapath } from './datapath/kernel/index.js';
import { createSimDatapath } from './datapath/sim/index.js';

export const AGENT_VERSION = '0.1.0';

export interface AgentDaemon {
  datapath: Datapath;
  client: DesiredClient;
  /** Report status now (tests and shutdown). */
  report(): Promise<void>;
  metricsUrl?: string;
  close(): Promise<void>;
}

/** The last applied document, kept so self-heal works after a restart without asking the reconciler. */
const lastDocPath = (dir: string) => join(dir, 'last-desired.json');

export async function startAgent(cfg: AgentConfig, log: ClientLogger): Promise<AgentDaemon> {
  const token = readFileSync(cfg.tokenFile, 'utf8').trim();
  const publicKey = readFileSync(cfg.reconcilerPublicKey, 'utf8');
  const datapath: Datapath =
    cfg.datapath === 'kernel' ? await createKernelDatapath({ host: cfg.host, netns: cfg.netns, pinRoot: cfg.pinRoot }) : createSimDatapath();
  const selfHeal = cfg.selfHeal ?? true;

  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'bpfleet_agent_' });
  const applies = new Counter({ name: 'bpfleet_agent_applies_total', help: 'Apply transactions by result', labelNames: ['result'], registers: [registry] });
  const applySeconds = new Histogram({ name: 'bpfleet_agent_apply_duration_seconds', help: 'Duration of a whole apply transaction', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [registry] });
  const swapSeconds = new Histogram({ name: 'bpfleet_agent_hook_step_duration_seconds', help: 'Duration of one hook step (stage+swap, params, remove)', labelNames: ['action'], buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5], registers: [registry] });
  const driftEvents = new Counter({ name: 'bpfleet_agent_drift_events_total', help: 'Drift findings by kind', labelNames: ['kind'], registers: [registry] });
  new Gauge({
    name: 'bpfleet_chain_member_packets',
    help: 'Packets seen by each chain member, by verdict (read from the kernel at scrape time)',
    labelNames: ['iface', 'hook', 'program', 'version', 'verdict'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const h of await datapath.live().catch(() => [])) {
        const c = await datapath.counters(h).catch(() => undefined);
        for (const m of c?.members ?? []) {
          for (const [verdict, n] of Object.entries(m.verdicts)) this.set({ iface: h.iface, hook: h.hook, program: m.program, version: m.version, verdict }, n);
        }
      }
    },
  });
  new Gauge({
    name: 'bpfleet_root_fallback_packets',
    help: 'Packets that reached a root program and found no chain (policy applied)',
    labelNames: ['iface', 'hook'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const h of await datapath.live().catch(() => [])) {
        const c = await datapath.counters(h).catch(() => undefined);
        if (c) this.set({ iface: h.iface, hook: h.hook }, c.fallback);
      }
    },
  });

  let lastDoc = await readJsonFile(lastDocPath(cfg.stateDir), (v) => validateProtocol('DesiredDocument', v)).catch((err: Error) => {
    log.warn({ err: err.message }, 'ignoring unreadable last-desired.json; waiting for the reconciler');
    return undefined;
  });
  let state: ReportedState = 'converged';
  let lastError: StatusReport['error'];
  let lastReceipt: ApplyReceipt | undefined;
  // What runs now, by generation: reports carry this, not the client's record, which is
  // written only after the apply returns (a report in between would mislabel the receipt).
  let current: { generation: number; commit: string | null } | undefined;
  let failed: { doc: DesiredDocument; attempts: number; retryAt: number } | undefined;
  let applying: Promise<unknown> = Promise.resolve();
  let client!: DesiredClient;

  const apply = async (doc: DesiredDocument, heal: boolean) => {
    state = 'applying';
    // The receipt of the previous apply must not be filed under this generation.
    lastReceipt = undefined;
    void report(doc.generation, doc.commit);
    const started = process.hrtime.bigint();
    try {
      const receipt = await applyHost({
        datapath,
        desired: doc.state,
        objects: (sha) => client.fetchObject(sha),
        selfHeal: heal,
        commit: doc.commit,
        log: (e) => {
          log.debug({ ...e }, `apply: ${e.event}`);
          // Drift is found by whichever path applies next (the watch or a new document).
          if (e.event === 'planned') for (const d of e.drift) driftEvents.inc({ kind: d.kind });
          if (e.event === 'planned' && e.drift.length) log.warn({ drift: e.drift.map((d) => `${d.iface}/${d.hook}:${d.kind}`) }, heal ? 'drift detected; repairing' : 'drift detected');
        },
      });
      lastReceipt = receipt;
      applies.inc({ result: receipt.result });
      for (const s of receipt.steps) swapSeconds.observe({ action: s.action }, s.durationMs / 1000);
      await writeFileAtomic(lastDocPath(cfg.stateDir), JSON.stringify(doc));
      lastDoc = doc;
      current = { generation: doc.generation, commit: doc.commit };
      failed = undefined;
      state = 'converged';
      lastError = undefined;
      log.info({ commit: doc.commit, generation: doc.generation, result: receipt.result, steps: receipt.steps.map((s) => `${s.iface}/${s.hook}:${s.action}`), ms: receipt.durationMs }, `desired state ${receipt.result}`);
    } catch (err) {
      const e = err as ApplyError;
      lastReceipt = e instanceof ApplyError ? trimLongStrings(e.receipt) : undefined;
      applies.inc({ result: 'failed' });
      state = 'error';
      lastError = { code: e.code ?? 'ApplyFailed', message: e.message, data: trimLongStrings((e as { data?: Record<string, unknown> }).data) };
      // Only the newest document is worth retrying; an older failure is superseded.
      const attempts = failed?.doc.generation === doc.generation ? failed.attempts + 1 : 1;
      const delayMs = Math.min(300_000, 2_000 * 2 ** (attempts - 1));
      if (!failed || doc.generation >= failed.doc.generation) failed = { doc, attempts, retryAt: Date.now() + delayMs };
      log.error({ commit: doc.commit, generation: doc.generation, code: lastError.code, retryInMs: delayMs }, e.message);
      throw err;
    } finally {
      applySeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      await report(doc.generation, doc.commit);
    }
  };

  // Reports go out one at a time, so the reconciler sees them in order.
  let reporting: Promise<void> = Promise.resolve();
  const report = (generation?: number, commit?: string | null): Promise<void> => {
    reporting = reporting.then(() => sendReport(generation, commit));
    return reporting;
  };
  const sendReport = async (generation?: number, commit?: string | null) => {
    try {
      const live = await datapath.live();
      const drift = await datapath.drift();
      const applied = current ?? client?.lastApplied();
      const body: StatusReport = {
        host: cfg.host,
        generation: generation ?? applied?.generation ?? 0,
        commit: commit ?? applied?.commit ?? null,
        state: state === 'converged' && drift.length ? 'drifted' : state,
        hooks: live.map((h) => ({
          iface: h.iface,
          hook: h.hook,
          policy: h.policy,
          generation: h.generation,
          members: h.members.map((m) => ({ program: m.program, version: m.version, sha256: m.sha256, progId: m.progId, tag: m.tag, paramsHash: m.paramsHash })),
        })),
        drift: drift.map((d) => ({ iface: d.iface, hook: d.hook, kind: d.kind, detail: d.detail })),
        ...(lastError ? { error: lastError } : {}),
        ...(lastReceipt ? { receipt: lastReceipt as unknown as Record<string, unknown> } : {}),
        datapath: datapath.kind,
        agentVersion: AGENT_VERSION,
        reportedAt: new Date().toISOString(),
      };
      await client.reportStatus(body);
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'status report not delivered (will retry)');
    }
  };

  client = await createDesiredClient({
    urls: cfg.reconcilerUrls,
    host: cfg.host,
    token,
    publicKey,
    stateDir: cfg.stateDir,
    log,
    // Without the last document the agent cannot self-heal (nor, on sim, restore): fetch it again.
    resync: lastDoc === undefined,
    onRefused: (e) => log.error({ code: e.code }, e.message),
    onDesired: (doc) => {
      const run = applying.then(() => apply(doc, selfHeal));
      applying = run.catch(() => undefined);
      return run as Promise<void>;
    },
  });

  // Drift watch and periodic status: self-heal re-applies the last applied document.
  // A failed apply is retried with backoff (an object fetch may have failed while the
  // reconciler restarted); a refusal that will not change (verifier) costs one stage per try.
  const retryFailed = async () => {
    if (state !== 'error' || !failed || Date.now() < failed.retryAt) return false;
    const doc = failed.doc;
    const run = applying.then(() => apply(doc, selfHeal));
    applying = run.catch(() => undefined);
    await applying;
    return true;
  };

  const tick = async () => {
    if (await retryFailed()) return;
    const drift = await datapath.drift().catch(() => []);
    if (drift.length) {
      if (selfHeal && lastDoc && state !== 'applying') {
        // apply() logs and counts the drift it finds and repairs.
        const doc = lastDoc;
        const run = applying.then(() => apply(doc, true));
        applying = run.catch(() => undefined);
        await applying;
        return;
      }
      for (const d of drift) driftEvents.inc({ kind: d.kind });
      log.warn({ drift: drift.map((d) => `${d.iface}/${d.hook}:${d.kind}`) }, 'drift detected');
    }
    await report();
  };
  const interval = setInterval(() => void tick(), (cfg.statusInterval ?? 30) * 1000);
  interval.unref();

  // A restarted agent first checks that what runs matches what it last applied.
  if (lastDoc && selfHeal) {
    const doc = lastDoc;
    applying = apply(doc, true).catch(() => undefined);
    await applying;
  } else await report();
  client.start();

  let metricsServer: Server | undefined;
  let metricsUrl: string | undefined;
  if (cfg.metricsListen) {
    const i = cfg.metricsListen.lastIndexOf(':');
    metricsServer = createServer(async (req, res) => {
      if (req.url === '/metrics') {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(await registry.metrics());
      } else if (req.url === '/healthz') {
        res.writeHead(200).end('ok\n');
      } else if (req.url === '/readyz') {
        const ready = client.lastApplied() !== undefined && state !== 'error';
        res.writeHead(ready ? 200 : 503).end(ready ? 'ready\n' : `not ready: ${state}\n`);
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => metricsServer!.listen(Number(cfg.metricsListen!.slice(i + 1)), cfg.metricsListen!.slice(0, i).replace(/^\[|\]$/g, ''), r));
    const a = metricsServer.address() as { address: string; port: number };
    metricsUrl = `http://${a.address}:${a.port}`;
  }

  return {
    datapath,
    client,
    report: () => report(),
    metricsUrl,
    async close() {
      clearInterval(interval);
      await client.stop();
      await applying;
      metricsServer?.close();
      await datapath.close();
    },
  };
}
