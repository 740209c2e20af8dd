// Which capabilities does `bpfleet agent` need on the kernel datapath? Runs a
// real reconciler and agent (both inside a test namespace, so the agent's own
// network namespace carries the hooks, as on a host or in a hostNetwork pod)
// with the bounding set reduced by setpriv, and checks that the set in
// deploy/systemd/bpfleet-agent.service is sufficient and which members of it
// are necessary. Measured on Linux 6.18: CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON
// suffice on the agent's own network namespace (the datapath duplicates fds
// rather than reopening programs by id, which would need CAP_SYS_ADMIN);
// entering another namespace (`netns:`, used by labs) adds CAP_SYS_ADMIN.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createHarness, type Harness } from '../e2e/fleet-harness.js';
import { agentCapabilities } from './unit-capabilities.js';

const BIN = new URL('../../bin/bpfleet', import.meta.url).pathname;
const HOST = 'edge-1';

interface Outcome {
  /** The agent logged a successful apply before any error. */
  converged: boolean;
  log: string;
}

/** Runs the agent with exactly `caps` (bounding set, no inheritable) until it applies or fails. */
async function runAgent(netnsPath: string, config: string, caps: string[], timeoutMs = 15_000): Promise<Outcome> {
  const cfg = parse(readFileSync(config, 'utf8')) as { stateDir: string; pinRoot: string };
  const bounding = ['-all', ...caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
  const p = spawn('nsenter', [`--net=${netnsPath}`, 'setpriv', `--bounding-set=${bounding}`, '--inh-caps=-all', '--', process.execPath, BIN, 'agent', '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BPFLEET_LOG_FORMAT: 'json', NO_COLOR: '1' },
  });
  let log = '';
  p.stdout!.on('data', (b: Buffer) => (log += b.toString()));
  p.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline && p.exitCode === null) {
      if (/desired state (applied|unchanged)/.test(log)) return { converged: true, log };
      if (/"level":(50|60)/.test(log)) break; // error or fatal: the apply failed
      await new Promise((r) => setTimeout(r, 50));
    }
    return { converged: false, log };
  } finally {
    await stopProcess(p);
    // The next run must apply from scratch, not adopt this run's pins or state.
    rmSync(cfg.pinRoot, { recursive: true, force: true });
    rmSync(cfg.stateDir, { recursive: true, force: true });
  }
}

async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await exited;
}

describe('agent capabilities (kernel datapath)', () => {
  let h: Harness;
  let reconciler: ChildProcess | undefined;
  let nsPath = '';
  const configs = { own: '', setns: '' };

  beforeAll(async () => {
    h = await createHarness({ hosts: [HOST], datapath: 'kernel' });
    const pair = h.pairs.get(HOST)!;
    nsPath = pair.b.path;
    const base = join(h.dir, HOST, 'agent.yaml');
    const cfg = parse(readFileSync(base, 'utf8')) as Record<string, unknown>;
    // Hooks in the agent's own namespace: no `netns`, so no setns.
    const { netns: _netns, ...own } = cfg;
    configs.own = join(h.dir, HOST, 'agent-own-netns.yaml');
    writeFileSync(configs.own, stringify({ ...own, stateDir: join(h.dir, HOST, 'state-own') }));
    configs.setns = join(h.dir, HOST, 'agent-setns.yaml');
    writeFileSync(configs.setns, stringify({ ...cfg, stateDir: join(h.dir, HOST, 'state-setns') }));
    // The reconciler listens on 127.0.0.1 of the test namespace, where the agent is.
    reconciler = spawn('nsenter', [`--net=${nsPath}`, process.execPath, BIN, 'reconciler', '--config', join(h.dir, 'reconciler.yaml')], {
      stdio: 'ignore',
      env: { ...process.env, BPFLEET_LOG_FORMAT: 'json' },
    });
    await new Promise((r) => setTimeout(r, 1500));
  }, 60_000);

  afterAll(async () => {
    if (reconciler) await stopProcess(reconciler);
    await h?.cleanup();
  });

  it('converges with exactly the unit file CapabilityBoundingSet, without CAP_SYS_ADMIN', async () => {
    const caps = agentCapabilities();
    expect(caps).toEqual(['CAP_BPF', 'CAP_NET_ADMIN', 'CAP_PERFMON']);
    const r = await runAgent(nsPath, configs.own, caps);
    expect(r.converged, r.log.slice(-3000)).toBe(true);
  }, 30_000);

  for (const missing of ['CAP_BPF', 'CAP_NET_ADMIN', 'CAP_PERFMON']) {
    it(`without ${missing} nothing is applied`, async () => {
      const r = await runAgent(nsPath, configs.own, agentCapabilities().filter((c) => c !== missing));
      expect(r.converged, r.log.slice(-2000)).toBe(false);
    }, 30_000);
  }

  it('with no capabilities at all nothing is applied (the probe is sensitive)', async () => {
    const r = await runAgent(nsPath, configs.own, []);
    expect(r.converged).toBe(false);
  }, 30_000);

  it('with `netns:` set (setns into another namespace) CAP_SYS_ADMIN is needed too', async () => {
    const r = await runAgent(nsPath, configs.setns, [...agentCapabilities(), 'CAP_SYS_ADMIN']);
    expect(r.converged, r.log.slice(-3000)).toBe(true);
    const noAdmin = await runAgent(nsPath, configs.setns, agentCapabilities());
    expect(noAdmin.converged).toBe(false);
  }, 60_000);
});
