import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, expect, test, vi } from 'vitest';
import { registerVerify } from '../../cli/commands/verify.js';
import { gitCommitSigned, initRepo, makeSshSigner, tempDir, writeAuthorizations, writeFile, type SshSigner } from './fixtures.js';

let root: string;
let alice: SshSigner;
let repo: string;
let intro: string;
beforeAll(() => {
  root = tempDir('bpfleet-trust-cli-');
  alice = makeSshSigner(root, 'ed25519', 'alice');
  repo = initRepo(path.join(root, 'repo'));
  writeAuthorizations(repo, [alice]);
  intro = gitCommitSigned(repo, alice, 'introduce');
  writeFile(repo, 'a', '1');
  gitCommitSigned(repo, alice, 'signed change');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

async function runVerify(args: string[]): Promise<{ code: number | undefined; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  const program = new Command().exitOverride();
  registerVerify(program);
  await program.parseAsync(['verify', '--repo', repo, '--introduction', `${intro}:${alice.fingerprint}`, ...args], { from: 'user' });
  vi.restoreAllMocks();
  return { code: process.exitCode as number | undefined, out, err };
}

test('authentic head: exit 0 and a one-line summary', async () => {
  const r = await runVerify([]);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/^2 commits authenticated \(0 from cache\), head [0-9a-f]{40}\n$/);
});

test('refused head: exit 1, "commit <short> (<subject>): <Reason>: <message>" on stderr; --json on stdout', async () => {
  writeFile(repo, 'a', '2');
  const bad = gitCommitSigned(repo, null, 'unsigned change');
  const r = await runVerify([]);
  expect(r.code).toBe(1);
  expect(r.err).toMatch(new RegExp(`^commit ${bad.slice(0, 10)} \\(unsigned change\\): Unsigned: is not signed`));
  const j = await runVerify(['--json']);
  expect(j.code).toBe(1);
  expect(JSON.parse(j.out)).toMatchObject({ ok: false, refusal: { reason: 'Unsigned', commit: bad } });
  const fwd = await runVerify(['--to', 'HEAD~1', '--since', 'HEAD', '--json']);
  expect(JSON.parse(fwd.out)).toMatchObject({ ok: false, refusal: { reason: 'Downgrade' } });
  expect((await runVerify(['--to', 'HEAD~1', '--since', 'HEAD', '--allow-downgrade'])).code).toBe(0);
  expect((await runVerify(['--to', 'nosuchbranch'])).code).toBe(2);
});
