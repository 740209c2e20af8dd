// An apply whose new hook cannot attach in the kernel — another tool holds
// the interface's XDP with a netlink-attached program — changes nothing: the
// hook attached earlier in the same apply is removed again, the live hook
// keeps its generation, and the other tool's program stays where it was.

import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyHost, ApplyError } from '../../agent/apply/index.js';
import { createKernelDatapath, type KernelDatapath } from '../../agent/datapath/kernel/index.js';
import { removePins } from '../../agent/datapath/kernel/pins.js';
import type { HostDesiredState } from '../../schemas/desired-state.js';
import { createVethPair, nsExec, type VethPair } from '../netns.js';
import { BUILD, buildBpf, exampleChain, member, objects, skipKernel, uniquePinRoot } from './fixtures.js';

const FAST = { ratePps: 50_000_000, burst: 50_000_000 };

describe.skipIf(skipKernel)('kernel: a hook that cannot attach', () => {
  let pair: VethPair;
  let dp: KernelDatapath;
  const pinRoot = uniquePinRoot('busy');
  const foreignPin = `/sys/fs/bpf/bpfleet-test-foreign-${process.pid}`;
  const busy = 'xdpbusy';

  beforeAll(async () => {
    buildBpf();
    pair = createVethPair({ prefix: 'bfab' });
    // A second interface in the host's namespace, its XDP taken by another tool (netlink, generic mode).
    nsExec(pair.b, 'ip', ['link', 'add', busy, 'type', 'veth', 'peer', 'name', `${busy}p`]);
    nsExec(pair.b, 'ip', ['link', 'set', busy, 'up']);
    execFileSync('bpftool', ['prog', 'load', join(BUILD, 'test/foreign.bpf.o'), foreignPin]);
    nsExec(pair.b, 'bpftool', ['net', 'attach', 'xdpgeneric', 'pinned', foreignPin, 'dev', busy]);
    dp = await createKernelDatapath({ host: 'busy', pinRoot, netns: pair.b.path, rootObjectDir: BUILD, graceMs: 50 });
  });
  afterAll(async () => {
    await dp?.close();
    pair?.destroy();
    removePins(pinRoot);
    rmSync(foreignPin, { force: true });
  });

  const xdpOn = () => (JSON.parse(nsExec(pair.b, 'bpftool', ['-j', 'net', 'show']))[0].xdp as { devname: string; id: number }[]).map((x) => `${x.devname}:${x.id}`);

  it('removes the hooks attached in the same apply, keeps the live one, and leaves the other program alone', async () => {
    const veth = pair.b.iface;
    const host = (withBusy: boolean, egressPolicy: 'pass' | 'drop'): HostDesiredState => ({
      host: 'busy',
      labels: {},
      interfaces: [
        { name: veth, hooks: [...(withBusy ? [exampleChain('xdp', { blocked: [], ...FAST })] : []), exampleChain('tc-egress', { blocked: [], ...FAST }, egressPolicy)] },
        ...(withBusy ? [{ name: busy, hooks: [{ hook: 'xdp' as const, policy: 'pass' as const, chain: [member('counter.bpf.o', 'counter', '1.0.0', 'xdp', { maps: [{ name: 'counter_stats', persistent: true }] })] }] }] : []),
      ],
    });
    await applyHost({ datapath: dp, desired: host(false, 'pass'), objects });
    const before = await dp.live();
    const foreign = xdpOn();
    expect(foreign).toHaveLength(1);

    // vethb/xdp attaches first (new), then xdpbusy/xdp is refused by the kernel.
    const error = await applyHost({ datapath: dp, desired: host(true, 'drop'), objects }).then(
      () => undefined,
      (e: unknown) => e as ApplyError,
    );
    expect(error).toBeInstanceOf(ApplyError);
    expect(error!.code).toBe('ActivateFailed');
    expect(error!.message).toMatch(new RegExp(`attaching ${busy}/xdp failed, nothing was changed; ${veth}/xdp attached in this apply was removed again`));
    expect(error!.receipt.steps).toEqual([]);
    expect(await dp.live()).toEqual(before);
    expect(xdpOn()).toEqual(foreign); // our root is not on vethb, theirs is still on xdpbusy
    expect(existsSync(dp.hookDir({ iface: veth, hook: 'xdp' }))).toBe(false);
    expect(existsSync(dp.hookDir({ iface: busy, hook: 'xdp' }))).toBe(false);

    // The other tool lets go: the same document applies in full.
    nsExec(pair.b, 'bpftool', ['net', 'detach', 'xdpgeneric', 'dev', busy]);
    const receipt = await applyHost({ datapath: dp, desired: host(true, 'drop'), objects });
    expect(receipt.result).toBe('applied');
    expect((await dp.live()).map((h) => `${h.iface}/${h.hook}/${h.policy}`)).toEqual([`${veth}/xdp/pass`, `${veth}/tc-egress/drop`, `${busy}/xdp/pass`]);
    expect(xdpOn().map((x) => x.split(':')[0])).toEqual([veth, busy]);
  });
});
