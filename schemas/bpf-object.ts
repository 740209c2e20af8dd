// A pure reader for BPF ELF objects (ELF64, little-endian, e_machine EM_BPF).
// It answers what a manifest may refer to — programs, maps, globals, license,
// BTF — without a kernel, so the reconciler can refuse a bad object before merge
// and the sim datapath can behave like the kernel loader. It never trusts an
// offset or size from the file: every read is bounds-checked and a lie becomes
// a typed `Truncated` error, never an out-of-range read or a hang.

export const EM_BPF = 247;

export interface BpfProgramInfo {
  /** Function symbol name: what a manifest's `entry` names. */
  name: string;
  /** ELF section, e.g. `xdp`, `tc`, `tcx/ingress`: libbpf derives the program type from it. */
  section: string;
  /** Bytes of instructions (8 per instruction). */
  size: number;
}

export type GlobalSection = '.data' | '.bss' | '.rodata';

export interface BpfGlobalInfo {
  name: string;
  section: GlobalSection;
  offset: number;
  size: number;
}

export interface BpfObjectInfo {
  machine: number;
  /** Entry programs. Functions in `.text` are left out: libbpf loads them only as subprograms of an entry. */
  programs: BpfProgramInfo[];
  /** Map names from BTF-defined `.maps` and legacy `maps` sections, in symbol order. */
  maps: string[];
  /** Variables of `.data`, `.bss`, `.rodata`: what `global` parameter bindings may name. */
  globals: BpfGlobalInfo[];
  license?: string;
  hasBtf: boolean;
  hasBtfExt: boolean;
}

export type BpfObjectErrorCode = 'NotElf' | 'NotBpf' | 'Truncated';

export class BpfObjectError extends Error {
  constructor(
    readonly code: BpfObjectErrorCode,
    message: string,
    /** What was expected and what was found, plus the offset when one applies. */
    readonly data: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'BpfObjectError';
  }
}

const ELF_HEADER_SIZE = 64;
const SECTION_HEADER_SIZE = 64;
const SYMBOL_SIZE = 24;
const ET_REL = 1;
const SHT_SYMTAB = 2;
const SHT_NOBITS = 8;
const SHF_EXECINSTR = 0x4;
const STT_OBJECT = 1;
const STT_FUNC = 2;
const SHN_LORESERVE = 0xff00;
const SHN_XINDEX = 0xffff;

interface Section {
  index: number;
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

/**
 * Inspect a BPF object file.
 *
 * @throws BpfObjectError `NotElf` (no ELF magic), `NotBpf` (not ELF64 LE
 *   relocatable for EM_BPF), `Truncated` (a header, table or string points
 *   outside the file).
 * @example inspectBpfObject(readFileSync('bpf/build/counter.bpf.o')).programs
 */
export function inspectBpfObject(bytes: Uint8Array): BpfObjectInfo {
  const reader = new Reader(bytes);
  const machine = readElfHeader(reader);
  const sections = readSections(reader);
  const symbols = readSymbols(reader, sections);

  const byIndex = new Map(sections.map((s) => [s.index, s]));
  const programs: BpfProgramInfo[] = [];
  const maps: string[] = [];
  const globals: BpfGlobalInfo[] = [];
  for (const sym of symbols) {
    const section = byIndex.get(sym.shndx);
    if (!section || sym.name === '') continue;
    if (sym.type === STT_FUNC && (section.flags & SHF_EXECINSTR) !== 0 && section.name !== '.text') {
      programs.push({ name: sym.name, section: section.name, size: sym.size });
    } else if (sym.type === STT_OBJECT && (section.name === '.maps' || section.name === 'maps')) {
      maps.push(sym.name);
    } else if (sym.type === STT_OBJECT && isGlobalSection(section.name)) {
      globals.push({ name: sym.name, section: section.name, offset: sym.value, size: sym.size });
    }
  }

  const licenseSection = sections.find((s) => s.name === 'license');
  const info: BpfObjectInfo = {
    machine,
    programs,
    maps,
    globals,
    hasBtf: sections.some((s) => s.name === '.BTF'),
    hasBtfExt: sections.some((s) => s.name === '.BTF.ext'),
  };
  if (licenseSection && licenseSection.type !== SHT_NOBITS) {
    info.license = reader.cString(licenseSection.offset, licenseSection.offset + licenseSection.size, 'license');
  }
  return info;
}

function isGlobalSection(name: string): name is GlobalSection {
  return name === '.data' || name === '.bss' || name === '.rodata';
}

function readElfHeader(r: Reader): number {
  if (r.length < 4 || r.u8(0) !== 0x7f || r.u8(1) !== 0x45 || r.u8(2) !== 0x4c || r.u8(3) !== 0x46) {
    throw new BpfObjectError('NotElf', 'not an ELF file: expected the magic bytes 7f 45 4c 46 at offset 0', {
      expected: '7f454c46',
      found: hex(r.bytes.subarray(0, 4)),
    });
  }
  r.need(0, ELF_HEADER_SIZE, 'ELF header');
  const elfClass = r.u8(4);
  const data = r.u8(5);
  if (elfClass !== 2 || data !== 1) {
    throw new BpfObjectError('NotBpf', `not a BPF object: expected ELF64 little-endian, found class ${elfClass} data ${data}`, {
      expected: { class: 2, data: 1 },
      found: { class: elfClass, data },
    });
  }
  const type = r.u16(16);
  const machine = r.u16(18);
  if (machine !== EM_BPF) {
    throw new BpfObjectError('NotBpf', `not a BPF object: expected e_machine ${EM_BPF} (EM_BPF), found ${machine}`, {
      expected: EM_BPF,
      found: machine,
    });
  }
  if (type !== ET_REL) {
    throw new BpfObjectError('NotBpf', `not a BPF object: expected e_type ${ET_REL} (relocatable), found ${type}`, {
      expected: ET_REL,
      found: type,
    });
  }
  return machine;
}

function readSections(r: Reader): Section[] {
  const shoff = r.u64(40);
  const shentsize = r.u16(58);
  let shnum = r.u16(60);
  let shstrndx = r.u16(62);
  if (shoff === 0) return [];
  if (shentsize !== SECTION_HEADER_SIZE) {
    throw new BpfObjectError('NotBpf', `not a BPF object: expected e_shentsize ${SECTION_HEADER_SIZE}, found ${shentsize}`, {
      expected: SECTION_HEADER_SIZE,
      found: shentsize,
    });
  }
  r.need(shoff, SECTION_HEADER_SIZE, 'section header 0');
  // More than 0xff00 sections: the real counts live in section header 0.
  if (shnum === 0) shnum = r.u64(shoff + 32);
  if (shstrndx === SHN_XINDEX) shstrndx = r.u32(shoff + 40);
  r.need(shoff, shnum * SECTION_HEADER_SIZE, `section header table (${shnum} entries)`);

  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * SECTION_HEADER_SIZE;
    const s = {
      index: i,
      nameOffset: r.u32(at),
      type: r.u32(at + 4),
      flags: r.u64(at + 8),
      offset: r.u64(at + 24),
      size: r.u64(at + 32),
      link: r.u32(at + 40),
      entsize: r.u64(at + 56),
    };
    if (s.type !== SHT_NOBITS && s.type !== 0) r.need(s.offset, s.size, `section ${i} contents`);
    raw.push(s);
  }
  const names = raw[shstrndx];
  if (!names) {
    throw new BpfObjectError('Truncated', `section name table index ${shstrndx} is outside the ${shnum} sections`, {
      expected: `< ${shnum}`,
      found: shstrndx,
    });
  }
  return raw.map(({ nameOffset, ...s }) => ({
    ...s,
    name: r.cString(names.offset + nameOffset, names.offset + names.size, `name of section ${s.index}`),
  }));
}

interface SymbolEntry {
  name: string;
  type: number;
  shndx: number;
  value: number;
  size: number;
}

function readSymbols(r: Reader, sections: Section[]): SymbolEntry[] {
  const symtab = sections.find((s) => s.type === SHT_SYMTAB);
  if (!symtab) return [];
  const strtab = sections[symtab.link];
  if (!strtab) {
    throw new BpfObjectError('Truncated', `symbol table's string table index ${symtab.link} is outside the sections`, {
      expected: `< ${sections.length}`,
      found: symtab.link,
    });
  }
  const count = Math.floor(symtab.size / SYMBOL_SIZE);
  const symbols: SymbolEntry[] = [];
  for (let i = 1; i < count; i++) {
    const at = symtab.offset + i * SYMBOL_SIZE;
    const shndx = r.u16(at + 6);
    if (shndx === 0 || shndx >= SHN_LORESERVE) continue; // undefined, absolute, common: not ours
    symbols.push({
      name: r.cString(strtab.offset + r.u32(at), strtab.offset + strtab.size, `name of symbol ${i}`),
      type: r.u8(at + 4) & 0xf,
      shndx,
      value: r.u64(at + 8),
      size: r.u64(at + 16),
    });
  }
  return symbols;
}

/** Bounds-checked little-endian reads over the object's bytes. */
class Reader {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private nuls: Int32Array | undefined;
  /**
   * Position of the first NUL at or after each offset (-1: none), computed
   * once: a hostile symbol table of many names without terminators would
   * otherwise cost a scan of the file per name.
   */
  private nextNul(): Int32Array {
    if (!this.nuls) {
      this.nuls = new Int32Array(this.length);
      let next = -1;
      for (let i = this.length - 1; i >= 0; i--) {
        if (this.bytes[i] === 0) next = i;
        this.nuls[i] = next;
      }
    }
    return this.nuls;
  }
  get length(): number {
    return this.bytes.length;
  }
  need(offset: number, size: number, what: string): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0 || offset + size > this.length) {
      throw new BpfObjectError('Truncated', `truncated object: ${what} needs bytes ${offset}..${offset + size} but the file has ${this.length}`, {
        what,
        offset,
        size,
        fileSize: this.length,
      });
    }
  }
  u8(at: number): number {
    this.need(at, 1, 'byte');
    return this.view.getUint8(at);
  }
  u16(at: number): number {
    this.need(at, 2, 'u16');
    return this.view.getUint16(at, true);
  }
  u32(at: number): number {
    this.need(at, 4, 'u32');
    return this.view.getUint32(at, true);
  }
  /** Offsets and sizes beyond 2^53 cannot be inside any file we hold: report them as truncation. */
  u64(at: number): number {
    this.need(at, 8, 'u64');
    const value = this.view.getBigUint64(at, true);
    return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
  }
  /** A NUL-terminated string that must end before `limit`. */
  cString(start: number, limit: number, what: string): string {
    const end = Math.min(limit, this.length);
    if (start < 0 || start >= end) {
      this.need(start, 1, what);
      throw new BpfObjectError('Truncated', `truncated object: ${what} starts at ${start}, outside its table ending at ${end}`, {
        what,
        offset: start,
        fileSize: this.length,
      });
    }
    const nul = this.nextNul()[start] ?? -1;
    if (nul < 0 || nul >= end) {
      throw new BpfObjectError('Truncated', `truncated object: ${what} at ${start} has no NUL terminator before ${end}`, {
        what,
        offset: start,
        fileSize: this.length,
      });
    }
    return new TextDecoder().decode(this.bytes.subarray(start, nul));
  }
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
