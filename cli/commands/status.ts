// `bpfleet status`: the fleet as the reconciler sees it — per host the desired
// and applied commit, the summarised state and when it last reported — plus
// the trust gate's verdict. Exit 0 all converged, 2 some not (or the trust gate
// refused the head, or a head waits for its objects), 1 on error.

import type { Command } from 'commander';
import type { FleetStatus, HostState } from '../../schemas/protocol.js';
import { fetchFleetStatus, readAdminToken } from '../fleet-client.js';
import { useColour } from '../output.js';

export interface StatusOptions {
  server: string;
  tokenFile?: string;
  json?: boolean;
  timeout?: string;
}

export interface StatusIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  colour: boolean;
  env: NodeJS.ProcessEnv;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('Show every host: desired vs applied commit, state, last report; and the trust gate. Exit 0 all converged, 2 some not, 1 error.')
    .requiredOption('--server <url>', 'reconciler base URL, e.g. http://127.0.0.1:7443')
    .option('--token-file <file>', 'file holding the admin token (default: env BPFLEET_TOKEN)')
    .option('--timeout <seconds>', 'give up after this many seconds', '10')
    .option('--json', 'print the fleet status JSON as the reconciler returned it')
    .action(async (o: StatusOptions) => {
      process.exitCode = await runStatus(o, {
        stdout: (s) => process.stdout.write(s),
        stderr: (s) => process.stderr.write(s),
        colour: useColour(),
        env: process.env,
      });
    });
}

/** The command without commander or process globals (tests call this). */
export async function runStatus(o: StatusOptions, io: StatusIo): Promise<number> {
  const fail = (msg: string) => {
    io.stderr(`bpfleet: ${msg}\n`);
    return 1;
  };
  const timeoutMs = Number(o.timeout ?? 10) * 1000;
  if (!(timeoutMs > 0)) return fail(`--timeout: expected a positive number of seconds, got "${o.timeout}"`);
  let status: FleetStatus;
  try {
    status = await fetchFleetStatus(o.server, await readAdminToken(o.tokenFile, io.env), { timeoutMs });
  } catch (err) {
    return fail((err as Error).message);
  }

  if (o.json) io.stdout(`${JSON.stringify(status, null, 2)}\n`);
  else io.stdout(renderStatus(status, io.colour));
  const allConverged = status.hosts.every((h) => h.state === 'converged');
  return allConverged && status.trust.status !== 'refused' && !status.pending ? 0 : 2;
}

const COLOURS: Record<HostState, string> = { converged: '32', applying: '33', drifted: '35', error: '31', unreachable: '31', unmanaged: '35' };

/** Pure: the table and summary lines for a fleet status. */
export function renderStatus(s: FleetStatus, colour: boolean): string {
  const paint = (code: string, text: string) => (colour ? `\x1b[${code}m${text}\x1b[0m` : text);
  const now = Date.parse(s.generatedAt);
  const rows = s.hosts.map((h) => [
    h.host,
    short(h.desired?.commit),
    short(h.reported?.commit),
    h.state,
    h.reported ? `${age(now - Date.parse(h.reported.receivedAt))} ago` : 'never',
    h.state === 'converged' ? '' : h.reported?.error ? `${h.reason}: ${h.reported.error.code}` : h.reason,
  ]);
  const header = ['HOST', 'DESIRED', 'APPLIED', 'STATE', 'LAST SEEN', 'REASON'];
  const widths = header.map((t, i) => Math.max(t.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[], paintState: boolean) =>
    cells
      .map((c, i) => {
        const padded = c.padEnd(widths[i]!);
        return paintState && i === 3 ? paint(COLOURS[c as HostState] ?? '0', padded) : padded;
      })
      .join('  ')
      .trimEnd();
  const out = [line(header, false), ...rows.map((r) => line(r, true))];
  out.push('', summaryLine(s, paint));
  if (s.trust.status !== 'authenticated') out.push(trustLine(s, paint));
  if (s.pending) out.push(`${paint('33', `head ${short(s.pending.commit)} pending`)} (${s.pending.reason}, since ${s.pending.since}): ${s.pending.message}`);
  return `${out.join('\n')}\n`;
}

function summaryLine(s: FleetStatus, paint: (c: string, t: string) => string): string {
  const order: HostState[] = ['converged', 'applying', 'drifted', 'error', 'unreachable', 'unmanaged'];
  const parts = order.filter((st) => s.summary.byState[st]).map((st) => paint(COLOURS[st], `${s.summary.byState[st]} ${st}`));
  const head = `${s.summary.total} host${s.summary.total === 1 ? '' : 's'}`;
  return parts.length ? `${head}: ${parts.join(', ')}` : `${head}`;
}

function trustLine(s: FleetStatus, paint: (c: string, t: string) => string): string {
  const t = s.trust;
  if (t.status === 'pending') return 'trust gate: pending (no commit authenticated yet)';
  const what = [t.reason, t.commit ? `at ${short(t.commit)}` : undefined].filter(Boolean).join(' ');
  const last = t.lastAuthenticatedCommit ? `; fleet stays on ${short(t.lastAuthenticatedCommit)}` : '';
  return `${paint('31', 'trust gate: refused')}${what ? ` (${what})` : ''}${t.message ? `: ${t.message}` : ''}${last}`;
}

const short = (c: string | null | undefined) => (c ? c.slice(0, 12) : '-');

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}
