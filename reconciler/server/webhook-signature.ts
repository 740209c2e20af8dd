// GitHub-style webhook authentication: X-Hub-Signature-256: sha256=<hex of
// HMAC-SHA256(secret, raw body)>, compared in constant time. A valid webhook
// is only a hint to fetch now; its content is never used (Git is the truth).

import { createHmac, timingSafeEqual } from 'node:crypto';

export function webhookSignature(secret: string | Uint8Array, body: Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function verifyWebhookSignature(secret: string | Uint8Array, body: Uint8Array, header: string | undefined): boolean {
  if (!header || !/^sha256=[0-9a-f]{64}$/.test(header)) return false;
  const expected = Buffer.from(webhookSignature(secret, body));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
