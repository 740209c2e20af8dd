// The conformance suite against the kernel datapath, on a veth pair in
// namespaces this test creates. Fails (never skips) under CI when BPF is missing.

import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { createKernelDatapath } from '../../agent/datapath/kernel/index.js';
import { createVethPair } from '../netns.js';
import { datapathConformance } from './conformance.js';
import { buildFixtureObjects } from './fixtures.js';

function bpfUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  if (!existsSync('/sys/fs/bpf')) return '/sys/fs/bpf is not mounted';
  return undefined;
}

const why = bpfUnavailable();
if (why && process.env.CI) throw new Error(`kernel datapath conformance needs BPF, but ${why}`);

if (why) {
  describe('Datapath conformance: kernel', () => {
    it(`is not run here: ${why} (CI would fail)`, () => {});
  });
} else {
  datapathConformance('kernel', async () => {
    const fx = buildFixtureObjects();
    const pair = createVethPair({ prefix: 'bfc' });
    const pinRoot = `/sys/fs/bpf/bpfleet-conformance-${pair.prefix}`;
    const options = {
      host: 'conformance',
      pinRoot,
      netns: pair.b.path,
      rootObjectDir: join(import.meta.dirname, '..', '..', 'bpf', 'build'),
      graceMs: 50,
    };
    return {
      datapath: await createKernelDatapath(options),
      ifaces: [pair.b.iface],
      objects: fx.source,
      members: fx.members,
      reopen: () => createKernelDatapath(options),
      cleanup: async () => {
        pair.destroy();
        rmSync(pinRoot, { recursive: true, force: true });
        fx.cleanup();
      },
    };
  });
}
