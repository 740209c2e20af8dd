// Pin layout of one managed hook under bpffs (see docs/swap-protocol.md).
// Everything that must outlive the agent lives here; the agent's memory holds
// only caches, so a restarted agent adopts a hook by reading these pins.

import { mkdirSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { HookRef } from '../datapath.js';

export interface HookPins {
  dir: string;
  /** bpf_link of the root program: the attachment itself. */
  rootLink: string;
  rootProg: string;
  /** The root's one-entry PROG_ARRAY: slot 0 is the live chain. */
  rootSlot: string;
  /** Root .bss: the tail-call key and the hook policy. */
  rootBss: string;
  /** Root per-CPU counters: [0] entered, [1] fallback. */
  rootStats: string;
  /** ARRAY holding HookMeta as JSON. */
  hookMeta: string;
  /** Persistent member maps, shared by every generation of the hook. */
  mapsDir: string;
  /** Per-member counters, reused while a member keeps its position, program and version. */
  statsDir: string;
  gensDir: string;
}

export function hookPins(pinRoot: string, host: string, ref: HookRef): HookPins {
  const dir = join(pinRoot, host, ref.iface, ref.hook);
  return {
    dir,
    rootLink: join(dir, 'root_link'),
    rootProg: join(dir, 'root_prog'),
    rootSlot: join(dir, 'root_slot'),
    rootBss: join(dir, 'root_bss'),
    rootStats: join(dir, 'root_stats'),
    hookMeta: join(dir, 'hook_meta'),
    mapsDir: join(dir, 'maps'),
    statsDir: join(dir, 'stats'),
    gensDir: join(dir, 'gen'),
  };
}

export interface GenerationPins {
  dir: string;
  /** The generation's PROG_ARRAY (bpfleet_chain of every member). */
  chain: string;
  /** ARRAY holding GenerationMeta as JSON; written last, so a generation without it is incomplete. */
  meta: string;
}

export function generationPins(hp: HookPins, generation: number): GenerationPins {
  const dir = join(hp.gensDir, String(generation));
  return { dir, chain: join(dir, 'chain'), meta: join(dir, 'meta') };
}

/** bpffs refuses dots in names (reserved), so escape them, and '/' and '%' too. */
export function pinName(s: string): string {
  return s.replace(/[%./]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
}

/** Pin file names are relative to the hook directory in metadata. */
export function memberMapPin(generation: number, index: number, map: string): string {
  return join('gen', String(generation), pinName(`m${index}_${map}`));
}

export function persistentMapPin(program: string, map: string): string {
  return join('maps', pinName(`${program}_${map}`));
}

export function statsPin(index: number, program: string, version: string): string {
  return join('stats', pinName(`${index}_${program}@${version}`));
}

export function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Unpins everything below dir; kernel objects go away once no fd holds them. */
export function removePins(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function listDir(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

export function listGenerations(hp: HookPins): number[] {
  return listDir(hp.gensDir)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => a - b);
}
