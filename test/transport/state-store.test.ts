import { afterEach, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openStateStore } from '../../reconciler/state/state-store.js';
import { AtomicWriteError, CorruptFileError, writeFileAtomic } from '../../schemas/atomic-file.js';
import { C1, C2, tempDir } from './helpers.js';
import type { StatusReport } from '../../schemas/protocol.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
async function dir(): Promise<string> {
  const d = await tempDir();
  cleanups.push(d.cleanup);
  return d.path;
}

function report(host: string, generation: number): StatusReport {
  return { host, generation, commit: C1, state: 'converged', hooks: [], drift: [], datapath: 'sim', agentVersion: '0.1.0', reportedAt: new Date().toISOString() };
}

describe('state store', () => {
  test('generations, commits, statuses and receipts survive a reopen', async () => {
    const d = await dir();
    const s1 = await openStateStore(d, { maxReceiptsPerHost: 3 });
    await s1.setCommits({ authenticated: C2, applied: C1 });
    await s1.setGenerations({ 'edge-1': { generation: 4, commit: C1, hash: 'f'.repeat(64), issuedAt: new Date().toISOString() } });
    await s1.saveStatus(report('edge-1', 4), new Date());
    for (let g = 1; g <= 5; g++) await s1.appendReceipt('edge-1', { generation: g, commit: C1, receivedAt: new Date().toISOString(), receipt: { g } });

    const s2 = await openStateStore(d, { maxReceiptsPerHost: 3 });
    expect(s2.commits()).toMatchObject({ authenticated: C2, applied: C1 });
    expect(s2.generations()['edge-1']?.generation).toBe(4);
    expect(s2.statuses()['edge-1']?.report.generation).toBe(4);
    expect(s2.receipts('edge-1').map((r) => r.generation)).toEqual([3, 4, 5]);
    // no temp files left behind
    expect((await readdir(d)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('a generation may only grow', async () => {
    const s = await openStateStore(await dir());
    const g = (n: number) => ({ 'edge-1': { generation: n, commit: C1, hash: 'f'.repeat(64), issuedAt: new Date().toISOString() } });
    await s.setGenerations(g(2));
    await expect(s.setGenerations(g(2))).rejects.toMatchObject({ code: 'GenerationRegression', data: { host: 'edge-1', stored: 2, attempted: 2 } });
    await expect(s.setGenerations(g(1))).rejects.toMatchObject({ code: 'GenerationRegression' });
    expect(s.generations()['edge-1']?.generation).toBe(2);
  });

  test('a truncated file is reported with its path, not used', async () => {
    const d = await dir();
    const s = await openStateStore(d);
    await s.setGenerations({ 'edge-1': { generation: 7, commit: C1, hash: 'f'.repeat(64), issuedAt: new Date().toISOString() } });
    const path = join(d, 'generations.json');
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.slice(0, Math.floor(text.length / 2)));
    const err = await openStateStore(d).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptFileError);
    expect((err as CorruptFileError).data).toMatchObject({ path, reason: 'NotJson' });
    expect((err as Error).message).toContain(path);
  });

  test('a schema-invalid anchor file is reported with its path and the offending field', async () => {
    const d = await dir();
    const path = join(d, 'commits.json');
    await writeFile(path, JSON.stringify({ authenticated: 'not-a-commit', applied: null, updatedAt: new Date().toISOString() }));
    const err = await openStateStore(d).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CorruptFile', data: { path, reason: 'SchemaInvalid' } });
    expect((err as CorruptFileError).data.errors?.join()).toContain('/authenticated');
  });

  test('a schema-invalid status file is moved aside with a warning naming it; the store opens', async () => {
    const d = await dir();
    await mkdir(join(d, 'status'), { recursive: true });
    const path = join(d, 'status', 'edge-1.json');
    await writeFile(path, JSON.stringify({ receivedAt: new Date().toISOString(), report: { ...report('edge-1', 1), state: 'happy' } }));
    const store = await openStateStore(d);
    expect(store.statuses()['edge-1']).toBeUndefined();
    expect(store.warnings).toHaveLength(1);
    expect(store.warnings[0]).toContain(path);
    expect(store.warnings[0]).toContain('/report/state');
    const aside = (await readdir(join(d, 'status'))).filter((f) => f.startsWith('edge-1.json.corrupt-'));
    expect(aside).toHaveLength(1);
  });
});

describe('atomic write on a full disk', () => {
  const mnt = `/tmp/bpfleet-transport-enospc-${process.pid}`;
  afterEach(async () => {
    try {
      execFileSync('umount', [mnt]);
    } catch {
      /* not mounted */
    }
    await rm(mnt, { recursive: true, force: true });
  });

  test('ENOSPC fails the write with NoSpace and leaves the old file intact', async () => {
    await mkdir(mnt, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'bpfleet-test', mnt]);
    const store = await openStateStore(mnt);
    await store.setCommits({ authenticated: C1, applied: C1 });
    const before = await readFile(join(mnt, 'commits.json'), 'utf8');
    // Fill the file system until it refuses more.
    const chunk = Buffer.alloc(64 * 1024, 1);
    let filled = 0;
    for (let i = 0; ; i++) {
      try {
        await writeFile(join(mnt, `fill-${i}`), chunk);
        filled++;
      } catch (e) {
        expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
        break;
      }
    }
    expect(filled).toBeGreaterThan(0);
    // The new content is larger than what is left: the write must fail whole.
    const err = await writeFileAtomic(join(mnt, 'commits.json'), 'x'.repeat(256 * 1024)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AtomicWriteError);
    expect(err).toMatchObject({ code: 'NoSpace', data: { path: join(mnt, 'commits.json'), errno: 'ENOSPC' } });
    await expect(store.setCommits({ authenticated: C2 })).rejects.toMatchObject({ code: 'NoSpace' });
    expect(await readFile(join(mnt, 'commits.json'), 'utf8')).toBe(before);
    expect(store.commits().authenticated).toBe(C1); // memory not advanced either
    expect((await readdir(mnt)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const reopened = await openStateStore(mnt);
    expect(reopened.commits().authenticated).toBe(C1);
  });
});
