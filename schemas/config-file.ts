// Reads a daemon config file (YAML or JSON) and checks it against its schema,
// naming the file and every problem. Relative paths inside are resolved
// against the file's directory, so a config can travel with its keys.

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { validateProtocol, type AgentConfig, type ReconcilerConfig } from './protocol.js';

export class ConfigError extends Error {
  readonly code = 'InvalidConfig';
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}: invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

function load<K extends 'ReconcilerConfig' | 'AgentConfig'>(file: string, kind: K) {
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'), { maxAliasCount: 0 });
  } catch (err) {
    throw new ConfigError(file, [(err as Error).message.split('\n')[0]!]);
  }
  const v = validateProtocol(kind, raw);
  if (!v.ok) throw new ConfigError(file, v.errors);
  return v.value;
}

const rel = (file: string, p: string) => (isAbsolute(p) ? p : resolve(dirname(file), p));

export function loadReconcilerConfig(file: string): ReconcilerConfig {
  const c = load(file, 'ReconcilerConfig') as ReconcilerConfig;
  const repo = 'path' in c.repo ? { ...c.repo, path: rel(file, c.repo.path) } : c.repo;
  return {
    ...c,
    stateDir: rel(file, c.stateDir),
    signingKey: rel(file, c.signingKey),
    repo,
    webhookSecretFile: c.webhookSecretFile && rel(file, c.webhookSecretFile),
  };
}

export function loadAgentConfig(file: string): AgentConfig {
  const c = load(file, 'AgentConfig') as AgentConfig;
  return {
    ...c,
    stateDir: rel(file, c.stateDir),
    tokenFile: rel(file, c.tokenFile),
    reconcilerPublicKey: c.reconcilerPublicKey.includes('BEGIN') ? c.reconcilerPublicKey : rel(file, c.reconcilerPublicKey),
  };
}
