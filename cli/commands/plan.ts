import type { Command } from 'commander';
import { compileFleet } from '../../reconciler/compile/compile-fleet.js';
import { formatDiagnostic } from '../../reconciler/manifests/diagnostic.js';
import { openRevision } from '../../reconciler/manifests/git-tree.js';
import { hasChanges, planFleet } from '../../reconciler/plan/plan.js';
import { planFleetAgainstRunning } from '../../reconciler/plan/plan-running.js';
import { renderMarkdown, renderText } from '../../reconciler/plan/render.js';
import { fleetCompileOptions } from '../compile-options.js';
import { fetchFleetStatus, readAdminToken } from '../fleet-client.js';
import { fail, printJson, useColour } from '../output.js';

interface PlanOpts {
  repo: string;
  from?: string;
  to: string;
  format: string;
  json?: boolean;
  running?: boolean;
  server?: string;
  tokenFile?: string;
  timeout: string;
}

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description('Show, per host, interface and hook, what changes between two revisions — or between a revision and what the agents run (--running). Exit 0 no change, 2 changes, 1 error.')
    .option('--repo <dir>', 'fleet repository', '.')
    .option('--from <rev>', 'the revision running now (omit for a first roll-out)')
    .option('--running', 'compare with what each agent last reported running (needs --server and the admin token)')
    .option('--server <url>', 'reconciler base URL, for --running')
    .option('--token-file <file>', 'file holding the admin token, for --running (default: env BPFLEET_TOKEN)')
    .option('--timeout <seconds>', 'give up on the reconciler after this many seconds', '10')
    .option('--to <rev>', 'the revision to roll out', 'HEAD')
    .option('--format <format>', 'text | json | markdown (a pull-request comment)', 'text')
    .option('--json', 'same as --format json')
    .action(async (o: PlanOpts) => {
      const format = o.json ? 'json' : o.format;
      if (!['text', 'json', 'markdown'].includes(format)) return fail(`--format: expected text, json or markdown, got "${format}"`);
      if (o.running && o.from) return fail('--running and --from: choose one (what runs, or a revision)');
      if (o.running && !o.server) return fail('--running needs --server <url>');
      const timeoutMs = Number(o.timeout) * 1000;
      if (!(timeoutMs > 0)) return fail(`--timeout: expected a positive number of seconds, got "${o.timeout}"`);
      try {
        const to = await openRevision(o.repo, o.to);
        const target = await compileFleet(to, fleetCompileOptions());
        if (!target.ok) {
          for (const d of target.diagnostics) process.stderr.write(formatDiagnostic(d) + '\n');
          if (format === 'json') printJson({ error: 'invalid', commit: to.commit, diagnostics: target.diagnostics });
          return fail(`--to ${o.to} (${to.commit.slice(0, 12)}) is invalid: ${target.diagnostics.length} problem(s)`);
        }
        let current;
        if (o.from) {
          const from = await openRevision(o.repo, o.from);
          const compiled = await compileFleet(from, fleetCompileOptions());
          if (!compiled.ok) {
            process.stderr.write(`bpfleet: warning: --from ${o.from} (${from.commit.slice(0, 12)}) is invalid; planning as a first roll-out\n`);
          } else current = compiled.fleet;
        }
        let plan;
        if (o.running) {
          const fleet = await fetchFleetStatus(o.server!, await readAdminToken(o.tokenFile, process.env), { timeoutMs, hooks: true });
          // A reconciler that predates ?hooks=1 answers without them: that is not "runs nothing".
          if (fleet.hosts.some((h) => h.reported && !h.reported.hooks)) return fail(`${o.server} does not report what hosts run (GET /v1/fleet?hooks=1); upgrade the reconciler`);
          for (const h of fleet.hosts.filter((x) => x.state === 'unreachable' && x.reported)) {
            process.stderr.write(`bpfleet: warning: ${h.host} last reported at ${h.reported!.reportedAt} (${h.reason}); planning against what it ran then\n`);
          }
          plan = planFleetAgainstRunning(
            target.fleet,
            fleet.hosts.map((h) => ({ host: h.host, commit: h.reported?.commit ?? null, hooks: h.reported ? (h.reported.hooks ?? []) : null })),
          );
        } else plan = planFleet(current, target.fleet);
        if (format === 'json') printJson(plan);
        else if (format === 'markdown') process.stdout.write(renderMarkdown(plan));
        else process.stdout.write(renderText(plan, useColour()));
        process.exitCode = hasChanges(plan) ? 2 : 0;
      } catch (err) {
        fail((err as Error).message);
      }
    });
}
