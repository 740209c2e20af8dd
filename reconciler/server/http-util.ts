// Small node:http helpers shared by the routes: JSON replies with a stable
// error code, and size-limited body reading.

import type { IncomingMessage, ServerResponse } from 'node:http';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly data: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = err.status === 401 ? { 'www-authenticate': 'Bearer realm="bpfleet"' } : {};
  // A body we refused to read must not be drained: close the connection instead.
  if (err.status === 413) headers.connection = 'close';
  sendJson(res, err.status, { code: err.code, message: err.message, ...err.data }, headers);
}

/** Read the whole body, refusing (413) as soon as it exceeds `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    throw new HttpError(413, 'BodyTooLarge', `request body of ${declared} bytes exceeds the limit of ${limit}`, { limit });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, 'BodyTooLarge', `request body exceeds the limit of ${limit} bytes`, { limit });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, 'MalformedJson', `request body is not JSON: ${(err as Error).message}`);
  }
}
