// The only door to the kernel: libbpf.so.1 (Debian libbpf1, 1.1.x) and three
// libc calls through koffi. Every other datapath file calls these typed
// wrappers; a negative return or NULL becomes a DatapathError carrying errno
// and the operation, so callers never see raw koffi values or errno numbers.
//
// Pitfalls handled here: libbpf `*_opts` structs need `sz = sizeof(struct)`
// (a short sz silently drops fields); libbpf 1.1 has no tcx API, so tcx links
// go through the raw bpf_link_create with attach types 46/47.

import koffi from 'koffi';
import { DatapathError, type DatapathErrorCode } from './datapath.js';

const lib = koffi.load('libbpf.so.1');
const libc = koffi.load('libc.so.6');

koffi.opaque('bpf_object');
koffi.opaque('bpf_program');
koffi.opaque('bpf_map');
koffi.opaque('btf');

// struct bpf_object_open_opts as of libbpf 1.1 (sz = 80 on x86_64).
const ObjectOpenOpts = koffi.struct('bpf_object_open_opts', {
  sz: 'size_t',
  object_name: 'const char *',
  relaxed_maps: 'bool',
  pin_root_path: 'const char *',
  attach_prog_fd_stub: 'uint32',
  kconfig: 'const char *',
  btf_custom_path: 'const char *',
  kernel_log_buf: 'void *',
  kernel_log_size: 'size_t',
  kernel_log_level: 'uint32',
});

// struct bpf_link_create_opts (libbpf 1.1): sz, flags, then a union we leave zero.
const LinkCreateOpts = koffi.struct('bpf_link_create_opts', {
  sz: 'size_t',
  flags: 'uint32',
  union_space: koffi.array('uint64', 6),
});

const fn = {
  set_print: lib.func('void *libbpf_set_print(void *fn)'),
  num_cpus: lib.func('int libbpf_num_possible_cpus()'),
  open_mem: lib.func('bpf_object *bpf_object__open_mem(const void *buf, size_t sz, const bpf_object_open_opts *opts)'),
  obj_load: lib.func('int bpf_object__load(bpf_object *obj)'),
  obj_close: lib.func('void bpf_object__close(bpf_object *obj)'),
  obj_btf: lib.func('btf *bpf_object__btf(const bpf_object *obj)'),
  next_program: lib.func('bpf_program *bpf_object__next_program(const bpf_object *obj, bpf_program *prev)'),
  prog_name: lib.func('const char *bpf_program__name(const bpf_program *prog)'),
  prog_type: lib.func('int bpf_program__type(const bpf_program *prog)'),
  prog_fd: lib.func('int bpf_program__fd(const bpf_program *prog)'),
  prog_set_autoload: lib.func('int bpf_program__set_autoload(bpf_program *prog, bool autoload)'),
  prog_set_log_buf: lib.func('int bpf_program__set_log_buf(bpf_program *prog, void *buf, size_t size)'),
  next_map: lib.func('bpf_map *bpf_object__next_map(const bpf_object *obj, bpf_map *prev)'),
  map_name: lib.func('const char *bpf_map__name(const bpf_map *map)'),
  map_type: lib.func('int bpf_map__type(const bpf_map *map)'),
  map_fd: lib.func('int bpf_map__fd(const bpf_map *map)'),
  map_reuse_fd: lib.func('int bpf_map__reuse_fd(bpf_map *map, int fd)'),
  map_initial_value: lib.func('void *bpf_map__initial_value(bpf_map *map, _Out_ size_t *psize)'),
  btf_find: lib.func('int btf__find_by_name_kind(const btf *btf, const char *name, uint32 kind)'),
  btf_type_by_id: lib.func('const void *btf__type_by_id(const btf *btf, uint32 id)'),
  btf_name: lib.func('const char *btf__name_by_offset(const btf *btf, uint32 offset)'),
  map_create: lib.func('int bpf_map_create(int type, const char *name, uint32 key_size, uint32 value_size, uint32 max_entries, const void *opts)'),
  map_update: lib.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64 flags)'),
  map_lookup: lib.func('int bpf_map_lookup_elem(int fd, const void *key, void *value)'),
  map_delete: lib.func('int bpf_map_delete_elem(int fd, const void *key)'),
  map_next_key: lib.func('int bpf_map_get_next_key(int fd, const void *key, void *next_key)'),
  obj_pin: lib.func('int bpf_obj_pin(int fd, const char *path)'),
  obj_get: lib.func('int bpf_obj_get(const char *path)'),
  obj_info: lib.func('int bpf_obj_get_info_by_fd(int fd, void *info, _Inout_ uint32 *len)'),
  link_create: lib.func('int bpf_link_create(int prog_fd, int target_fd, int attach_type, const bpf_link_create_opts *opts)'),
  link_detach: lib.func('int bpf_link_detach(int link_fd)'),
  prog_query: lib.func('int bpf_prog_query(int target_fd, int type, uint32 query_flags, _Out_ uint32 *attach_flags, void *prog_ids, _Inout_ uint32 *prog_cnt)'),
  xdp_query_id: lib.func('int bpf_xdp_query_id(int ifindex, int flags, _Out_ uint32 *prog_id)'),
  close: libc.func('int close(int fd)'),
  dup: libc.func('int dup(int oldfd)'),
  setns: libc.func('int setns(int fd, int nstype)'),
  if_nametoindex: libc.func('uint32 if_nametoindex(const char *name)'),
};

// libbpf prints warnings and whole verifier logs to stderr by default; we
// return the log in the error instead.
fn.set_print(null);

export type BpfObject = { readonly __brand: 'bpf_object' };
export type BpfProgram = { readonly __brand: 'bpf_program' };
export type BpfMap = { readonly __brand: 'bpf_map' };

export const BPF_MAP_TYPE = { ARRAY: 2, PROG_ARRAY: 3, PERCPU_ARRAY: 6, LPM_TRIE: 11 } as const;
export const BPF_PROG_TYPE = { SCHED_CLS: 3, XDP: 6 } as const;
export const BPF_ATTACH_TYPE = { XDP: 37, TCX_INGRESS: 46, TCX_EGRESS: 47 } as const;
export const XDP_FLAGS = { SKB_MODE: 2, DRV_MODE: 4 } as const;
const BTF_KIND_DATASEC = 15;
const CLONE_NEWNET = 0x40000000;

export const ERRNO = { ENOENT: 2, EBUSY: 16, EEXIST: 17, EINVAL: 22, ENOSPC: 28, EOPNOTSUPP: 95 } as const;

function fail(op: string, errno: number, code: DatapathErrorCode = 'KernelError', data: Record<string, unknown> = {}): never {
  throw new DatapathError(code, `${op} failed: errno ${errno}${data.path ? ` (${String(data.path)})` : ''}`, { op, errno, ...data });
}

/** libbpf 1.x int APIs return -errno. */
function check(op: string, rc: number, data?: Record<string, unknown>): number {
  if (rc < 0) fail(op, -rc, 'KernelError', data);
  return rc;
}

function nonNull<T>(op: string, p: unknown, data?: Record<string, unknown>): T {
  if (!p) fail(op, koffi.errno() || ERRNO.EINVAL, 'KernelError', data);
  return p as T;
}

export const possibleCpus: number = check('libbpf_num_possible_cpus', fn.num_cpus());

// ---- objects and programs --------------------------------------------------

/** Opens an ELF object from memory (nothing reaches the kernel yet). */
export function openObject(bytes: Uint8Array, name: string): BpfObject {
  const opts = { sz: koffi.sizeof(ObjectOpenOpts), object_name: name, relaxed_maps: false, pin_root_path: null, attach_prog_fd_stub: 0, kconfig: null, btf_custom_path: null, kernel_log_buf: null, kernel_log_size: 0, kernel_log_level: 0 };
  const obj = fn.open_mem(bytes, bytes.byteLength, opts);
  if (!obj) throw new DatapathError('BadObject', `cannot parse BPF object ${name}: errno ${koffi.errno()}`, { op: 'bpf_object__open_mem', errno: koffi.errno(), object: name });
  return obj as BpfObject;
}

/**
 * Loads the object into the kernel. On failure the verifier log (libbpf fills
 * logBuf on its retry with log_level 1) is returned in the error's data.log.
 */
export function loadObject(obj: BpfObject, name: string, logBuf: Buffer): void {
  logBuf[0] = 0;
  const rc = fn.obj_load(obj);
  if (rc >= 0) return;
  const end = logBuf.indexOf(0);
  const log = logBuf.toString('utf8', 0, end < 0 ? logBuf.length : end).trim();
  if (log) {
    throw new DatapathError('VerifierRejected', `verifier rejected ${name}: ${lastLines(log, 3)}`, { op: 'bpf_object__load', errno: -rc, object: name, log });
  }
  fail('bpf_object__load', -rc, 'KernelError', { object: name });
}

function lastLines(text: string, n: number): string {
  return text.split('\n').filter(Boolean).slice(-n).join(' | ');
}

export function closeObject(obj: BpfObject): void {
  fn.obj_close(obj);
}

export function programs(obj: BpfObject): BpfProgram[] {
  const out: BpfProgram[] = [];
  for (let p = fn.next_program(obj, null); p; p = fn.next_program(obj, p)) out.push(p as BpfProgram);
  return out;
}

export function programName(p: BpfProgram): string {
  return fn.prog_name(p) as string;
}

export function programType(p: BpfProgram): number {
  return fn.prog_type(p) as number;
}

export function programFd(p: BpfProgram): number {
  return check('bpf_program__fd', fn.prog_fd(p));
}

export function setAutoload(p: BpfProgram, on: boolean): void {
  check('bpf_program__set_autoload', fn.prog_set_autoload(p, on));
}

/** Gives libbpf a buffer for the verifier log; it fills it on a failed load. */
export function setLogBuffer(p: BpfProgram, buf: Buffer): void {
  check('bpf_program__set_log_buf', fn.prog_set_log_buf(p, buf, buf.byteLength));
}

// ---- maps of an opened object ----------------------------------------------

export function maps(obj: BpfObject): BpfMap[] {
  const out: BpfMap[] = [];
  for (let m = fn.next_map(obj, null); m; m = fn.next_map(obj, m)) out.push(m as BpfMap);
  return out;
}

export function mapName(m: BpfMap): string {
  return fn.map_name(m) as string;
}

export function mapType(m: BpfMap): number {
  return fn.map_type(m) as number;
}

export function mapFd(m: BpfMap): number {
  return check('bpf_map__fd', fn.map_fd(m));
}

/** Before load: use an existing kernel map (pinned state, a generation's prog array) instead of creating one. */
export function reuseMapFd(m: BpfMap, fd: number): void {
  check('bpf_map__reuse_fd', fn.map_reuse_fd(m, fd), { map: mapName(m) });
}

/** Before load: the writable initial contents of an internal map (.data, .rodata, .bss). */
export function initialValue(m: BpfMap): Buffer {
  const size = [0];
  const p = nonNull<object>('bpf_map__initial_value', fn.map_initial_value(m, size), { map: mapName(m) });
  return Buffer.from(koffi.view(p, size[0]!));
}

/** Variables of a DATASEC (.data, .bss, .rodata) with their offsets, from the object's BTF. */
export function datasecVars(obj: BpfObject, section: string): Map<string, { offset: number; size: number }> {
  const vars = new Map<string, { offset: number; size: number }>();
  const btf = fn.obj_btf(obj);
  if (!btf) return vars;
  const id = fn.btf_find(btf, section, BTF_KIND_DATASEC) as number;
  if (id < 0) return vars;
  const t = fn.btf_type_by_id(btf, id);
  const head = koffi.decode(t, koffi.array('uint32', 3)) as number[];
  const vlen = head[1]! & 0xffff;
  const all = koffi.decode(t, koffi.array('uint32', 3 + 3 * vlen)) as number[];
  for (let i = 0; i < vlen; i++) {
    const [typeId, offset, size] = all.slice(3 + 3 * i, 6 + 3 * i) as [number, number, number];
    const vt = fn.btf_type_by_id(btf, typeId);
    const nameOff = (koffi.decode(vt, koffi.array('uint32', 1)) as number[])[0]!;
    vars.set(fn.btf_name(btf, nameOff) as string, { offset, size });
  }
  return vars;
}

// ---- kernel objects by fd ----------------------------------------------------

export function createMap(type: number, name: string, keySize: number, valueSize: number, maxEntries: number): number {
  return check('bpf_map_create', fn.map_create(type, name, keySize, valueSize, maxEntries, null), { map: name });
}

export function mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags = 0): void {
  check('bpf_map_update_elem', fn.map_update(fd, key, value, flags));
}

/** Returns false when the key is absent (ENOENT), throws on anything else. */
export function mapLookup(fd: number, key: Uint8Array, value: Uint8Array): boolean {
  const rc = fn.map_lookup(fd, key, value) as number;
  if (rc === -ERRNO.ENOENT) return false;
  check('bpf_map_lookup_elem', rc);
  return true;
}

/** Returns false when the key was absent. */
export function mapDelete(fd: number, key: Uint8Array): boolean {
  const rc = fn.map_delete(fd, key) as number;
  if (rc === -ERRNO.ENOENT) return false;
  check('bpf_map_delete_elem', rc);
  return true;
}

export function mapKeys(fd: number, keySize: number): Buffer[] {
  const keys: Buffer[] = [];
  let prev: Buffer | null = null;
  for (;;) {
    const next = Buffer.alloc(keySize);
    const rc = fn.map_next_key(fd, prev, next) as number;
    if (rc === -ERRNO.ENOENT) return keys;
    check('bpf_map_get_next_key', rc);
    keys.push(next);
    prev = next;
  }
}

export function pin(fd: number, path: string): void {
  check('bpf_obj_pin', fn.obj_pin(fd, path), { path });
}

/** Opens a pinned object; returns null when nothing is pinned there. */
export function getPinned(path: string): number | null {
  const rc = fn.obj_get(path) as number;
  if (rc === -ERRNO.ENOENT) return null;
  return check('bpf_obj_get', rc, { path });
}

export function closeFd(fd: number): void {
  fn.close(fd);
}

/** A second fd for the same kernel object (dup(2)): unlike reopening by id, it needs no CAP_SYS_ADMIN. */
export function dupFd(fd: number): number {
  const r = fn.dup(fd) as number;
  if (r < 0) throw new DatapathError('KernelError', `dup(${fd}) failed`, { fd });
  return r;
}


function objInfo(fd: number, size: number): Buffer {
  const buf = Buffer.alloc(size);
  check('bpf_obj_get_info_by_fd', fn.obj_info(fd, buf, [size]));
  return buf;
}

/** struct bpf_prog_info: type @0, id @4, tag[8] @8. */
export function progInfo(fd: number): { type: number; id: number; tag: string } {
  const b = objInfo(fd, 512);
  return { type: b.readUInt32LE(0), id: b.readUInt32LE(4), tag: b.subarray(8, 16).toString('hex') };
}

/** struct bpf_link_info: type @0, id @4, prog_id @8, xdp/tcx ifindex @16 (0 once detached). */
export function linkInfo(fd: number): { id: number; progId: number; ifindex: number } {
  const b = objInfo(fd, 256);
  return { id: b.readUInt32LE(4), progId: b.readUInt32LE(8), ifindex: b.readUInt32LE(16) };
}

/** struct bpf_map_info: type @0, id @4, key_size @8, value_size @12, max_entries @16. */
export function mapInfo(fd: number): { type: number; id: number; keySize: number; valueSize: number; maxEntries: number } {
  const b = objInfo(fd, 256);
  return { type: b.readUInt32LE(0), id: b.readUInt32LE(4), keySize: b.readUInt32LE(8), valueSize: b.readUInt32LE(12), maxEntries: b.readUInt32LE(16) };
}

// ---- attachment ------------------------------------------------------------

export function linkCreate(progFd: number, ifindex: number, attachType: number, flags = 0): number {
  const opts = { sz: koffi.sizeof(LinkCreateOpts), flags, union_space: [0, 0, 0, 0, 0, 0] };
  return check('bpf_link_create', fn.link_create(progFd, ifindex, attachType, opts), { ifindex, attachType, flags });
}

export function linkDetach(linkFd: number): void {
  check('bpf_link_detach', fn.link_detach(linkFd));
}

/** Program ids attached to a tcx hook of an interface (in the current netns). */
export function tcxProgIds(ifindex: number, attachType: number): number[] {
  const ids = new Uint32Array(64);
  const cnt = [ids.length];
  const rc = fn.prog_query(ifindex, attachType, 0, [0], ids, cnt) as number;
  check('bpf_prog_query', rc, { ifindex, attachType });
  return [...ids.subarray(0, cnt[0])];
}

/** The XDP program id attached in one mode (0 when none). */
export function xdpProgId(ifindex: number, mode: number): number {
  const out = [0];
  check('bpf_xdp_query_id', fn.xdp_query_id(ifindex, mode, out), { ifindex });
  return out[0]!;
}

export function ifindexOf(name: string): number {
  return fn.if_nametoindex(name) as number;
}

/** Switches the calling thread's network namespace (Node's main thread only). */
export function setNetns(fd: number): void {
  if ((fn.setns(fd, CLONE_NEWNET) as number) !== 0) fail('setns', koffi.errno());
}
