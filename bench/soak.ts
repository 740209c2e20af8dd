// Soak: a kernel fleet (two hosts in veth namespaces) under random signed
// commits, agent and reconciler restarts (SIGKILL and SIGTERM), with UDP
// traffic through edge-1's real XDP chain the whole time. Every 10th packet
// comes from a source every chain version blocks, so a bypassed chain is
// visible at the receiver; good packets must all arrive.
//
//   npm run build && npm run soak -- --minutes 2      (default 30; 0.5 for a quick check)
//   npm run soak -- --minutes 60 --restarts 0          (no restarts: long-lived processes, for leaks)
//
// Writes bench/results/soak.json (soak-steady.json with --restarts 0): commits, applies, chain swaps under traffic,
// packets sent / lost / bypassed, commit→converged p50/p99/max, RSS over time.
// Exits 1 when a packet was lost or bypassed or the fleet failed to converge.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createLab, rssMiB, startTraffic, type Lab } from './fleet-lab.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} expects a number, got ${process.argv[i + 1]}`);
  return v;
};
const MINUTES = arg('minutes', 30);
// Restarts hide slow leaks (every process is young); --restarts 0 keeps them alive for the whole soak.
const RESTARTS = arg('restarts', 1) !== 0;
const HOSTS = ['edge-1', 'edge-2'];
const RESULTS = resolve(import.meta.dirname, import.meta.dirname.includes('/dist/') ? '../../bench/results' : 'results');
const progress = (msg: string) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pick = <T>(xs: readonly T[]) => xs[Math.floor(Math.random() * xs.length)]!;

function quantiles(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : null);
  return { n: s.length, p50: q(0.5), p99: q(0.99), max: s.at(-1) ?? null };
}

/** First, last, max and the least-squares slope (MiB per hour) of one process's RSS samples. */
function trend(points: { t: number; v: number }[]) {
  if (points.length < 2) return null;
  const n = points.length;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mv = points.reduce((a, p) => a + p.v, 0) / n;
  const cov = points.reduce((a, p) => a + (p.t - mt) * (p.v - mv), 0);
  const vt = points.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  const slope = vt > 0 ? (cov / vt) * 3600 : 0;
  return { first: points[0]!.v, last: points.at(-1)!.v, max: Math.max(...points.map((p) => p.v)), slopeMiBPerHour: Math.round(slope * 10) / 10 };
}

async function waitConverged(lab: Lab, commit: string, timeoutMs = 60_000): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    try {
      const f = await lab.fleet();
      if (f.trust.status === 'authenticated' && f.hosts.length === HOSTS.length && f.hosts.every((h) => h.state === 'converged' && h.reported?.commit === commit)) return performance.now() - t0;
    } catch {
      /* reconciler restarting */
    }
    await sleep(20);
  }
  throw new Error(`fleet did not converge on ${commit.slice(0, 12)} within ${timeoutMs} ms`);
}

const edit = (repo: string, host: string, f: (t: string) => string) => {
  const p = join(repo, 'hosts', `${host}.yaml`);
  writeFileSync(p, f(readFileSync(p, 'utf8')));
};
const RL_BLOCK = /          - program: ratelimit@1\.0\.0\n            params: \{[^}]*\}\n/;
const RL_LINES = '          - program: ratelimit@1.0.0\n            params: { ratePps: 90000000, burst: 90000000 }\n';

async function main() {
  const lab = await createLab(HOSTS);
  let traffic: Awaited<ReturnType<typeof startTraffic>> | undefined;
  // Interrupted: stop the traffic tools and every process, remove namespaces and pins.
  const onSignal = () => void Promise.resolve(traffic?.stop())
    .catch(() => undefined)
    .then(() => lab.close())
    .finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const result = {
    startedAt: new Date().toISOString(),
    minutes: MINUTES,
    hosts: HOSTS,
    datapath: 'kernel',
    commits: 0,
    applies: 0,
    chainSwapsUnderTraffic: 0,
    agentRestarts: 0,
    reconcilerRestarts: 0,
    timeouts: 0,
    packets: { sentGood: 0, sentBad: 0, receivedGood: 0, receivedBad: 0, lost: 0, bypassed: 0, duplicated: 0 },
    convergenceMs: quantiles([]),
    restarts: RESTARTS,
    restartReconvergeMs: quantiles([]),
    rssTrend: {} as Record<string, { first: number; last: number; max: number; slopeMiBPerHour: number } | null>,
    rssMiB: [] as { t: number; reconciler: number | null; agents: Record<string, number | null> }[],
    errors: [] as string[],
  };
  const converge: number[] = [];
  const restartConverge: number[] = [];
  let sampler: NodeJS.Timeout | undefined;
  try {
    lab.start('reconciler');
    for (let i = 0; i < 150; i++) {
      if (await lab.fleet().then(() => true, () => false)) break;
      await sleep(100);
    }
    progress(`reconciler up at ${lab.url}; starting agents`);
    for (const h of HOSTS) lab.start(h);
    // Edge-1's rate limit must never drop test traffic: any loss is the datapath's.
    let head = lab.commit('edge-1: soak rates', (repo) => edit(repo, 'edge-1', (t) => t.replace(/ratePps: \d+, burst: \d+/, 'ratePps: 90000000, burst: 90000000')));
    await waitConverged(lab, head);
    progress('fleet converged; starting traffic');
    const t0 = Date.now();
    const sample = () => {
      result.rssMiB.push({ t: Math.round((Date.now() - t0) / 1000), reconciler: rssMiB(lab.pid('reconciler')), agents: Object.fromEntries(HOSTS.map((h) => [h, rssMiB(lab.pid(h))])) });
    };
    sample();
    sampler = setInterval(sample, Math.max(2_000, Math.min(30_000, MINUTES * 60_000 / 60)));
    traffic = await startTraffic(lab.hosts[0]!, { senderCpu: 1, badEvery: 10 });
    let withRatelimit = true;
    let rate = 90_000_000;
    const deadline = Date.now() + MINUTES * 60_000;
    progress(`traffic running; soaking for ${MINUTES} min`);
    while (Date.now() < deadline) {
      const r = Math.random();
      try {
        if (RESTARTS && r < 0.1) {
          const h = pick(HOSTS);
          await lab.stop(h, pick(['SIGKILL', 'SIGTERM'] as const));
          lab.start(h);
          result.agentRestarts++;
          restartConverge.push(await waitConverged(lab, head));
        } else if (RESTARTS && r < 0.15) {
          await lab.stop('reconciler', pick(['SIGKILL', 'SIGTERM'] as const));
          lab.start('reconciler');
          result.reconcilerRestarts++;
          restartConverge.push(await waitConverged(lab, head));
        } else {
          const before = await lab.fleet();
          if (Math.random() < 0.5) {
            // A new chain generation on edge-1 under traffic: ratelimit in or out.
            withRatelimit = !withRatelimit;
            head = lab.commit(`edge-1: ratelimit ${withRatelimit ? 'in' : 'out'}`, (repo) =>
              edit(repo, 'edge-1', (t) => (withRatelimit ? t.replace('          - program: counter@1.0.0\n      tc-egress', `${RL_LINES}          - program: counter@1.0.0\n      tc-egress`) : t.replace(RL_BLOCK, ''))),
            );
            result.chainSwapsUnderTraffic++;
          } else {
            const host = pick(HOSTS);
            rate -= 1;
            head = lab.commit(`${host}: params`, (repo) =>
              edit(repo, host, (t) => (host === 'edge-1' ? t.replace(/ratePps: \d+/, `ratePps: ${rate}`) : t.replace(/prefixes: \[198\.51\.100\.0\/24/, `prefixes: [198.51.100.0/${pick([24, 25, 26])}`))),
            );
          }
          result.commits++;
          converge.push(await waitConverged(lab, head));
          const after = await lab.fleet();
          for (const h of after.hosts) if (h.desired?.generation !== before.hosts.find((x) => x.host === h.host)?.desired?.generation) result.applies++;
        }
      } catch (err) {
        result.timeouts++;
        result.errors.push((err as Error).message);
        if (result.errors.length > 5) throw err;
      }
      if (process.env.SOAK_VERBOSE) progress(`commits ${result.commits} restarts ${result.agentRestarts}+${result.reconcilerRestarts} last ${converge.at(-1)?.toFixed(0)} ms`);
      await sleep(200 + Math.random() * 800);
    }
    progress('soak done; stopping traffic');
    sample();
  } finally {
    clearInterval(sampler);
    if (traffic) {
      const { sent, received } = await traffic.stop();
      result.packets = {
        sentGood: sent.sentGood,
        sentBad: sent.sentBad,
        receivedGood: received.good,
        receivedBad: received.bad,
        lost: sent.sentGood - received.good,
        bypassed: received.bad,
        duplicated: received.dup,
      };
    }
    result.convergenceMs = quantiles(converge.map((x) => Math.round(x)));
    result.restartReconvergeMs = quantiles(restartConverge.map((x) => Math.round(x)));
    // With restarts the samples span several process lifetimes: a slope would mean nothing.
    for (const name of RESTARTS ? [] : ['reconciler', ...HOSTS]) {
      const points = result.rssMiB.map((x) => ({ t: x.t, v: name === 'reconciler' ? x.reconciler : x.agents[name] })).filter((x): x is { t: number; v: number } => x.v !== null && x.v !== undefined);
      result.rssTrend[name] = trend(points);
    }
    await lab.close();
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, RESTARTS ? 'soak.json' : 'soak-steady.json'), `${JSON.stringify(result, null, 1)}\n`);
    const p = result.packets;
    console.log(
      `soak ${MINUTES} min: ${result.commits} commits, ${result.applies} applies, ${result.chainSwapsUnderTraffic} chain swaps under traffic, ` +
        `${result.agentRestarts} agent + ${result.reconcilerRestarts} reconciler restarts; packets sent ${p.sentGood}+${p.sentBad} bad, lost ${p.lost}, bypassed ${p.bypassed}; ` +
        `commit→converged p50 ${result.convergenceMs.p50} ms p99 ${result.convergenceMs.p99} ms max ${result.convergenceMs.max} ms; timeouts ${result.timeouts}; ` +
        `RSS MiB first→last (slope/h): ${Object.entries(result.rssTrend).map(([n, t]) => (t ? `${n} ${t.first}→${t.last} (${t.slopeMiBPerHour})` : `${n} -`)).join(', ')}`,
    );
  }
  const p = result.packets;
  process.exitCode = p.lost === 0 && p.bypassed === 0 && p.duplicated === 0 && result.timeouts === 0 ? 0 : 1;
}

main().catch((err) => {
  console.error(`soak failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
});
