import type { Command } from 'commander';
import { compileFleet } from '../../reconciler/compile/compile-fleet.js';
import { formatDiagnostic } from '../../reconciler/manifests/diagnostic.js';
import { openRevision } from '../../reconciler/manifests/git-tree.js';
import { fleetCompileOptions } from '../compile-options.js';
import { fail, printJson } from '../output.js';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('Validate the fleet repository at a revision (manifests, parameters, object digests). Exit 0 valid, 1 invalid.')
    .option('--repo <dir>', 'fleet repository (a Git work tree or bare repository)', '.')
    .option('--rev <rev>', 'revision to validate (any git revision syntax)', 'HEAD')
    .option('--json', 'print a JSON report on stdout')
    .action(async (o: { repo: string; rev: string; json?: boolean }) => {
      let tree;
      try {
        tree = await openRevision(o.repo, o.rev);
      } catch (err) {
        if (o.json) printJson({ valid: false, error: (err as Error).message, diagnostics: [] });
        return fail((err as Error).message);
      }
      const result = await compileFleet(tree, fleetCompileOptions());
      if (o.json) {
        printJson({
          valid: result.ok,
          commit: tree.commit,
          hosts: result.ok ? Object.keys(result.fleet.hosts).length : undefined,
          objects: result.ok ? Object.keys(result.fleet.objects).length : undefined,
          diagnostics: result.diagnostics,
        });
      } else if (result.ok) {
        const n = Object.keys(result.fleet.hosts).length;
        process.stdout.write(`valid: ${tree.commit.slice(0, 12)}: ${n} host(s), ${Object.keys(result.fleet.objects).length} object(s) in use\n`);
      } else {
        for (const d of result.diagnostics) process.stderr.write(formatDiagnostic(d) + '\n');
        process.stderr.write(`invalid: ${result.diagnostics.length} problem(s) at ${tree.commit.slice(0, 12)}\n`);
      }
      process.exitCode = result.ok ? 0 : 1;
    });
}
