// What the kernel loader checks before a program may join a chain, done
// against the ELF alone: digest, object shape, entry, BTF, parameters, and a
// stand-in for the verifier.

import { BpfObjectError, inspectBpfObject, type BpfObjectInfo } from '../../../schemas/bpf-object.js';
import { sha256Hex } from '../../../schemas/canonical-json.js';
import type { ChainMember, Hook } from '../../../schemas/desired-state.js';
import { DatapathError } from '../datapath.js';
import { resolveParams, type ParamWrites } from './params.js';

/** Entries whose name starts with this are refused as the verifier would refuse them. */
export const SIM_VERIFIER_REJECT_PREFIX = 'bad_';

export interface CheckedMember {
  info: BpfObjectInfo;
  writes: ParamWrites;
}

export function checkMember(
  member: ChainMember,
  bytes: Uint8Array,
  hook: Hook,
  where: Record<string, unknown>,
): CheckedMember {
  const name = `${member.program}@${member.version}`;
  const digest = sha256Hex(bytes);
  if (digest !== member.object.sha256 || bytes.length !== member.object.size) {
    throw new DatapathError('DigestMismatch', `${name}: object digest ${digest} (${bytes.length} bytes) is not the pinned ${member.object.sha256} (${member.object.size} bytes)`, {
      ...where,
      expected: member.object,
      found: { sha256: digest, size: bytes.length },
    });
  }
  let info: BpfObjectInfo;
  try {
    info = inspectBpfObject(bytes);
  } catch (e) {
    if (!(e instanceof BpfObjectError)) throw e;
    throw new DatapathError('BadObject', `${name}: ${e.message}`, { ...where, reason: e.code, ...e.data });
  }
  if (!info.hasBtf) {
    throw new DatapathError('BadObject', `${name}: object has no .BTF section; build it with clang -g so maps and parameters can be found by name`, {
      ...where,
      reason: 'NoBtf',
    });
  }
  const program = info.programs.find((p) => p.name === member.entry);
  if (!program) {
    throw new DatapathError('EntryNotFound', `${name}: entry ${member.entry} is not a program of the object (has: ${info.programs.map((p) => p.name).join(', ') || 'none'})`, {
      ...where,
      entry: member.entry,
      available: info.programs.map((p) => p.name),
    });
  }
  if (!sectionFitsHook(program.section, hook)) {
    throw new DatapathError('BadObject', `${name}: entry ${member.entry} is in section ${program.section}, which cannot run on hook ${hook}`, {
      ...where,
      reason: 'WrongProgramType',
      section: program.section,
    });
  }
  for (const map of member.maps) {
    if (!info.maps.includes(map.name)) {
      throw new DatapathError('BadObject', `${name}: map ${map.name} is not in the object (has: ${info.maps.join(', ') || 'none'})`, {
        ...where,
        reason: 'MapNotFound',
        map: map.name,
      });
    }
  }
  const writes = resolveParams(member, info, where);
  if (member.entry.startsWith(SIM_VERIFIER_REJECT_PREFIX)) {
    throw new DatapathError('VerifierRejected', `${name}: the verifier refused ${member.entry}`, {
      ...where,
      log: `0: (61) r1 = *(u32 *)(r1 +0)\n1: (71) r0 = *(u8 *)(r1 +0)\ninvalid access to packet, off=0 size=1, R1(id=0,off=0,r=0)\n(sim verifier: entry names starting with ${SIM_VERIFIER_REJECT_PREFIX} are refused)`,
    });
  }
  return { info, writes };
}

function sectionFitsHook(section: string, hook: Hook): boolean {
  const kind = section.split('/')[0] ?? '';
  if (hook === 'xdp') return kind === 'xdp' || kind === 'xdp.frags';
  return kind === 'tc' || kind === 'tcx' || kind === 'classifier' || kind === 'tc/ingress' || kind === 'tc/egress';
}
