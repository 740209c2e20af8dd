// One line of git's / OpenSSH's allowed_signers format (ssh-keygen(1),
// "ALLOWED SIGNERS"):  principals [options] keytype base64-key [comment]
//
// Supported options: `namespaces="pattern,..."`. `cert-authority`,
// `valid-after` and `valid-before` are refused rather than silently ignored:
// a line that means more than we enforce must not be accepted.

import { parseSshPublicKeyText, SSH_KEY_TYPES } from './ssh-key.js';

export interface AllowedSigner {
  /** The principals field as written (comma separated). */
  principals: string;
  keyType: string;
  /** "<type> <base64>" */
  publicKey: string;
  fingerprint: string;
  /** Namespace patterns, or null when the line has no namespaces option (= any). */
  namespaces: string[] | null;
}

export class AllowedSignerError extends Error {
  readonly code = 'InvalidAllowedSigner';
  /** 0-based offset in the line of the offending token. */
  constructor(message: string, readonly offset: number) {
    super(message);
  }
}

interface Token {
  text: string;
  offset: number;
}

/** Split on blanks outside double quotes. */
function tokenize(line: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i]!)) i++;
    if (i >= line.length) break;
    const start = i;
    let quoted = false;
    while (i < line.length && (quoted || !/\s/.test(line[i]!))) {
      if (line[i] === '"') quoted = !quoted;
      i++;
    }
    if (quoted) throw new AllowedSignerError('unterminated quote', start);
    tokens.push({ text: line.slice(start, i), offset: start });
  }
  return tokens;
}

/** Split on commas outside double quotes. */
function splitOptions(text: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

const isKeyType = (t: string | undefined): boolean => (SSH_KEY_TYPES as readonly string[]).includes(t ?? '');

export function parseAllowedSigner(line: string): AllowedSigner {
  const tokens = tokenize(line);
  const principals = tokens[0];
  if (!principals) throw new AllowedSignerError('empty line; expected "<principals> [options] <key-type> <base64-key>"', 0);
  let idx = 1;
  let namespaces: string[] | null = null;
  const maybeOptions = tokens[1];
  if (maybeOptions && !isKeyType(maybeOptions.text)) {
    for (const opt of splitOptions(maybeOptions.text)) {
      const m = /^([A-Za-z-]+)(?:="([^"]*)")?$/.exec(opt);
      if (m?.[1]?.toLowerCase() === 'namespaces' && m[2] !== undefined) {
        namespaces = m[2].split(',').filter((n) => n.length > 0);
      } else {
        throw new AllowedSignerError(
          `unsupported option "${opt}"; expected namespaces="git" (or a key type: ${SSH_KEY_TYPES.join(', ')})`,
          maybeOptions.offset,
        );
      }
    }
    idx = 2;
  }
  const type = tokens[idx];
  const b64 = tokens[idx + 1];
  if (!type || !isKeyType(type.text)) {
    throw new AllowedSignerError(`expected a key type (${SSH_KEY_TYPES.join(', ')})`, type?.offset ?? line.length);
  }
  if (!b64) throw new AllowedSignerError('expected a base64 public key after the key type', line.length);
  let key;
  try {
    key = parseSshPublicKeyText(`${type.text} ${b64.text}`);
  } catch (e) {
    throw new AllowedSignerError(`invalid public key: ${(e as Error).message}`, b64.offset);
  }
  return {
    principals: principals.text.replace(/^"|"$/g, ''),
    keyType: key.type,
    publicKey: `${type.text} ${b64.text}`,
    fingerprint: key.fingerprint,
    namespaces,
  };
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** OpenSSH pattern-list semantics: a matching negated pattern wins. */
export function namespaceAllowed(namespaces: string[] | null, namespace: string): boolean {
  if (namespaces === null) return true;
  let allowed = false;
  for (const p of namespaces) {
    if (p.startsWith('!')) {
      if (globToRegExp(p.slice(1)).test(namespace)) return false;
    } else if (globToRegExp(p).test(namespace)) allowed = true;
  }
  return allowed;
}
