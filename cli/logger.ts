// Structured logs: JSON lines (pino) for machines; a short human line on a TTY.
// Callers pass ids (commit, host, iface, hook) as fields, never tokens.

import { destination, pino, type Logger } from 'pino';
import { Writable } from 'node:stream';

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const COLOURS: Record<string, number> = { trace: 90, debug: 90, info: 36, warn: 33, error: 31, fatal: 41 };

function humanStream(colour: boolean): Writable {
  return new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        try {
          const { level, time, msg, pid: _pid, hostname: _h, name, ...rest } = JSON.parse(line) as Record<string, unknown>;
          const lv = LEVELS[level as number] ?? String(level);
          const t = new Date(time as number).toISOString().slice(11, 23);
          const fields = Object.entries(rest)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          const tag = colour ? `\x1b[${COLOURS[lv] ?? 0}m${lv.padEnd(5)}\x1b[0m` : lv.padEnd(5);
          process.stderr.write(`${t} ${tag} ${name ? `[${name}] ` : ''}${msg ?? ''}${fields ? `  ${fields}` : ''}\n`);
        } catch {
          process.stderr.write(line + '\n');
        }
      }
      done();
    },
  });
}

export function createLogger(name: string, level = 'info'): Logger {
  const tty = Boolean(process.stderr.isTTY) && process.env.BPFLEET_LOG_FORMAT !== 'json';
  const human = tty || process.env.BPFLEET_LOG_FORMAT === 'text';
  return pino(
    { name, level, redact: { paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization'], censor: '[redacted]' } },
    human ? humanStream(tty && !process.env.NO_COLOR) : destination(2),
  );
}
