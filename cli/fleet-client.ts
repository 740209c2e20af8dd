// The operator side of GET /v1/fleet, shared by `status` and `plan --running`:
// the admin token from a file or BPFLEET_TOKEN, a bounded request, and a
// schema check of what came back. Errors are plain messages for stderr.

import { readFile } from 'node:fs/promises';
import { request } from 'undici';
import { validateProtocol, type FleetStatus } from '../schemas/protocol.js';

export async function readAdminToken(tokenFile: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  let token: string | undefined;
  try {
    token = tokenFile ? (await readFile(tokenFile, 'utf8')).trim() : env.BPFLEET_TOKEN?.trim();
  } catch (err) {
    throw new Error(`cannot read --token-file ${tokenFile}: ${(err as Error).message}`);
  }
  if (!token) throw new Error('no token: pass --token-file or set BPFLEET_TOKEN (the admin token)');
  return token;
}

export async function fetchFleetStatus(server: string, token: string, opts: { timeoutMs: number; hooks?: boolean }): Promise<FleetStatus> {
  const base = server.replace(/\/+$/, '');
  let res;
  let text: string;
  try {
    res = await request(`${base}/v1/fleet${opts.hooks ? '?hooks=1' : ''}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(opts.timeoutMs) });
    text = await res.body.text();
  } catch (err) {
    throw new Error(`cannot reach ${base}: ${(err as Error).message}`);
  }
  if (res.statusCode !== 200) {
    let reason = '';
    try {
      const body = JSON.parse(text) as { code?: string; message?: string };
      reason = `${body.code ?? ''}${body.message ? `: ${body.message}` : ''}`;
    } catch {
      /* not JSON */
    }
    throw new Error(`${base}/v1/fleet answered ${res.statusCode}${reason ? ` ${reason}` : ''}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${base}/v1/fleet returned something that is not JSON`);
  }
  const v = validateProtocol('FleetStatus', parsed);
  if (!v.ok) throw new Error(`${base}/v1/fleet returned an unexpected document: ${v.errors.join('; ')}`);
  return v.value;
}
