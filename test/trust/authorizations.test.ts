import * as fs from 'node:fs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { formatProblem, parseAuthorizations } from '../../reconciler/trust/index.js';
import { makeSshSigner, tempDir, type SshSigner } from './fixtures.js';

let root: string;
let alice: SshSigner;
beforeAll(() => {
  root = tempDir('bpfleet-trust-auth-');
  alice = makeSshSigner(root, 'ecdsa-256', 'alice');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const FPR = '0123456789abcdef0123456789ABCDEF01234567';

test('a valid document parses; SSH fingerprints match ssh-keygen, OpenPGP ones are upper-cased', () => {
  const text = [
    'apiVersion: bpfleet.dev/v1',
    'kind: Authorizations',
    'spec:',
    '  ssh:',
    `    - '${alice.allowedSignersLine}'`,
    '  openpgp:',
    '    - principal: bob',
    `      fingerprint: ${FPR}`,
    '      key: .bpfleet/keys/bob.asc',
  ].join('\n');
  const r = parseAuthorizations(text, 'auth.yaml');
  expect(r.ok).toBe(true);
  if (!r.ok) return;
  expect(r.value.ssh).toEqual([
    expect.objectContaining({ principals: 'alice', fingerprint: alice.fingerprint, keyType: 'ecdsa-sha2-nistp256', namespaces: ['git'] }),
  ]);
  expect(r.value.openpgp).toEqual([{ principal: 'bob', fingerprint: FPR.toUpperCase(), key: '.bpfleet/keys/bob.asc' }]);
});

test('errors name file:line:col and what was expected', () => {
  const text = [
    'apiVersion: bpfleet.dev/v1',
    'kind: Authorisations',
    'spec:',
    '  openpgp:',
    '    - principal: bob',
    '      fingerprint: 1234',
    '      key: keys/bob.asc',
    '    - principal: carol',
    '      fingerprint: \'12345\'',
    '      key: .bpfleet/keys/carol.asc',
    '  extra: 1',
  ].join('\n');
  const r = parseAuthorizations(text, 'repo/.bpfleet/authorizations');
  expect(r.ok).toBe(false);
  if (r.ok) return;
  const lines = r.errors.map(formatProblem);
  expect(lines).toEqual([
    'repo/.bpfleet/authorizations:2:7: must be "Authorizations"',
    'repo/.bpfleet/authorizations:6:20: must be a string; quote the value (YAML read it as a number or boolean)',
    'repo/.bpfleet/authorizations:7:12: key must be a path .bpfleet/keys/<name>.asc',
    'repo/.bpfleet/authorizations:9:20: fingerprint must be 40 hexadecimal digits (the primary key fingerprint, as `gpg --fingerprint` prints it)',
    'repo/.bpfleet/authorizations:11:3: unknown field "extra"',
  ]);
});

test('a bad allowed_signers line points at the offending token', () => {
  const [type, b64] = alice.publicKey.split(' ');
  const broken = `${b64!.slice(0, 40)}x${b64!.slice(41)}`;
  const text = `apiVersion: bpfleet.dev/v1\nkind: Authorizations\nspec:\n  ssh:\n    - alice cert-authority ${type} ${b64}\n    - "bob ${type} ${broken}"\n`;
  const r = parseAuthorizations(text, 'a');
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.errors.map(formatProblem)).toEqual([
    'a:5:13: invalid allowed_signers line: unsupported option "cert-authority"; expected namespaces="git" (or a key type: ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, ssh-rsa)',
    expect.stringMatching(/^a:6:\d+: invalid allowed_signers line: invalid public key/),
  ]);
  const col = Number(/^a:6:(\d+)/.exec(formatProblem(r.errors[1]!))![1]);
  expect(col).toBe(8 + 'bob '.length + type!.length + 1);
});

test('YAML syntax errors and duplicate fingerprints are reported with positions', () => {
  const bad = parseAuthorizations('spec: [\n', 'x');
  expect(bad.ok).toBe(false);
  if (!bad.ok) expect(bad.errors[0]!.message).toMatch(/^YAML syntax/);
  const dup = parseAuthorizations(
    `apiVersion: bpfleet.dev/v1\nkind: Authorizations\nspec:\n  openpgp:\n    - {principal: a, fingerprint: ${FPR}, key: .bpfleet/keys/a.asc}\n    - {principal: b, fingerprint: ${FPR.toLowerCase()}, key: .bpfleet/keys/b.asc}\n`,
    'x',
  );
  expect(dup.ok).toBe(false);
  if (!dup.ok) expect(dup.errors.map(formatProblem)).toEqual([expect.stringMatching(/^x:6:\d+: fingerprint already listed at \/spec\/openpgp\/0$/)]);
});
