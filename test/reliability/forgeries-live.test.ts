// Forgeries and hostile content pushed at a running fleet (reconciler + sim
// agents as real processes): each is refused with its reason in status,
// nothing is published, every host stays converged on the last good commit.
// After each case the operator resets the branch to the good commit.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetStatus } from '../../schemas/protocol.js';
import { createHarness, type Harness } from '../e2e/fleet-harness.js';
import { catCommit, commitPayloadText, git, gitCommitSigned, gitMergeSigned, makeSshSigner, spliceSignature, sshSign, writeCommitObject } from '../trust/fixtures.js';
import { commitEdits, hostYaml, type Edit } from './hostile-repo.js';

const HOSTS = ['edge-1', 'edge-2'];
let h: Harness;
let good: string;

beforeAll(async () => {
  h = await createHarness({ hosts: HOSTS, datapath: 'sim' });
  await h.startReconciler();
  for (const x of HOSTS) await h.startAgent(x);
  good = h.introduction;
  await h.waitConverged(good);
}, 60_000);
afterAll(async () => h?.cleanup());

const generations = (f: FleetStatus) => Object.fromEntries(f.hosts.map((x) => [x.host, [x.desired?.generation, x.desired?.commit, x.reported?.generation]]));
const setMain = (id: string) => {
  git(h.repo, ['update-ref', 'refs/heads/main', id]);
  git(h.repo, ['reset', '-q', '--hard', id]);
};

/** Builds commits on a scratch branch: the watched branch must never show an intermediate commit. */
function offMain<T>(build: () => T): T {
  git(h.repo, ['checkout', '-q', '-b', 'scratch']);
  try {
    return build();
  } finally {
    git(h.repo, ['checkout', '-q', '-f', 'main']);
    git(h.repo, ['branch', '-q', '-D', 'scratch']);
  }
}

/** Pushes a bad head, waits for the refusal, checks nothing moved, restores the good head. */
async function refused(push: () => string, reasons: string[], messageHint?: RegExp) {
  const before = generations(await h.fleet());
  const bad = push();
  // Before each push the gate is open on `good`, so any refusal is about this push (the refused
  // commit may be an ancestor of the head, e.g. the unsigned side of a merge).
  const f = await h.waitFor((x) => x.trust.status === 'refused', `refusal of ${bad.slice(0, 10)}`);
  expect(reasons, JSON.stringify(f.trust)).toContain(f.trust.reason);
  expect(f.trust.message).toBeTruthy();
  if (messageHint) expect(f.trust.message).toMatch(messageHint);
  // Give a wrongly published state time to reach the agents before checking.
  await new Promise((r) => setTimeout(r, 400));
  const after = await h.fleet();
  expect(generations(after)).toEqual(before);
  expect(after.hosts.every((x) => x.state === 'converged' && x.reported?.commit === good)).toBe(true);
  setMain(good);
  await h.waitFor((x) => x.trust.status === 'authenticated' && x.trust.commit === good, 'the gate to reopen on the good head');
}

const signedEdits = (message: string, edits: Record<string, Edit>) => () => commitEdits(h.repo, h.signer, message, edits);

describe('forged commits at a running fleet', () => {
  it('a good signed commit moves the fleet (control)', async () => {
    good = commitEdits(h.repo, h.signer, 'edge-2: add a rate limiter', {
      'hosts/edge-2.yaml': (t) => t.replace('          - program: counter@1.0.0', '          - program: ratelimit@1.0.0\n            params: { ratePps: 1000, burst: 2000 }\n          - program: counter@1.0.0'),
    });
    await h.waitConverged(good);
  });

  it('unsigned', () => refused(() => commitEdits(h.repo, null, 'sneak', { 'hosts/edge-1.yaml': (t) => t.replace('ratePps: 200000', 'ratePps: 1') }), ['Unsigned']));

  it('signed by an unknown key', () => {
    const mallory = makeSshSigner(h.dir, 'ed25519', 'mallory@example.org');
    return refused(() => commitEdits(h.repo, mallory, 'mallory', { 'hosts/edge-1.yaml': (t) => t.replace('ratePps: 200000', 'ratePps: 2') }), ['UnknownKey', 'NotAuthorized']);
  });

  it('a key that authorizes itself in the same commit', () => {
    const eve = makeSshSigner(h.dir, 'ed25519', 'eve@example.org');
    return refused(
      () => commitEdits(h.repo, eve, 'eve adds herself', { '.bpfleet/authorizations': (t) => t.replace('  ssh:\n', `  ssh:\n    - ${JSON.stringify(eve.allowedSignersLine)}\n`) }),
      ['UnknownKey', 'NotAuthorized'],
    );
  });

  it('a signature with its bytes flipped', () =>
    refused(() => {
      const c = offMain(() => gitCommitSigned(h.repo, h.signer, 'to be broken'));
      const raw = catCommit(h.repo, c);
      const i = raw.indexOf('-----BEGIN SSH SIGNATURE-----') + 120;
      const bad = writeCommitObject(h.repo, raw.slice(0, i) + (raw[i] === 'A' ? 'B' : 'A') + raw.slice(i + 1));
      setMain(bad);
      return bad;
    }, ['BadSignature', 'UnsupportedSignature']));

  it('a tampered commit (good signature, edited message)', () =>
    refused(() => {
      const c = offMain(() => gitCommitSigned(h.repo, h.signer, 'rate 100'));
      const bad = writeCommitObject(h.repo, catCommit(h.repo, c).replace('rate 100', 'rate 0'));
      setMain(bad);
      return bad;
    }, ['BadSignature']));

  it('a tampered commit (good signature, another tree)', () =>
    refused(() => {
      const c = offMain(() => commitEdits(h.repo, h.signer, 'harmless', { 'hosts/edge-1.yaml': (t) => `${t}# harmless\n` }));
      const evilTree = git(h.repo, ['rev-parse', `${good}^{tree}`]);
      const raw = catCommit(h.repo, c).replace(/^tree [0-9a-f]{40}$/m, `tree ${evilTree}`);
      const bad = writeCommitObject(h.repo, raw);
      setMain(bad);
      return bad;
    }, ['BadSignature']));

  it('an SSH signature made for another namespace', () =>
    refused(() => {
      const c = offMain(() => gitCommitSigned(h.repo, null, 'file namespace'));
      const raw = catCommit(h.repo, c);
      const bad = writeCommitObject(h.repo, spliceSignature(raw, sshSign(h.signer, commitPayloadText(raw), 'file')));
      setMain(bad);
      return bad;
    }, ['WrongNamespace']));

  it('the authorizations file deleted', () => refused(signedEdits('drop authorizations', { '.bpfleet/authorizations': null }), ['AuthorizationsRemoved']));

  it('a force-push back to an older signed commit (downgrade)', () =>
    refused(() => {
      setMain(h.introduction);
      return h.introduction;
    }, ['Downgrade'], /descend/));

  it('a merge of a signed history that does not descend from the introduction', () =>
    refused(() => {
      git(h.repo, ['checkout', '-q', '--orphan', 'foreign']);
      const foreign = gitCommitSigned(h.repo, h.signer, 'foreign root');
      git(h.repo, ['checkout', '-q', '-f', 'main']);
      void foreign;
      git(h.repo, [...h.signer.gitArgs, 'merge', '-S', '-q', '--allow-unrelated-histories', '--no-ff', '-s', 'ours', '-m', 'merge foreign', 'foreign']);
      return git(h.repo, ['rev-parse', 'HEAD']);
    }, ['NotDescendantOfIntroduction']).finally(() => git(h.repo, ['branch', '-q', '-D', 'foreign'])));

  it('a signed merge that brings in an unsigned side commit', () =>
    refused(() => {
      git(h.repo, ['checkout', '-q', '-b', 'side']);
      gitCommitSigned(h.repo, null, 'unsigned side commit');
      git(h.repo, ['checkout', '-q', 'main']);
      return gitMergeSigned(h.repo, h.signer, 'side', 'merge side');
    }, ['Unsigned']).finally(() => git(h.repo, ['branch', '-q', '-D', 'side'])));
});

describe('hostile content in properly signed commits at a running fleet', () => {
  const bomb = 'a: &a [x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\n';
  const cases: [string, Record<string, Edit>][] = [
    ['alias bomb in a host', { 'hosts/edge-1.yaml': bomb }],
    ['empty host manifest', { 'hosts/edge-1.yaml': '' }],
    ['object path through a symlink out of the repository', { 'objects/counter.bpf.o': { symlink: '/etc/passwd' } }],
    ['chain of 33 members', { 'hosts/edge-1.yaml': hostYaml('edge-1', Array(33).fill('counter@1.0.0')) }],
    ['digest mismatch', { 'objects/counter.bpf.o': 'not the object' }],
  ];
  for (const [name, edits] of cases) {
    it(name, () => refused(signedEdits(name, edits), ['InvalidCommit'], /is invalid/));
  }

  it('the fleet still moves on a good signed commit afterwards', async () => {
    good = commitEdits(h.repo, h.signer, 'edge-1: lower the rate', { 'hosts/edge-1.yaml': (t) => t.replace('ratePps: 200000', 'ratePps: 150000') });
    await h.waitConverged(good);
  });
});
