// Raw HTTP over node:net, for requests no well-behaved client would send:
// dribbled headers, lying lengths, bodies without an end.

import { connect, type Socket } from 'node:net';

export interface RawReply {
  status: number;
  headers: string;
  body: string;
  /** The server closed the connection. */
  closed: boolean;
}

export function rawRequest(port: number, text: string | Buffer, opts: { timeoutMs?: number } = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let buf = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no complete reply within ${opts.timeoutMs ?? 10_000} ms; got ${JSON.stringify(buf.slice(0, 200))}`));
    }, opts.timeoutMs ?? 10_000);
    s.on('data', (d) => (buf += d.toString('latin1')));
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      const [head = '', ...rest] = buf.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, headers: head, body: rest.join('\r\n\r\n'), closed });
    };
    s.on('close', () => finish(true));
    s.on('error', () => undefined);
    s.write(text);
  });
}

/** Opens a socket and sends `text` one byte every `everyMs`; resolves when the server closes it. */
export function dribble(port: number, text: string, everyMs: number): { socket: Socket; closedAfterMs: Promise<number> } {
  const s = connect(port, '127.0.0.1');
  const started = Date.now();
  let i = 0;
  const timer = setInterval(() => {
    if (i < text.length && !s.destroyed) s.write(text[i++]!);
  }, everyMs);
  s.on('error', () => undefined);
  const closedAfterMs = new Promise<number>((r) =>
    s.on('close', () => {
      clearInterval(timer);
      r(Date.now() - started);
    }),
  );
  return { socket: s, closedAfterMs };
}
