// `bpfleet verify`: run the trust gate once over a local repository.
// Exit 0 when every commit up to the head is authentic, 1 when refused
// (2 for usage/operational errors such as an unknown revision).

import type { Command } from 'commander';
import { authenticate, parseIntroduction, type AuthResult } from '../../reconciler/trust/index.js';

interface VerifyFlags {
  repo: string;
  introduction: string;
  since?: string;
  to: string;
  allowDowngrade?: boolean;
  cache?: string;
  json?: boolean;
}

export function formatVerifyResult(r: AuthResult): { stdout: string; stderr: string } {
  if (r.ok) {
    return {
      stdout: `${r.checked} commits authenticated (${r.cached} from cache), head ${r.head}\n`,
      stderr: '',
    };
  }
  const { refusal } = r;
  // Messages start with "commit <short> (<subject>): ..." already.
  const [subject, ...rest] = refusal.message.split(': ');
  return { stdout: '', stderr: `${subject}: ${refusal.reason}: ${rest.join(': ')}\n` };
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('authenticate every commit from the introduction (or the cache) to a head')
    .option('--repo <dir>', 'git working directory or bare repository', '.')
    .requiredOption('--introduction <commit:fingerprint>', 'where trust starts: commit id and the fingerprint of its signing key')
    .option('--since <rev>', 'last applied commit; the head must descend from it')
    .option('--to <rev>', 'head to authenticate', 'HEAD')
    .option('--allow-downgrade', 'accept a head that does not descend from --since')
    .option('--cache <file>', 'JSON cache of authenticated commit ids')
    .option('--json', 'print the result as JSON on stdout')
    .action(async (flags: VerifyFlags) => {
      let result: AuthResult;
      try {
        result = await authenticate({
          dir: flags.repo,
          introduction: parseIntroduction(flags.introduction),
          to: flags.to,
          ...(flags.since !== undefined ? { since: flags.since } : {}),
          ...(flags.allowDowngrade ? { allowDowngrade: true } : {}),
          ...(flags.cache !== undefined ? { cacheFile: flags.cache } : {}),
        });
      } catch (e) {
        const err = e as Error & { code?: string };
        if (flags.json) process.stdout.write(JSON.stringify({ ok: false, error: { code: err.code ?? 'Error', message: err.message } }) + '\n');
        else process.stderr.write(`bpfleet verify: ${err.message}\n`);
        process.exitCode = 2;
        return;
      }
      if (flags.json) process.stdout.write(JSON.stringify(result) + '\n');
      else {
        const out = formatVerifyResult(result);
        process.stdout.write(out.stdout);
        process.stderr.write(out.stderr);
      }
      process.exitCode = result.ok ? 0 : 1;
    });
}
