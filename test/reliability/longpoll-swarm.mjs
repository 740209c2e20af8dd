// Child process: holds N long-polls open against one host's desired state
// (raw sockets, so thousands cost little here). Prints {"parked":N,...} once
// every request is written, then {"replies":...} when told to stop (SIGTERM).
// Usage: node longpoll-swarm.mjs PORT HOST TOKEN ETAG N
import { connect } from 'node:net';

const [port, host, token, etag, n] = process.argv.slice(2);
const N = Number(n);
const req = `GET /v1/hosts/${host}/desired?wait=55 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nIf-None-Match: "${etag}"\r\n\r\n`;
const sockets = [];
let written = 0, errors = 0, replies = 0, closed = 0;
const byStatus = {};
function open() {
  const s = connect(Number(port), '127.0.0.1', () => {
    s.write(req, () => {
      written++;
      if (written + errors === N) process.stdout.write(JSON.stringify({ parked: written, errors }) + '\n');
    });
  });
  s.on('data', (d) => {
    replies++;
    const st = /^HTTP\/1\.1 (\d{3})/.exec(d.toString('latin1'))?.[1] ?? 'other';
    byStatus[st] = (byStatus[st] ?? 0) + 1;
  });
  s.on('error', () => { errors++; if (written + errors === N) process.stdout.write(JSON.stringify({ parked: written, errors }) + '\n'); });
  s.on('close', () => closed++);
  sockets.push(s);
}
// Open in batches so the listen backlog is not overrun.
let opened = 0;
const batch = () => {
  for (let i = 0; i < 500 && opened < N; i++, opened++) open();
  if (opened < N) setTimeout(batch, 20);
};
batch();
process.on('SIGTERM', () => {
  process.stdout.write(JSON.stringify({ replies, byStatus, closed, errors }) + '\n');
  for (const s of sockets) s.destroy();
  process.exit(0);
});
