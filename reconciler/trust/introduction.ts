// The introduction: the commit where trust starts and the key that signed it,
// configured out of band as "COMMIT:FINGERPRINT".

import { normalizeFingerprint, type IntroductionRef } from './rule.js';

export class InvalidIntroductionError extends Error {
  readonly code = 'InvalidIntroduction';
  constructor(readonly input: string, detail: string) {
    super(`invalid introduction "${input}": ${detail}; expected COMMIT:FINGERPRINT with FINGERPRINT either SHA256:<base64> (SSH) or 40 hex digits (OpenPGP)`);
  }
}

export function parseIntroduction(text: string): IntroductionRef {
  const t = text.trim();
  const colon = t.indexOf(':');
  if (colon <= 0) throw new InvalidIntroductionError(text, 'no ":" after the commit');
  const commit = t.slice(0, colon);
  const fingerprint = t.slice(colon + 1);
  if (!/^[0-9a-fA-F]{4,40}$/.test(commit)) throw new InvalidIntroductionError(text, `"${commit}" is not a commit id`);
  if (/^SHA256:[A-Za-z0-9+/]{43}$/.test(fingerprint) || /^[0-9A-Fa-f]{40}$/.test(fingerprint)) {
    return { commit: commit.toLowerCase(), fingerprint: normalizeFingerprint(fingerprint) };
  }
  throw new InvalidIntroductionError(text, `"${fingerprint}" is not a key fingerprint`);
}
