// Our verdict on signature + key must match `git verify-commit` with git's
// own SSH verification (gpg.format=ssh, gpg.ssh.allowedSignersFile) for every
// commit of an SSH-signed repository, good and bad ones alike.

import { generateKeyPairSync, sign as cryptoSign, createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { parseAllowedSigner, namespaceAllowed } from '../../reconciler/trust/allowed-signers.js';
import { splitCommit } from '../../reconciler/trust/payload.js';
import { verifySignature } from '../../reconciler/trust/verify-signature.js';
import { verifySshSignature } from '../../reconciler/trust/sshsig.js';
import { sshString } from '../../reconciler/trust/ssh-wire.js';
import {
  catCommit, commitPayloadText, git, gitCommitSigned, gitMergeSigned, gitVerifyCommit, initRepo, makeSshSigner,
  spliceSignature, sshSign, tempDir, writeAllowedSigners, writeAuthorizations, writeCommitObject, writeFile, type SshSigner,
} from './fixtures.js';

let root: string;
beforeAll(() => {
  root = tempDir('bpfleet-trust-diff-');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function ourVerdict(repo: string, id: string, allowed: string[]): Promise<boolean> {
  const raw = Buffer.from(git(repo, ['cat-file', 'commit', id]) + '\n');
  const { payload, signature } = splitCommit(raw);
  if (signature === null) return false;
  const out = await verifySignature(payload, signature, { openpgpKeys: [] });
  if (!out.ok) return false;
  return allowed.map(parseAllowedSigner).some((s) => s.fingerprint === out.fingerprint && namespaceAllowed(s.namespaces, 'git'));
}

test('for every commit of SSH repositories our verdict equals git verify-commit', async () => {
  const kinds = ['ed25519', 'ecdsa-256', 'ecdsa-384', 'ecdsa-521', 'rsa'] as const;
  const signers = kinds.map((k) => makeSshSigner(root, k, `diff-${k}`));
  const outsider = makeSshSigner(root, 'ed25519', 'outsider');
  const fileOnly: SshSigner = { ...makeSshSigner(root, 'ed25519', 'fileonly') };
  fileOnly.allowedSignersLine = fileOnly.allowedSignersLine.replace('namespaces="git"', 'namespaces="file"');
  const repo = initRepo(path.join(root, 'repo'));
  writeAuthorizations(repo, signers);
  const ids: string[] = [gitCommitSigned(repo, signers[0]!, 'intro')];
  for (const [i, s] of [...signers, outsider, fileOnly].entries()) {
    writeFile(repo, 'f', `${i}\n`);
    ids.push(gitCommitSigned(repo, s, `by ${s.principal}`));
  }
  ids.push(gitCommitSigned(repo, null, 'unsigned'));
  git(repo, ['checkout', '-q', '-b', 'side', 'HEAD~3']);
  ids.push(gitCommitSigned(repo, signers[1]!, 'side'));
  git(repo, ['checkout', '-q', 'main']);
  ids.push(gitMergeSigned(repo, signers[2]!, 'side', 'merge side'));
  // Tampered content under a valid signature, and signatures for other namespaces.
  const good = catCommit(repo, ids[1]!);
  const tampered = writeCommitObject(repo, good.replace('by diff-ed25519', 'by someone else'));
  expect(tampered).not.toBe(ids[1]);
  ids.push(tampered);
  for (const ns of ['file', 'git', 'gitx']) {
    ids.push(writeCommitObject(repo, spliceSignature(good, sshSign(signers[3]!, commitPayloadText(good), ns))));
  }
  const merge = catCommit(repo, ids[ids.length - 5]!);
  ids.push(writeCommitObject(repo, spliceSignature(merge, sshSign(signers[4]!, commitPayloadText(merge), 'git'))));

  const allowed = [...signers, fileOnly].map((s) => s.allowedSignersLine);
  const file = writeAllowedSigners(path.join(root, 'allowed_signers'), [...signers, fileOnly]);
  const verdicts: { id: string; ours: boolean; git: boolean }[] = [];
  for (const id of ids) verdicts.push({ id, ours: await ourVerdict(repo, id, allowed), git: gitVerifyCommit(repo, file, id) });
  expect(verdicts.filter((v) => v.ours !== v.git)).toEqual([]);
  // The sample is not degenerate: both verdicts occur.
  expect(verdicts.filter((v) => v.git).length).toBeGreaterThanOrEqual(9);
  expect(verdicts.filter((v) => !v.git).length).toBeGreaterThanOrEqual(6);
});

test('an RSA SSHSIG with the SHA-1 "ssh-rsa" algorithm is WeakDigest, while rsa-sha2-512 verifies', async () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  const mp = (b64u: string) => {
    const b = Buffer.from(b64u, 'base64url');
    return sshString(b[0]! & 0x80 ? Buffer.concat([Buffer.alloc(1), b]) : b);
  };
  const blob = Buffer.concat([sshString('ssh-rsa'), mp(jwk.e!), mp(jwk.n!)]);
  const payload = Buffer.from('tree 0000\n\nmessage\n');
  const armor = (sigAlg: string, hash: string) => {
    const signed = Buffer.concat([Buffer.from('SSHSIG'), sshString('git'), sshString(''), sshString('sha512'), sshString(createHash('sha512').update(payload).digest())]);
    const sig = cryptoSign(hash, signed, privateKey);
    const body = Buffer.concat([
      Buffer.from('SSHSIG'), Buffer.from([0, 0, 0, 1]), sshString(blob), sshString('git'), sshString(''), sshString('sha512'),
      sshString(Buffer.concat([sshString(sigAlg), sshString(sig)])),
    ]);
    return `-----BEGIN SSH SIGNATURE-----\n${body.toString('base64').replace(/.{70}/g, '$&\n')}\n-----END SSH SIGNATURE-----\n`;
  };
  expect(await verifySshSignature(payload, armor('rsa-sha2-512', 'sha512'))).toMatchObject({ ok: true });
  expect(await verifySshSignature(payload, armor('ssh-rsa', 'sha1'))).toMatchObject({ ok: false, reason: 'WeakDigest' });
  expect(await verifySshSignature(Buffer.from('other'), armor('rsa-sha2-512', 'sha512'))).toMatchObject({ ok: false, reason: 'BadSignature' });
});
