// A tiny reconciler impostor (node:http) for agent-side attacks: it answers
// the desired-state long-poll with whatever the test sets, serves objects
// (optionally lying about their bytes) and records every status report.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StatusReport } from '../../schemas/protocol.js';

export type Reply = { status: number; body: Buffer | string; etag?: string; dripMs?: number } | null;

export interface FakeReconciler {
  url: string;
  /** What GET …/desired answers now; null = hold 1 s, then 304. */
  reply: Reply;
  objects: Map<string, Uint8Array>;
  reports: StatusReport[];
  desiredRequests: number;
  close(): Promise<void>;
}

export async function startFakeReconciler(): Promise<FakeReconciler> {
  const fake: FakeReconciler = { url: '', reply: null, objects: new Map(), reports: [], desiredRequests: 0, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    if (req.method === 'POST' && path.endsWith('/status')) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          fake.reports.push(JSON.parse(Buffer.concat(chunks).toString()) as StatusReport);
        } catch {
          /* ignore */
        }
        res.writeHead(204).end();
      });
      return;
    }
    const obj = /^\/v1\/objects\/([0-9a-f]{64})$/.exec(path);
    if (obj) {
      const b = fake.objects.get(obj[1]!);
      if (!b) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': b.length }).end(b);
      return;
    }
    if (path.endsWith('/desired')) {
      fake.desiredRequests++;
      const r = fake.reply;
      if (!r) {
        const t = setTimeout(() => res.writeHead(304).end(), 1000);
        res.on('close', () => clearTimeout(t));
        return;
      }
      const body = Buffer.from(r.body);
      res.writeHead(r.status, { 'content-type': 'application/json', ...(r.etag ? { etag: r.etag } : {}), ...(r.dripMs ? {} : { 'content-length': body.length }) });
      if (!r.dripMs) return void res.end(body);
      let i = 0;
      const t = setInterval(() => {
        if (i >= body.length || res.destroyed) {
          clearInterval(t);
          res.end();
          return;
        }
        res.write(body.subarray(i, i + 64));
        i += 64;
      }, r.dripMs);
      res.on('close', () => clearInterval(t));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return fake;
}
