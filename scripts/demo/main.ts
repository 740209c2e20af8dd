// `npm run demo`: the whole product on one machine, start to finish, in about
// half a minute. A signed fleet repository, three namespace "hosts", the
// reconciler and one agent per host; a roll-out, a signed change, a rollback
// by `git revert`, and an unsigned commit refused. It cleans up after itself.

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { stringify } from 'yaml';
import type { FleetStatus } from '../../schemas/protocol.js';
import { generateSigningKey } from '../../reconciler/signing/key-files.js';
import { BIN, kernelUnavailable, Lab, sh, type DemoHost } from './lab.js';

const tty = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const bold = (s: string) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (tty ? `\x1b[2m${s}\x1b[0m` : s);
const green = (s: string) => (tty ? `\x1b[32m${s}\x1b[0m` : s);
const red = (s: string) => (tty ? `\x1b[31m${s}\x1b[0m` : s);
let stepNo = 0;
const step = (title: string) => console.log(`\n${bold(`[${++stepNo}] ${title}`)}`);
const say = (s: string) => console.log(`    ${s}`);
const indent = (s: string) => s.trimEnd().split('\n').map((l) => `    ${dim('│')} ${l}`).join('\n');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

const HOSTS = ['edge-1', 'edge-2', 'core-1'];

/** A port nobody listens on now (the kernel picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** GET with one retry: a pooled keep-alive connection may have just been closed by the server. */
async function scrape(url: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await (await fetch(url)).text();
    } catch (err) {
      if (attempt >= 2) throw new Error(`cannot read ${url}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function bpfleet(args: string[], env: Record<string, string> = {}): { code: number; out: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: tty ? '' : '1', ...env } });
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

async function main(): Promise<void> {
  const lab = new Lab();
  let failed = false;
  const onSignal = async () => {
    console.log('\ninterrupted: cleaning up');
    await lab.teardown();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    step('Preflight');
    const why = kernelUnavailable();
    const datapath = why ? 'sim' : 'kernel';
    say(why ? `${red('kernel datapath unavailable')} (${why}): agents run the in-memory ${bold('sim')} datapath, no traffic is sent` : `root with bpffs: agents run the ${bold('kernel')} datapath (XDP and TC programs on veth interfaces)`);

    step('A signed fleet repository (from examples/repo)');
    const { repo, fingerprint } = lab.makeRepo();
    const intro = lab.commit(repo, 'fleet: introduce bpfleet on edge-1, edge-2, core-1');
    say(`repository ${repo}`);
    say(`throwaway operator key ${fingerprint}; introduction commit ${intro.slice(0, 12)}`);
    console.log(indent(bpfleet(['validate', '--repo', repo]).out));

    let hosts: DemoHost[] = [];
    if (datapath === 'kernel') {
      hosts = lab.addHosts(HOSTS);
      say(`hosts are network namespaces ${hosts.map((h) => h.ns).join(', ')}, each with eth0 wired to ${lab.gwNs}`);
    }

    step('Plan of the first roll-out (what a pull request would show)');
    console.log(indent(bpfleet(['plan', '--repo', repo, '--to', 'HEAD']).out));

    step('Start the reconciler and one agent per host');
    const key = join(lab.dir, 'reconciler.key');
    await generateSigningKey(key);
    const admin = randomBytes(24).toString('hex');
    const tokens = Object.fromEntries(HOSTS.map((h) => [h, randomBytes(24).toString('hex')]));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(lab.dir, 'reconciler.yaml'),
      stringify({
        listen: `127.0.0.1:${port}`,
        stateDir: join(lab.dir, 'reconciler'),
        repo: { path: repo, branch: 'main' },
        introduction: { commit: intro, fingerprint },
        signingKey: key,
        hosts: Object.fromEntries(HOSTS.map((h) => [h, { tokenSha256: sha(tokens[h]!) }])),
        adminTokenSha256: sha(admin),
      }),
    );
    lab.start(['reconciler', '--config', join(lab.dir, 'reconciler.yaml')], 'reconciler.log');
    // Agents would cope with a reconciler that is not up yet (they back off), but the demo need not wait for that.
    for (let i = 0; i < 100 && !(await fetch(`${url}/healthz`).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 100));
    const metrics: Record<string, string> = {};
    const mports = await Promise.all(HOSTS.map(() => freePort()));
    HOSTS.forEach((h, i) => {
      writeFileSync(join(lab.dir, `${h}.token`), tokens[h]!, { mode: 0o600 });
      const mport = mports[i]!;
      metrics[h] = `http://127.0.0.1:${mport}/metrics`;
      writeFileSync(
        join(lab.dir, `${h}.yaml`),
        stringify({
          host: h,
          reconcilerUrls: [url],
          tokenFile: join(lab.dir, `${h}.token`),
          reconcilerPublicKey: `${key}.pub`,
          datapath,
          stateDir: join(lab.dir, `agent-${h}`),
          statusInterval: 1,
          metricsListen: `127.0.0.1:${mport}`,
          ...(datapath === 'kernel' ? { netns: `/var/run/netns/${hosts[i]!.ns}`, pinRoot: lab.pinRoot } : {}),
        }),
      );
      lab.start(['agent', '--config', join(lab.dir, `${h}.yaml`)], `agent-${h}.log`);
    });
    say(`reconciler on ${url}; agents for ${HOSTS.join(', ')}; logs in ${lab.dir}`);

    const fleet = async (): Promise<FleetStatus | undefined> => {
      try {
        const r = await fetch(`${url}/v1/fleet`, { headers: { authorization: `Bearer ${admin}` } });
        return r.ok ? ((await r.json()) as FleetStatus) : undefined;
      } catch {
        return undefined;
      }
    };
    const waitFor = async (what: string, pred: (f: FleetStatus) => boolean): Promise<number> => {
      const t0 = Date.now();
      process.stdout.write(`    waiting for ${what} `);
      while (Date.now() - t0 < 60_000) {
        const f = await fleet();
        if (f && pred(f)) {
          const ms = Date.now() - t0;
          console.log(green(`done in ${ms} ms`));
          return ms;
        }
        process.stdout.write('.');
        await new Promise((r) => setTimeout(r, 200));
      }
      console.log(red('timed out'));
      throw new Error(`timed out waiting for ${what}; see the logs in ${lab.dir}`);
    };
    const converged = (commit: string) => (f: FleetStatus) => f.hosts.length === HOSTS.length && f.hosts.every((h) => h.state === 'converged' && h.reported?.commit === commit);
    const status = () => console.log(indent(bpfleet(['status', '--server', url], { BPFLEET_TOKEN: admin }).out));

    await waitFor(`every host converged on ${intro.slice(0, 12)}`, converged(intro));
    status();

    const traffic = async (label: string) => {
      if (datapath !== 'kernel') return;
      step(`Traffic ${label}`);
      for (const h of hosts) {
        const ok = lab.ping(h, h.gwAddr, 40);
        const blocked = lab.ping(h, h.blockedSrc, 20);
        const note = h.name === 'core-1' ? ' (core-1 runs no blocklist)' : '';
        say(`${h.name}: 40 pings from ${h.gwAddr} → ${ok} answered; 20 from blocklisted ${h.blockedSrc} → ${blocked} answered${note}`);
      }
      for (const h of HOSTS) {
        const text = await scrape(metrics[h]!);
        const rows = text.split('\n').filter((l) => l.startsWith('bpfleet_chain_member_packets{') || l.startsWith('bpfleet_root_fallback_packets{'));
        say(`${bold(h)} live counters (agent /metrics):`);
        console.log(indent(rows.map((r) => r.replace(/^bpfleet_/, '')).join('\n') || '(no chains)'));
      }
    };
    await traffic('through the chains');

    step('A signed change: rate-limit edge-2, lower edge-1\'s rate');
    const edit = (file: string, f: (t: string) => string) => writeFileSync(join(repo, file), f(readFileSync(join(repo, file), 'utf8')));
    edit('hosts/edge-2.yaml', (t) => t.replace('          - program: counter@1.0.0', '          - program: ratelimit@1.0.0\n            params: { ratePps: 1000, burst: 2000 }\n          - program: counter@1.0.0'));
    edit('hosts/edge-1.yaml', (t) => t.replace('ratePps: 200000', 'ratePps: 100000'));
    const change = lab.commit(repo, 'edge: rate-limit edge-2, lower edge-1');
    console.log(indent(bpfleet(['plan', '--repo', repo, '--from', 'HEAD~1', '--to', 'HEAD']).out));
    await waitFor(`every host converged on ${change.slice(0, 12)}`, converged(change));
    const swaps = readFileSync(join(lab.dir, 'agent-edge-2.log'), 'utf8').split('\n').filter((l) => l.includes('"desired state applied"')).pop();
    if (swaps) {
      const j = JSON.parse(swaps) as { steps: string[]; ms: number };
      say(`edge-2 applied ${j.steps.join(', ')} in ${j.ms.toFixed(2)} ms: the new chain was loaded beside the old one, then swapped in with one map update`);
    }
    await traffic('after the change (counters continue: their maps are pinned and reused)');

    step('Rollback: a signed `git revert`');
    sh('git', ['-C', repo, 'revert', '--no-edit', '-S', 'HEAD']);
    const revert = sh('git', ['-C', repo, 'rev-parse', 'HEAD']);
    await waitFor(`every host converged on the revert ${revert.slice(0, 12)}`, converged(revert));
    console.log(indent(bpfleet(['history', '--repo', repo, '--host', 'edge-2', '--state-dir', join(lab.dir, 'reconciler')]).out));

    step('An unsigned commit is refused');
    edit('hosts/core-1.yaml', (t) => t.replace('ratePps: 500000', 'ratePps: 1'));
    const unsigned = lab.commit(repo, 'core: an unsigned change', false);
    await waitFor(`the trust gate to refuse ${unsigned.slice(0, 12)}`, (f) => f.trust.status === 'refused');
    const f = await fleet();
    say(`${red('refused')}: ${f?.trust.reason}: ${f?.trust.message}`);
    say(`every host still runs ${revert.slice(0, 12)}: ${f?.hosts.every((h) => h.reported?.commit === revert) ? green('yes') : red('no')}`);
    status();
  } catch (err) {
    failed = true;
    console.error(red(`\ndemo failed: ${(err as Error).message}`));
  } finally {
    step('Clean up');
    await lab.teardown(failed || Boolean(process.env.BPFLEET_DEMO_KEEP));
    say(failed ? `processes and namespaces removed; logs kept in ${lab.dir}` : 'processes, namespaces, pins and files removed');
  }
  process.exitCode = failed ? 1 : 0;
}

await main();
