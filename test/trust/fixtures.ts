// Builders for signed Git repositories at test time: real git, ssh-keygen and
// gpg, keys generated into temp dirs (never committed). General enough for
// other areas to build signed fleet repositories:
//
//   const dir = tempDir('fleet-');
//   const alice = makeSshSigner(dir, 'ed25519', 'alice');
//   const repo = initRepo(path.join(dir, 'repo'));
//   writeAuthorizations(repo, [alice]);
//   const intro = gitCommitSigned(repo, alice, 'introduce');
//   // introduction: `${intro}:${alice.fingerprint}`

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type SshKeyKind = 'ed25519' | 'ecdsa-256' | 'ecdsa-384' | 'ecdsa-521' | 'rsa';
export type GpgKeyKind = 'ed25519' | 'rsa' | 'ed25519-subkey';

interface SignerBase {
  principal: string;
  fingerprint: string;
  /** `git -c …` arguments that make `git commit -S` sign with this key. */
  gitArgs: string[];
  env: Record<string, string>;
}
export interface SshSigner extends SignerBase {
  scheme: 'ssh';
  kind: SshKeyKind;
  keyFile: string;
  /** "<type> <base64> <comment>" */
  publicKey: string;
  /** Line for allowed_signers / spec.ssh. */
  allowedSignersLine: string;
}
export interface GpgSigner extends SignerBase {
  scheme: 'openpgp';
  kind: GpgKeyKind;
  home: string;
  armoredPublicKey: string;
  /** Repository path the armored key is written to by writeAuthorizations. */
  keyPath: string;
}
export type Signer = SshSigner | GpgSigner;

export function tempDir(prefix = 'bpfleet-trust-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function run(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string>; input?: string | Buffer } = {}): string {
  return execFileSync(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    input: opts.input,
    stdio: ['pipe', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  }).toString('utf8');
}

const IDENTITY = ['-c', 'user.name=Fleet Tester', '-c', 'user.email=tester@example.invalid', '-c', 'init.defaultBranch=main'];

export function git(repo: string, args: string[], opts: { env?: Record<string, string>; input?: string | Buffer } = {}): string {
  return run('git', [...IDENTITY, '-c', 'commit.gpgsign=false', '-c', 'tag.gpgsign=false', ...args], { cwd: repo, ...opts }).trim();
}

export function initRepo(dir: string, opts: { bare?: boolean } = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  run('git', [...IDENTITY, 'init', '-q', ...(opts.bare ? ['--bare'] : []), dir]);
  return dir;
}

const SSH_KEYGEN_TYPE: Record<SshKeyKind, string[]> = {
  ed25519: ['-t', 'ed25519'],
  'ecdsa-256': ['-t', 'ecdsa', '-b', '256'],
  'ecdsa-384': ['-t', 'ecdsa', '-b', '384'],
  'ecdsa-521': ['-t', 'ecdsa', '-b', '521'],
  rsa: ['-t', 'rsa', '-b', '3072'],
};

export function makeSshSigner(dir: string, kind: SshKeyKind, principal = `${kind}@example.invalid`): SshSigner {
  const keyFile = path.join(dir, `ssh-${kind}-${principal.replace(/[^A-Za-z0-9]/g, '_')}`);
  run('ssh-keygen', ['-q', ...SSH_KEYGEN_TYPE[kind], '-N', '', '-C', principal, '-f', keyFile]);
  const publicKey = fs.readFileSync(`${keyFile}.pub`, 'utf8').trim();
  // Ground truth from ssh-keygen itself, not from the code under test.
  const fingerprint = run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${keyFile}.pub`]).split(/\s+/)[1]!;
  const [type, b64] = publicKey.split(/\s+/);
  return {
    scheme: 'ssh',
    kind,
    principal,
    keyFile,
    publicKey,
    fingerprint,
    allowedSignersLine: `${principal} namespaces="git" ${type} ${b64} ${principal}`,
    gitArgs: ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${keyFile}`],
    env: {},
  };
}

const GPG_PARAMS: Record<GpgKeyKind, string> = {
  ed25519: 'Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\n',
  rsa: 'Key-Type: RSA\nKey-Length: 2048\nKey-Usage: sign\n',
  'ed25519-subkey':
    'Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: cert\nSubkey-Type: eddsa\nSubkey-Curve: ed25519\nSubkey-Usage: sign\n',
};

export function makeGpgSigner(dir: string, kind: GpgKeyKind, principal = `gpg-${kind}@example.invalid`): GpgSigner {
  const home = fs.mkdtempSync(path.join(dir, 'gpg-'));
  fs.chmodSync(home, 0o700);
  const env = { GNUPGHOME: home };
  const params = `%no-protection\n${GPG_PARAMS[kind]}Name-Real: ${principal}\nName-Email: ${principal}\nExpire-Date: 0\n%commit\n`;
  run('gpg', ['--batch', '--quiet', '--gen-key'], { env, input: params });
  const colons = run('gpg', ['--batch', '--with-colons', '--list-keys'], { env });
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)![1]!;
  const armoredPublicKey = run('gpg', ['--batch', '--armor', '--export', fingerprint], { env });
  return {
    scheme: 'openpgp',
    kind,
    principal,
    home,
    fingerprint,
    armoredPublicKey,
    keyPath: `.bpfleet/keys/${principal.replace(/[^A-Za-z0-9._-]/g, '_')}.asc`,
    gitArgs: ['-c', 'gpg.format=openpgp', '-c', `user.signingkey=${fingerprint}`],
    env,
  };
}

/** Stop the gpg-agent this signer's home started (only that one). */
export function stopGpgAgent(signer: Signer): void {
  if (signer.scheme === 'openpgp') {
    try {
      run('gpgconf', ['--kill', 'gpg-agent'], { env: signer.env });
    } catch {
      // agent never started
    }
  }
}

export function writeFile(repo: string, rel: string, content: string | Buffer): void {
  const file = path.join(repo, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

/** The YAML text of an Authorizations document for these signers. */
export function authorizationsYaml(signers: readonly Signer[]): string {
  const ssh = signers.filter((s): s is SshSigner => s.scheme === 'ssh');
  const pgp = signers.filter((s): s is GpgSigner => s.scheme === 'openpgp');
  const lines = ['apiVersion: bpfleet.dev/v1', 'kind: Authorizations', 'spec:'];
  lines.push(ssh.length ? '  ssh:' : '  ssh: []');
  for (const s of ssh) lines.push(`    - ${JSON.stringify(s.allowedSignersLine)}`);
  lines.push(pgp.length ? '  openpgp:' : '  openpgp: []');
  for (const s of pgp) lines.push(`    - principal: ${JSON.stringify(s.principal)}`, `      fingerprint: ${s.fingerprint}`, `      key: ${s.keyPath}`);
  return lines.join('\n') + '\n';
}

/** Write .bpfleet/authorizations (and OpenPGP key files) into the work tree. */
export function writeAuthorizations(repo: string, signers: readonly Signer[]): void {
  writeFile(repo, '.bpfleet/authorizations', authorizationsYaml(signers));
  for (const s of signers) if (s.scheme === 'openpgp') writeFile(repo, s.keyPath, s.armoredPublicKey);
}

/** allowed_signers file for `git -c gpg.ssh.allowedSignersFile=…`. */
export function writeAllowedSigners(file: string, signers: readonly Signer[]): string {
  const lines = signers.filter((s): s is SshSigner => s.scheme === 'ssh').map((s) => s.allowedSignersLine);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** Stage everything and commit, signed by `signer` (or unsigned when null). Returns the commit id. */
export function gitCommitSigned(repo: string, signer: Signer | null, message: string, opts: { allowEmpty?: boolean } = {}): string {
  git(repo, ['add', '-A']);
  const sign = signer ? [...signer.gitArgs, 'commit', '-S'] : ['commit'];
  git(repo, [...sign, '-q', '--allow-empty', ...(opts.allowEmpty === false ? [] : []), '-m', message], { env: signer?.env ?? {} });
  return git(repo, ['rev-parse', 'HEAD']);
}

/** Merge `branch` into the current branch with a merge commit signed by `signer`. */
export function gitMergeSigned(repo: string, signer: Signer | null, branch: string, message: string): string {
  const sign = signer ? [...signer.gitArgs, 'merge', '-S'] : ['merge'];
  git(repo, [...sign, '-q', '--no-ff', '-m', message, branch], { env: signer?.env ?? {} });
  return git(repo, ['rev-parse', 'HEAD']);
}

/** Signed annotated tag on HEAD. */
export function gitTagSigned(repo: string, signer: Signer, name: string, message: string): string {
  git(repo, [...signer.gitArgs, 'tag', '-s', '-m', message, name], { env: signer.env });
  return git(repo, ['rev-parse', `refs/tags/${name}`]);
}

/** Raw commit object text, e.g. to tamper with it. */
export function catCommit(repo: string, id: string): string {
  return git(repo, ['cat-file', 'commit', id]) + '\n';
}

/** Write a commit object as given (bypassing git's checks) and return its id. */
export function writeCommitObject(repo: string, raw: string): string {
  return git(repo, ['hash-object', '-w', '-t', 'commit', '--literally', '--stdin'], { input: raw });
}

/** The commit text with its gpgsig header removed: what git signs. */
export function commitPayloadText(raw: string): string {
  return raw.replace(/^gpgsig [^\n]*\n(?: [^\n]*\n)*/m, '');
}

/** Put `armored` into `raw` as its gpgsig header (replacing any). */
export function spliceSignature(raw: string, armored: string): string {
  const payload = commitPayloadText(raw);
  const end = payload.indexOf('\n\n');
  const header = 'gpgsig ' + armored.trimEnd().split('\n').join('\n ') + '\n';
  return payload.slice(0, end + 1) + header + payload.slice(end + 1);
}

/** `ssh-keygen -Y sign` over `data` with any namespace. */
export function sshSign(signer: SshSigner, data: string | Buffer, namespace: string): string {
  return run('ssh-keygen', ['-q', '-Y', 'sign', '-n', namespace, '-f', signer.keyFile], { input: data });
}

/** True when `git verify-commit` accepts the commit with these allowed signers. */
export function gitVerifyCommit(repo: string, allowedSignersFile: string, id: string): boolean {
  try {
    git(repo, ['-c', 'gpg.format=ssh', '-c', `gpg.ssh.allowedSignersFile=${allowedSignersFile}`, 'verify-commit', id]);
    return true;
  } catch {
    return false;
  }
}
