// Drives test/datapath-kernel/traffic.c: a receiver in one namespace and a
// sender pinned to its own CPU in the other, both stopped with SIGINT and
// reporting JSON. Only the test's namespaces ever see this traffic.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VethPair } from '../netns.js';

// Also found from dist/test/datapath-kernel/ when bench/swap.ts runs compiled.
const SRC = [join(import.meta.dirname, 'traffic.c'), join(import.meta.dirname, '../../../test/datapath-kernel/traffic.c')].find((p) => existsSync(p))!;
export const PORT = 7999;

export function trafficBinary(): string {
  const src = readFileSync(SRC);
  const bin = join(tmpdir(), `bpfleet-traffic-${createHash('sha256').update(src).digest('hex').slice(0, 12)}`);
  if (!existsSync(bin)) execFileSync('cc', ['-O2', '-Wall', '-o', bin, SRC]);
  return bin;
}

export interface Running<T> {
  pid: number;
  stop(): Promise<T>;
}

function run<T>(nsPath: string, cpu: number, args: string[]): Promise<Running<T>> {
  const child: ChildProcess = spawn('nsenter', [`--net=${nsPath}`, 'taskset', '-c', String(cpu), trafficBinary(), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  running.add(child);
  let out = '';
  // 'close' (not 'exit'): all of stdout has been read by then.
  const closed = new Promise<void>((res) => child.once('close', () => (running.delete(child), res())));
  const result = async (): Promise<T> => {
    await closed;
    return JSON.parse(out.slice('ready\n'.length)) as T;
  };
  return new Promise((resolveReady, reject) => {
    child.once('error', reject);
    void closed.then(() => reject(new Error(`traffic ${args[0]} exited before it was ready: ${out}`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.startsWith('ready\n')) {
        resolveReady({
          pid: child.pid!,
          stop: () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
            return result();
          },
        });
      }
    });
  });
}

const running = new Set<ChildProcess>();
/** Kills (by pid) every traffic process this module started that is still running. */
export function killTraffic(): void {
  for (const c of running) c.kill('SIGKILL');
}
process.once('exit', killTraffic);

export interface Sent {
  sentGood: number;
  sentBad: number;
  retries: number;
}
export interface Received {
  good: number;
  bad: number;
  dup: number;
  maxSeq: number;
}

/** Receiver on side b (any CPU), then sender on side a pinned to senderCpu. Every `badEvery`-th packet comes from a.addrs[1]. */
export async function startTraffic(pair: VethPair, opts: { senderCpu: number; badEvery: number; max?: number }) {
  const receiver = await run<Received>(pair.b.path, 0, ['recv', pair.b.addrs[0]!, String(PORT)]);
  const sender = await run<Sent>(pair.a.path, opts.senderCpu, ['send', pair.a.addrs[0]!, pair.a.addrs[1]!, pair.b.addrs[0]!, String(PORT), String(opts.badEvery), String(opts.max ?? 0)]);
  return {
    async stop(): Promise<{ sent: Sent; received: Received }> {
      const sent = await sender.stop();
      await new Promise((r) => setTimeout(r, 300)); // let the receiver drain its socket
      const received = await receiver.stop();
      return { sent, received };
    },
  };
}

/** Pins the calling process's main thread (the swapper) to one CPU; returns a restore function. */
export function pinSelf(cpu: number): () => void {
  const before = execFileSync('taskset', ['-p', String(process.pid)], { encoding: 'utf8' }).trim().split(' ').pop()!;
  execFileSync('taskset', ['-p', '-c', String(cpu), String(process.pid)]);
  return () => execFileSync('taskset', ['-p', before, String(process.pid)]);
}
