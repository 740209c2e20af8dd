// Renders a fleet plan for people: terminal text (colour only on a TTY) and
// Markdown ready to paste as a pull-request comment.

import type { FleetPlan, HookChange, MemberRef } from './plan.js';

const chain = (ms: MemberRef[]) => (ms.length ? ms.map((m) => `${m.program}@${m.version}`).join(' → ') : '(empty)');
const short = (c?: string) => (c ? c.slice(0, 12) : '(none)');

function describe(c: HookChange): string {
  switch (c.kind) {
    case 'added':
      return `add chain ${chain(c.to)}`;
    case 'removed':
      return `remove chain ${chain(c.from)}`;
    case 'reordered':
      return `reorder ${chain(c.from)}  ⇒  ${chain(c.to)}`;
    case 'replaced': {
      const parts = [
        ...(c.members?.added ?? []).map((m) => `+${m.program}@${m.version}`),
        ...(c.members?.removed ?? []).map((m) => `-${m.program}@${m.version}`),
        ...(c.members?.upgraded ?? []).map((u) => `${u.program} ${u.from}→${u.to}`),
      ];
      return `replace ${chain(c.from)}  ⇒  ${chain(c.to)}${parts.length ? ` (${parts.join(', ')})` : ''}`;
    }
    case 'params':
      return `parameters only, no reload: ${(c.params ?? []).map((p) => `${p.program} ${p.from ? JSON.stringify(p.from) : '(other values)'} → ${JSON.stringify(p.to)}`).join('; ')}`;
    case 'policy':
      return `fallback policy ${c.policy!.from} → ${c.policy!.to}`;
    case 'unchanged':
      return `unchanged ${chain(c.to)}`;
  }
}

const SIGN: Record<HookChange['kind'], string> = { added: '+', removed: '-', replaced: '~', reordered: '~', params: '~', policy: '~', unchanged: ' ' };

const REMOVED_NOTE = 'leaves the fleet: its agent keeps running what it runs now (to remove its chains, commit it with `interfaces: []` first)';

export function summaryLine(plan: FleetPlan): string {
  const s = plan.summary;
  if (!s.hostsChanged && !s.hostsAdded && !s.hostsRemoved) return `No changes. ${s.hostsUnchanged} host(s) unchanged.`;
  return `Plan: ${s.hostsChanged} host(s) to change, ${s.hostsAdded} to add, ${s.hostsRemoved} to remove (${s.hooksChanged} hook(s)); ${s.hostsUnchanged} unchanged.`;
}

export function renderText(plan: FleetPlan, colour: boolean): string {
  const c = (code: number, s: string) => (colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  const colourOf: Record<HookChange['kind'], number> = { added: 32, removed: 31, replaced: 33, reordered: 33, params: 36, policy: 36, unchanged: 2 };
  const lines = [`bpfleet plan ${short(plan.from)} → ${short(plan.to)}`, ''];
  for (const h of plan.hosts) {
    if (h.kind === 'unchanged') continue;
    lines.push(c(1, `host ${h.host}`) + (h.kind === 'changed' ? '' : ` (${h.kind})`));
    if (h.kind === 'removed') lines.push(c(2, `  ${REMOVED_NOTE}`));
    for (const k of h.hooks) {
      if (k.kind === 'unchanged') continue;
      lines.push(c(colourOf[k.kind], `  ${SIGN[k.kind]} ${k.iface}/${k.hook}: ${describe(k)}`));
    }
  }
  lines.push(lines.length > 2 ? '' : '', summaryLine(plan));
  return lines.filter((l, i) => !(l === '' && lines[i - 1] === '')).join('\n') + '\n';
}

export function renderMarkdown(plan: FleetPlan): string {
  const out = [`### bpfleet plan \`${short(plan.from)}\` → \`${short(plan.to)}\``, '', summaryLine(plan), ''];
  const changed = plan.hosts.filter((h) => h.kind !== 'unchanged');
  if (changed.length) {
    out.push('| host | interface/hook | change | chain after |', '|---|---|---|---|');
    for (const h of changed) {
      if (h.kind === 'removed') out.push(`| ${h.host} (removed) | | ${REMOVED_NOTE} | |`);
      for (const k of h.hooks.filter((k) => k.kind !== 'unchanged')) {
        out.push(`| ${h.host}${h.kind === 'changed' ? '' : ` (${h.kind})`} | \`${k.iface}/${k.hook}\` | ${k.kind}: ${escapeCell(describe(k))} | ${escapeCell(chain(k.to))} |`);
      }
    }
    out.push('');
  }
  out.push('<sub>Every change is one atomic swap per hook; `params` changes update maps in place without reloading.</sub>', '');
  return out.join('\n');
}

function escapeCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
