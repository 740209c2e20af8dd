import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { authenticate, commitSigner, parseIntroduction, verifyTag, type AuthResult } from '../../reconciler/trust/index.js';
import {
  catCommit, commitPayloadText, git, gitCommitSigned, gitMergeSigned, gitTagSigned, initRepo, makeGpgSigner,
  makeSshSigner, spliceSignature, sshSign, stopGpgAgent, tempDir, writeAuthorizations, writeCommitObject, writeFile,
  type GpgSigner, type Signer, type SshSigner,
} from './fixtures.js';

let root: string;
let alice: SshSigner; // introduction key
let bob: SshSigner;
let mallory: SshSigner; // never authorized
let ecdsa256: SshSigner, ecdsa384: SshSigner, ecdsa521: SshSigner, rsa: SshSigner;
let pgpEd: GpgSigner, pgpRsa: GpgSigner, pgpSub: GpgSigner, pgpOutsider: GpgSigner;
let n = 0;

beforeAll(() => {
  root = tempDir('bpfleet-trust-gate-');
  alice = makeSshSigner(root, 'ed25519', 'alice');
  bob = makeSshSigner(root, 'ed25519', 'bob');
  mallory = makeSshSigner(root, 'ed25519', 'mallory');
  ecdsa256 = makeSshSigner(root, 'ecdsa-256', 'ec256');
  ecdsa384 = makeSshSigner(root, 'ecdsa-384', 'ec384');
  ecdsa521 = makeSshSigner(root, 'ecdsa-521', 'ec521');
  rsa = makeSshSigner(root, 'rsa', 'rsa');
  pgpEd = makeGpgSigner(root, 'ed25519', 'pgp-ed');
  pgpRsa = makeGpgSigner(root, 'rsa', 'pgp-rsa');
  pgpSub = makeGpgSigner(root, 'ed25519-subkey', 'pgp-sub');
  pgpOutsider = makeGpgSigner(root, 'ed25519', 'pgp-outsider');
});

afterAll(() => {
  for (const s of [pgpEd, pgpRsa, pgpSub, pgpOutsider]) if (s) stopGpgAgent(s);
  fs.rmSync(root, { recursive: true, force: true });
});

/** A fresh repository whose first commit, signed by alice, authorizes `signers`. */
function repoWith(signers: Signer[]): { repo: string; intro: string; introduction: { commit: string; fingerprint: string } } {
  const repo = initRepo(path.join(root, `repo-${++n}`));
  writeAuthorizations(repo, signers);
  const intro = gitCommitSigned(repo, alice, 'introduce bpfleet');
  return { repo, intro, introduction: { commit: intro, fingerprint: alice.fingerprint } };
}

function change(repo: string, signer: Signer | null, message: string): string {
  writeFile(repo, 'hosts/edge-1.yaml', `# ${message} ${++n}\n`);
  return gitCommitSigned(repo, signer, message);
}

function refusal(r: AuthResult) {
  if (r.ok) throw new Error(`expected a refusal, got ok (${r.checked} checked)`);
  return r.refusal;
}

describe('signature schemes', () => {
  test('SSH ed25519/ECDSA/RSA and OpenPGP ed25519/RSA/subkey commits all authenticate, each under its own fingerprint', async () => {
    const all = [alice, ecdsa256, ecdsa384, ecdsa521, rsa, pgpEd, pgpRsa, pgpSub];
    const { repo, introduction } = repoWith(all);
    const ids = all.map((s) => change(repo, s, `change by ${s.principal}`));
    const r = await authenticate({ dir: repo, introduction, to: 'HEAD' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.checked).toBe(all.length + 1);
    const byCommit = new Map(r.commits.map((c) => [c.commit, c]));
    all.forEach((s, i) => {
      expect(byCommit.get(ids[i]!)).toEqual({ commit: ids[i], fingerprint: s.fingerprint, principal: s.principal, scheme: s.scheme });
    });
    // The subkey signed, but the authorization (and the answer) name the primary key.
    expect(pgpSub.fingerprint).toMatch(/^[0-9A-F]{40}$/);
    expect(await commitSigner(repo, ids[7]!)).toEqual({ fingerprint: pgpSub.fingerprint, principal: 'pgp-sub', scheme: 'openpgp' });
  });

  test('OpenPGP signature with a SHA-1 digest is WeakDigest', async () => {
    const { repo, introduction } = repoWith([alice, pgpEd]);
    const conf = path.join(pgpEd.home, 'gpg.conf');
    fs.writeFileSync(conf, 'digest-algo SHA1\n');
    let weak: string;
    try {
      weak = change(repo, pgpEd, 'sha1 signed');
    } finally {
      fs.rmSync(conf);
    }
    const r = refusal(await authenticate({ dir: repo, introduction, to: 'HEAD' }));
    expect(r).toMatchObject({ reason: 'WeakDigest', commit: weak, fingerprint: pgpEd.fingerprint });
  });

  test('OpenPGP key not in the authorizations is UnknownKey', async () => {
    const { repo, introduction } = repoWith([alice, pgpEd]);
    const c = change(repo, pgpOutsider, 'outsider');
    expect(refusal(await authenticate({ dir: repo, introduction, to: 'HEAD' }))).toMatchObject({ reason: 'UnknownKey', commit: c });
  });
});

describe('the rule', () => {
  test('an unsigned commit deep inside the range refuses the head and names that commit', async () => {
    const { repo, introduction } = repoWith([alice, bob]);
    for (let i = 0; i < 5; i++) change(repo, alice, `ok ${i}`);
    const bad = change(repo, null, 'sneaky unsigned');
    for (let i = 0; i < 5; i++) change(repo, bob, `later ${i}`);
    const r = refusal(await authenticate({ dir: repo, introduction, to: 'HEAD' }));
    expect(r.reason).toBe('Unsigned');
    expect(r.commit).toBe(bad);
    expect(r.message).toContain(`commit ${bad.slice(0, 10)} (sneaky unsigned)`);
  });

  test('key rotation: a key takes effect for the children of the commit that adds it, and a removed key can no longer sign', async () => {
    const { repo, introduction } = repoWith([alice]);
    writeAuthorizations(repo, [alice, bob]);
    const selfAdd = gitCommitSigned(repo, bob, 'bob adds himself');
    const r1 = refusal(await authenticate({ dir: repo, introduction, to: 'HEAD' }));
    expect(r1).toMatchObject({ reason: 'NotAuthorized', commit: selfAdd, fingerprint: bob.fingerprint });

    git(repo, ['reset', '-q', '--hard', 'HEAD~1']);
    writeAuthorizations(repo, [alice, bob]);
    gitCommitSigned(repo, alice, 'alice authorizes bob');
    change(repo, bob, 'bob signs');
    writeAuthorizations(repo, [bob]);
    const rotate = gitCommitSigned(repo, bob, 'bob removes alice');
    const okHead = change(repo, bob, 'bob again');
    expect(await authenticate({ dir: repo, introduction, to: 'HEAD' })).toMatchObject({ ok: true, head: okHead, checked: 5 });
    const stale = change(repo, alice, 'alice after removal');
    const r2 = refusal(await authenticate({ dir: repo, introduction, to: 'HEAD' }));
    expect(r2).toMatchObject({ reason: 'NotAuthorized', commit: stale, parent: okHead, fingerprint: alice.fingerprint });
    expect(rotate).toMatch(/^[0-9a-f]{40}$/);
  });

  test('merges: every parent is checked once, and a merge needs a signer that every parent authorizes', async () => {
    const { repo, introduction } = repoWith([alice, bob]);
    git(repo, ['checkout', '-q', '-b', 'feature']);
    change(repo, bob, 'feature 1');
    change(repo, bob, 'feature 2');
    git(repo, ['checkout', '-q', 'main']);
    writeFile(repo, 'README', 'main side\n');
    gitCommitSigned(repo, alice, 'main 1');
    const merge = gitMergeSigned(repo, alice, 'feature', 'merge feature');
    const ok = await authenticate({ dir: repo, introduction, to: 'HEAD' });
    expect(ok).toMatchObject({ ok: true, head: merge, checked: 5 });

    // The side branch drops bob; a merge signed by bob is refused through that parent only.
    git(repo, ['checkout', '-q', '-b', 'nobob']);
    writeAuthorizations(repo, [alice]);
    const nobob = gitCommitSigned(repo, alice, 'drop bob');
    git(repo, ['checkout', '-q', 'main']);
    change(repo, alice, 'main 2');
    const badMerge = gitMergeSigned(repo, bob, 'nobob', 'bob merges');
    const r = refusal(await authenticate({ dir: repo, introduction, to: 'HEAD' }));
    expect(r).toMatchObject({ reason: 'NotAuthorized', commit: badMerge, parent: nobob, fingerprint: bob.fingerprint });
  });

  test('a tampered commit (old signature, modified content) is BadSignature', async () => {
    const { repo, introduction } = repoWith([alice]);
    const good = change(repo, alice, 'set rate 100');
    const forged = writeCommitObject(repo, catCommit(repo, good).replace('set rate 100', 'set rate 0'));
    git(repo, ['update-ref', 'refs/heads/forged', forged]);
    const r = refusal(await authenticate({ dir: repo, introduction, to: 'forged' }));
    expect(r).toMatchObject({ reason: 'BadSignature', commit: forged, fingerprint: alice.fingerprint });
  });

  test('an SSH signature made for another namespace is WrongNamespace', async () => {
    const { repo, introduction } = repoWith([alice]);
    const c = change(repo, null, 'signed for files');
    const raw = catCommit(repo, c);
    const spliced = writeCommitObject(repo, spliceSignature(raw, sshSign(alice, commitPayloadText(raw), 'file')));
    git(repo, ['update-ref', 'refs/heads/main', spliced]);
    const r = refusal(await authenticate({ dir: repo, introduction, to: 'main' }));
    expect(r).toMatchObject({ reason: 'WrongNamespace', commit: spliced });
    // Control: the same splice with namespace git is accepted.
    const proper = writeCommitObject(repo, spliceSignature(raw, sshSign(alice, commitPayloadText(raw), 'git')));
    git(repo, ['update-ref', 'refs/heads/main', proper]);
    expect((await authenticate({ dir: repo, introduction, to: 'main' })).ok).toBe(true);
  });

  test('deleting or emptying the authorizations file is refused', async () => {
    const { repo, introduction } = repoWith([alice]);
    fs.rmSync(path.join(repo, '.bpfleet/authorizations'));
    const del = gitCommitSigned(repo, alice, 'delete authorizations');
    expect(refusal(await authenticate({ dir: repo, introduction, to: 'HEAD' }))).toMatchObject({ reason: 'AuthorizationsRemoved', commit: del });
    git(repo, ['reset', '-q', '--hard', 'HEAD~1']);
    writeAuthorizations(repo, []);
    const empty = gitCommitSigned(repo, alice, 'empty authorizations');
    expect(refusal(await authenticate({ dir: repo, introduction, to: 'HEAD' }))).toMatchObject({ reason: 'AuthorizationsRemoved', commit: empty });
  });

  test('introduction: wrong key is IntroductionMismatch; nothing before it or beside it is trusted', async () => {
    const repo = initRepo(path.join(root, `repo-${++n}`));
    writeAuthorizations(repo, [alice]);
    const before = gitCommitSigned(repo, alice, 'before the introduction');
    const intro = change(repo, alice, 'introduction');
    const wrong = refusal(await authenticate({ dir: repo, introduction: { commit: intro, fingerprint: bob.fingerprint }, to: 'HEAD' }));
    expect(wrong).toMatchObject({ reason: 'IntroductionMismatch', commit: intro, fingerprint: alice.fingerprint });
    const introduction = { commit: intro, fingerprint: alice.fingerprint };
    expect(refusal(await authenticate({ dir: repo, introduction, to: before }))).toMatchObject({ reason: 'NotDescendantOfIntroduction', commit: before });

    // An unrelated history, then merged into the trusted line.
    git(repo, ['checkout', '-q', '--orphan', 'other']);
    writeAuthorizations(repo, [alice]);
    const foreign = gitCommitSigned(repo, alice, 'unrelated root');
    expect(refusal(await authenticate({ dir: repo, introduction, to: 'other' }))).toMatchObject({ reason: 'NotDescendantOfIntroduction', commit: foreign });
    git(repo, ['checkout', '-q', 'main']);
    git(repo, [...alice.gitArgs, 'merge', '-S', '-q', '--allow-unrelated-histories', '-s', 'ours', '-m', 'merge unrelated', 'other']);
    expect(refusal(await authenticate({ dir: repo, introduction, to: 'HEAD' }))).toMatchObject({ reason: 'NotDescendantOfIntroduction', commit: foreign });
  });

  test('a force-push back is Downgrade unless allowDowngrade', async () => {
    const { repo, introduction } = repoWith([alice]);
    const older = change(repo, alice, 'v1');
    const applied = change(repo, alice, 'v2');
    const down = refusal(await authenticate({ dir: repo, introduction, since: applied, to: older }));
    expect(down).toMatchObject({ reason: 'Downgrade', commit: older });
    expect(down.message).toContain(applied.slice(0, 10));
    const allowed = await authenticate({ dir: repo, introduction, since: applied, to: older, allowDowngrade: true });
    expect(allowed).toMatchObject({ ok: true, head: older });
    expect(await authenticate({ dir: repo, introduction, since: older, to: applied })).toMatchObject({ ok: true, head: applied });
  });
});

describe('range and cache', () => {
  test('a second run verifies 0 commits; a corrupt cache is ignored and rebuilt', async () => {
    const { repo, introduction } = repoWith([alice, pgpEd]);
    for (let i = 0; i < 6; i++) change(repo, i % 2 ? alice : pgpEd, `c${i}`);
    const cacheFile = path.join(root, `cache-${++n}`, 'trust.json');
    const first = await authenticate({ dir: repo, introduction, to: 'HEAD', cacheFile });
    expect(first).toMatchObject({ ok: true, checked: 7, cached: 0 });
    const second = await authenticate({ dir: repo, introduction, to: 'HEAD', cacheFile });
    expect(second).toMatchObject({ ok: true, checked: 0, cached: 7 });
    change(repo, alice, 'new');
    expect(await authenticate({ dir: repo, introduction, to: 'HEAD', cacheFile })).toMatchObject({ ok: true, checked: 1, cached: 7 });
    // Another introduction does not inherit this one's proofs.
    const otherIntro = { commit: introduction.commit, fingerprint: bob.fingerprint };
    expect(refusal(await authenticate({ dir: repo, introduction: otherIntro, to: 'HEAD', cacheFile })).reason).toBe('IntroductionMismatch');

    fs.writeFileSync(cacheFile, '{"version":1,"introductions":{"x":{"nothex":');
    expect(await authenticate({ dir: repo, introduction, to: 'HEAD', cacheFile })).toMatchObject({ ok: true, checked: 8, cached: 0 });
    expect(JSON.parse(fs.readFileSync(cacheFile, 'utf8')).version).toBe(1);
    expect(await authenticate({ dir: repo, introduction, to: 'HEAD', cacheFile })).toMatchObject({ ok: true, checked: 0, cached: 8 });
    expect(fs.readdirSync(path.dirname(cacheFile))).toEqual(['trust.json']);
  });

  test('a bare clone authenticates the same way, revs by branch name', async () => {
    const { repo, introduction } = repoWith([alice]);
    change(repo, alice, 'x');
    const bare = path.join(root, `bare-${++n}.git`);
    git(root, ['clone', '-q', '--bare', repo, bare]);
    expect(await authenticate({ dir: bare, introduction, to: 'main' })).toMatchObject({ ok: true, checked: 2 });
  });

  test('parseIntroduction accepts SSH and OpenPGP fingerprints and rejects junk', () => {
    expect(parseIntroduction(`ABCDEF1234:${alice.fingerprint}`)).toEqual({ commit: 'abcdef1234', fingerprint: alice.fingerprint });
    expect(parseIntroduction(`abcdef1234:${pgpEd.fingerprint.toLowerCase()}`).fingerprint).toBe(pgpEd.fingerprint);
    expect(() => parseIntroduction('abc')).toThrow(/COMMIT:FINGERPRINT/);
    expect(() => parseIntroduction('abcdef12:SHA256:short')).toThrow(/not a key fingerprint/);
  });
});

describe('annotated tags', () => {
  test('signed tags verify against the tagged commit\'s authorizations', async () => {
    const { repo } = repoWith([alice, pgpRsa]);
    change(repo, alice, 'release');
    gitTagSigned(repo, alice, 'v1-ssh', 'release ssh');
    gitTagSigned(repo, pgpRsa, 'v1-pgp', 'release pgp');
    gitTagSigned(repo, mallory, 'v1-evil', 'evil');
    expect(await verifyTag(repo, 'v1-ssh')).toMatchObject({ ok: true, auth: { fingerprint: alice.fingerprint, scheme: 'ssh' } });
    expect(await verifyTag(repo, 'v1-pgp')).toMatchObject({ ok: true, auth: { fingerprint: pgpRsa.fingerprint, scheme: 'openpgp' } });
    expect(await verifyTag(repo, 'v1-evil')).toMatchObject({ ok: false, refusal: { reason: 'NotAuthorized', fingerprint: mallory.fingerprint } });
    git(repo, ['tag', 'light']);
    expect(await verifyTag(repo, 'light')).toMatchObject({ ok: false, refusal: { reason: 'Unsigned' } });
  });
});
