import type { Command } from 'commander';
import { hostHistory } from '../../reconciler/audit/history.js';
import { fleetCompileOptions } from '../compile-options.js';
import { fail, printJson, useColour } from '../output.js';

export function registerHistory(program: Command): void {
  program
    .command('history')
    .description("The audit trail: commits that changed each host's desired state, their signers, and when agents applied them.")
    .option('--repo <dir>', 'fleet repository', '.')
    .option('--rev <rev>', 'newest revision to read', 'HEAD')
    .option('--host <host...>', 'only these hosts')
    .option('--state-dir <dir>', "the reconciler's state directory (adds when each agent applied each commit)")
    .option('--json', 'print JSON on stdout')
    .action(async (o: { repo: string; rev: string; host?: string[]; stateDir?: string; json?: boolean }) => {
      try {
        const progress = process.stderr.isTTY ? (done: number, total: number) => process.stderr.write(`\rreading commit ${done}/${total}${done === total ? '\x1b[K\r' : ''}`) : undefined;
        const hist = await hostHistory({ repo: o.repo, rev: o.rev, hosts: o.host, stateDir: o.stateDir, compileOptions: fleetCompileOptions(), onProgress: progress });
        if (o.json) return printJson(hist);
        const dim = (s: string) => (useColour() ? `\x1b[2m${s}\x1b[0m` : s);
        if (!hist.length) process.stdout.write('no host has any history at this revision\n');
        for (const h of hist) {
          process.stdout.write(`${h.host}\n`);
          for (const e of h.entries) {
            const who = e.signer ? `${e.signer.principal ?? '?'} ${dim(e.signer.fingerprint)}` : 'UNSIGNED';
            const what = e.change === 'changed' ? e.hooks.map((k) => `${k.iface}/${k.hook} ${k.kind}`).join(', ') : `host ${e.change}`;
            const applied = e.applied.length ? e.applied.map((a) => `applied ${a.receivedAt} (gen ${a.generation}${a.result ? `, ${a.result}` : ''})`).join('; ') : o.stateDir ? 'not applied' : '';
            process.stdout.write(`  ${e.commit.slice(0, 12)}  ${e.date}  ${who}\n    ${e.subject}\n    ${what}${applied ? `\n    ${applied}` : ''}\n`);
          }
        }
      } catch (err) {
        fail((err as Error).message);
      }
    });
}
