// Trust-gate throughput: authenticate a 200-commit range signed with SSH
// ed25519 and with OpenPGP ed25519, cold (no cache) and warm (cache hit).
// Run: npx tsc -p tsconfig.json && node dist/bench/trust.js
// Writes bench/results/trust.json.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { authenticate } from '../reconciler/trust/index.js';

const COMMITS = 200;

function sh(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}, input?: string): string {
  return execFileSync(cmd, args, { cwd, env: { ...process.env, ...env }, input }).toString().trim();
}

interface Signer { gitArgs: string[]; env: Record<string, string>; fingerprint: string; auth: string; keyFile?: [string, string] }

function sshSigner(dir: string): Signer {
  const key = path.join(dir, 'id_ed25519');
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench', '-f', key], dir);
  const pub = fs.readFileSync(`${key}.pub`, 'utf8').trim().split(' ');
  const fingerprint = sh('ssh-keygen', ['-l', '-f', `${key}.pub`], dir).split(/\s+/)[1]!;
  return {
    gitArgs: ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${key}`], env: {}, fingerprint,
    auth: `spec:\n  ssh:\n    - 'bench namespaces="git" ${pub[0]} ${pub[1]}'\n`,
  };
}

function pgpSigner(dir: string): Signer {
  const home = fs.mkdtempSync(path.join(dir, 'g'));
  fs.chmodSync(home, 0o700);
  const env = { GNUPGHOME: home };
  sh('gpg', ['--batch', '--gen-key'], dir, env, '%no-protection\nKey-Type: eddsa\nKey-Curve: ed25519\nName-Real: bench\nExpire-Date: 0\n%commit\n');
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(sh('gpg', ['--with-colons', '--list-keys'], dir, env))![1]!;
  return {
    gitArgs: ['-c', 'gpg.format=openpgp', '-c', `user.signingkey=${fingerprint}`], env, fingerprint,
    auth: `spec:\n  openpgp:\n    - {principal: bench, fingerprint: ${fingerprint}, key: .bpfleet/keys/bench.asc}\n`,
    keyFile: ['.bpfleet/keys/bench.asc', sh('gpg', ['--armor', '--export', fingerprint], dir, env)],
  };
}

async function measure(name: string, make: (dir: string) => Signer): Promise<Record<string, number | string>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bpfleet-bench-${name}-`));
  try {
    const s = make(dir);
    const repo = path.join(dir, 'repo');
    const g = ['-c', 'user.name=b', '-c', 'user.email=b@example.invalid', ...s.gitArgs];
    sh('git', ['init', '-q', '-b', 'main', repo], dir);
    fs.mkdirSync(path.join(repo, '.bpfleet/keys'), { recursive: true });
    fs.writeFileSync(path.join(repo, '.bpfleet/authorizations'), `apiVersion: bpfleet.dev/v1\nkind: Authorizations\n${s.auth}`);
    if (s.keyFile) fs.writeFileSync(path.join(repo, s.keyFile[0]), s.keyFile[1]);
    fs.writeFileSync(path.join(repo, 'f'), '0\n');
    sh('git', ['add', '-A'], repo);
    sh('git', [...g, 'commit', '-q', '-S', '-m', 'intro'], repo, s.env);
    const intro = sh('git', ['rev-parse', 'HEAD'], repo);
    for (let i = 1; i < COMMITS; i++) {
      fs.writeFileSync(path.join(repo, 'f'), `${i}\n`);
      sh('git', [...g, 'commit', '-q', '-S', '-a', '-m', `c${i}`], repo, s.env);
    }
    const cacheFile = path.join(dir, 'cache.json');
    const opts = { dir: repo, introduction: { commit: intro, fingerprint: s.fingerprint }, to: 'HEAD', cacheFile };
    let t = process.hrtime.bigint();
    const cold = await authenticate(opts);
    const coldMs = Number(process.hrtime.bigint() - t) / 1e6;
    t = process.hrtime.bigint();
    const warm = await authenticate(opts);
    const warmMs = Number(process.hrtime.bigint() - t) / 1e6;
    if (!cold.ok || cold.checked !== COMMITS || !warm.ok || warm.checked !== 0) throw new Error(`${name}: unexpected ${JSON.stringify(cold)}`);
    if (s.env.GNUPGHOME) sh('gpgconf', ['--kill', 'gpg-agent'], dir, s.env);
    return { scheme: name, commits: COMMITS, coldMs: Math.round(coldMs), perCommitMs: Number((coldMs / COMMITS).toFixed(3)), warmCachedMs: Math.round(warmMs) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const results = [await measure('ssh-ed25519', sshSigner), await measure('openpgp-ed25519', pgpSigner)];
const out = { node: process.version, cpus: os.cpus().length, results };
fs.mkdirSync('bench/results', { recursive: true });
fs.writeFileSync('bench/results/trust.json', JSON.stringify(out, null, 2) + '\n');
console.log(JSON.stringify(out, null, 2));
