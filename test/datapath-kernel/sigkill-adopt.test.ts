// An agent SIGKILLed while it stages and activates chains in a loop, three
// times over, under traffic; each new process adopts the pins. Afterwards the
// chain is consistent, stale generations are cleaned up, and no packet ever
// bypassed the chain or fell through the root.

import { execFileSync, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKernelDatapath, type KernelMemberCounters } from '../../agent/datapath/kernel/index.js';
import { removePins } from '../../agent/datapath/kernel/pins.js';
import { createVethPair, type VethPair } from '../netns.js';
import { BUILD, REPO, buildBpf, exampleChain, objects, skipKernel, uniquePinRoot } from './fixtures.js';
import { startTraffic } from './traffic.js';

const OUT = join(REPO, 'dist', `test-datapath-${process.pid}`);

/** The child runs plain JS: compile the kernel datapath (and only it) with tsc. */
function compileDatapath(): string {
  execFileSync(join(REPO, 'node_modules/.bin/tsc'), ['--outDir', OUT, '--rootDir', REPO, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--types', 'node', join(REPO, 'agent/datapath/kernel/index.ts')], { stdio: 'inherit' });
  return join(OUT, 'agent/datapath/kernel/index.js');
}

describe.skipIf(skipKernel)('SIGKILL mid-apply, then adoption', () => {
  let pair: VethPair;
  let mod: string;
  const pinRoot = uniquePinRoot('kill');
  beforeAll(() => {
    buildBpf();
    mod = compileDatapath();
    pair = createVethPair({ prefix: 'bfkl', extraA: 1 });
  });
  afterAll(() => {
    pair?.destroy();
    removePins(pinRoot);
    removePins(OUT);
  });

  it('tc-ingress: three killed agents, one adopting agent, zero bypass', async () => {
    const hook = 'tc-ingress' as const;
    const ref = { iface: pair.b.iface, hook };
    const bad = pair.a.addrs[1]!;
    const chain = exampleChain(hook, { blocked: [bad], ratePps: 50_000_000, burst: 50_000_000 });
    const first = await createKernelDatapath({ host: 'kill', pinRoot, netns: pair.b.path, rootObjectDir: BUILD });
    await first.activate(await first.stage(ref, chain, objects));
    await first.close();
    const traffic = await startTraffic(pair, { senderCpu: 1, badEvery: 10 });
    let activations = 0;
    try {
      for (let round = 0; round < 3; round++) {
        const child = spawn('taskset', ['-c', '0', process.execPath, join(import.meta.dirname, 'apply-child.mjs'), mod, pinRoot, 'kill', pair.b.path, pair.b.iface, hook, BUILD, bad], { stdio: ['ignore', 'pipe', 'inherit'] });
        const exited = new Promise((r) => child.once('close', r));
        await new Promise<void>((res, rej) => {
          let seen = 0;
          child.stdout!.on('data', (d: Buffer) => {
            seen += d.toString().split('\n').filter((l) => l.startsWith('activated')).length;
            if (seen >= 20) res();
          });
          child.once('close', (code) => rej(new Error(`child exited with ${code}`)));
        });
        await new Promise((r) => setTimeout(r, Math.random() * 15)); // land anywhere inside stage/activate
        child.kill('SIGKILL');
        await exited;
        activations += 20;
      }
    } catch (err) {
      await traffic.stop();
      throw err;
    }

    // The adopting agent: sees a whole chain, no drift, and cleans up what the dead ones left.
    const dp = await createKernelDatapath({ host: 'kill', pinRoot, netns: pair.b.path, rootObjectDir: BUILD, graceMs: 10 });
    const [live] = await dp.live();
    expect(live!.members.map((m) => m.program)).toEqual(['blocklist', 'ratelimit', 'counter']);
    expect(live!.generation).toBeGreaterThanOrEqual(activations);
    expect(await dp.drift()).toEqual([]);
    dp.flushReleases();
    expect(readdirSync(join(dp.hookDir(ref), 'gen'))).toEqual([String(live!.generation)]);
    // It can carry on swapping.
    for (let i = 0; i < 20; i++) await dp.activate(await dp.stage(ref, chain, objects));

    const { sent, received } = await traffic.stop();
    const c = await dp.counters(ref);
    const root = dp.rootCounters(ref);
    const [blocklist, ratelimit, counter] = c.members as KernelMemberCounters[];
    console.log(JSON.stringify({ sent, received, root, members: c.members }));
    expect(received.bad).toBe(0);
    expect(root.fallback).toBe(0);
    expect(blocklist!.packets).toBe(root.entered);
    expect(blocklist!.verdicts.shot).toBe(sent.sentBad);
    expect(counter!.verdicts.ok).toBe(sent.sentGood);
    expect(ratelimit!.packets).toBe(blocklist!.verdicts.ok);
    expect(counter!.packets).toBe(ratelimit!.verdicts.ok);
    for (const m of c.members as KernelMemberCounters[]) expect(m.missed).toBe(0);
    expect(received.good).toBe(sent.sentGood);
    expect(root.entered).toBe(sent.sentGood + sent.sentBad);
    expect(received.dup).toBe(0);
    await dp.remove(ref);
    await dp.close();
  }, 120_000);
});
