// Reads systemd unit files the way systemd does for the parts the tests check:
// [Section] headers, Key=Value lines, '#'/';' comments, backslash
// continuations, and repeated keys (which systemd accumulates).

import { readFileSync } from 'node:fs';

export type Unit = Map<string, Map<string, string[]>>;

export function parseUnit(text: string, file = 'unit'): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) return;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      return;
    }
    const eq = line.indexOf('=');
    if (!section || eq <= 0) throw new Error(`${file}:${i + 1}: expected [Section] or Key=Value, got ${JSON.stringify(line)}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  });
  return unit;
}

export const readUnit = (path: string): Unit => parseUnit(readFileSync(path, 'utf8'), path);

/** The last value of a key (systemd's rule for single-valued settings). */
export function unitValue(unit: Unit, section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1);
}
