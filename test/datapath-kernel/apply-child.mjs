// Child process for the SIGKILL test: adopts the pins, then swaps whole chains
// in a loop until it is killed. argv: <compiled kernel/index.js> <pinRoot> <host> <netns> <iface> <hook> <rootObjectDir> <badAddr>
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [mod, pinRoot, host, netns, iface, hook, build, bad] = process.argv.slice(2);
const { createKernelDatapath } = await import(mod);
const suffix = hook === 'xdp' ? 'xdp' : 'tc';
const blobs = new Map();
const obj = (file) => {
  const bytes = readFileSync(join(build, file));
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  blobs.set(sha256, bytes);
  return { sha256, size: bytes.byteLength };
};
const chain = (blocked, rate) => ({
  hook,
  policy: 'pass',
  chain: [
    { program: 'blocklist', version: '1.0.0', object: obj('blocklist.bpf.o'), entry: `blocklist_${suffix}`, params: { blocked }, bindings: [{ kind: 'lpm-prefixes', parameter: 'blocked', map: 'blocklist_v4' }], maps: [{ name: 'blocklist_v4', persistent: false }] },
    { program: 'ratelimit', version: '1.0.0', object: obj('ratelimit.bpf.o'), entry: `ratelimit_${suffix}`, params: { burst: rate, rate_pps: rate }, bindings: [{ kind: 'global', parameter: 'rate_pps', symbol: 'rate_pps' }, { kind: 'global', parameter: 'burst', symbol: 'burst' }], maps: [{ name: 'ratelimit_buckets', persistent: true }] },
    { program: 'counter', version: '1.0.0', object: obj('counter.bpf.o'), entry: `counter_${suffix}`, params: {}, bindings: [], maps: [{ name: 'counter_stats', persistent: true }] },
  ],
});
const versions = [chain([bad], 50_000_000), chain([`${bad}/32`, '10.98.0.0/16'], 60_000_000)];
const dp = await createKernelDatapath({ host, pinRoot, netns, rootObjectDir: build, graceMs: 60_000 });
const ref = { iface, hook };
for (let i = 0; ; i++) {
  await dp.activate(await dp.stage(ref, versions[i % 2], async (sha) => blobs.get(sha)));
  process.stdout.write(`activated ${i}\n`);
}
