// The compiled, canonical desired state of one host: what the reconciler
// derives from a commit and what an agent applies. Pure data, JSON-serialisable,
// with stable ordering so that the same commit always hashes the same.

export const HOOKS = ['xdp', 'tc-ingress', 'tc-egress'] as const;
export type Hook = (typeof HOOKS)[number];

/** What the root program returns when no chain is installed on the hook. */
export type HookPolicy = 'pass' | 'drop';

/**
 * How one parameter value reaches the kernel object. Bindings are declared in
 * the Program manifest and resolved through the object's BTF at load time,
 * never by hand-kept offsets.
 */
export type ParamBinding =
  /** A scalar (integer) global in .data or .bss, found by BTF name; updatable in place. */
  | { kind: 'global'; parameter: string; symbol: string }
  /**
   * A list of IPv4 CIDR strings written into an LPM trie map whose key is
   * `{ __u32 prefixlen; __u8 addr[4]; }` and value a `__u8` set to 1.
   * The map content is replaced as a whole on every parameter change.
   */
  | { kind: 'lpm-prefixes'; parameter: string; map: string };

export interface MapSpec {
  /** Map name as in the object's BTF/ELF. */
  name: string;
  /** Persistent maps are pinned per hook and reused by every later generation (state survives swaps and upgrades). */
  persistent: boolean;
}

export interface ObjectRef {
  /** Lower-case hex sha256 of the ELF object: the only identity an agent trusts. */
  sha256: string;
  size: number;
}

export interface ChainMember {
  program: string;
  version: string;
  object: ObjectRef;
  /** ELF program (function) name to load for this hook. */
  entry: string;
  /** Parameter values, keys sorted; validated against the program's parameter schema. */
  params: Record<string, unknown>;
  bindings: ParamBinding[];
  maps: MapSpec[];
}

export interface HookState {
  hook: Hook;
  policy: HookPolicy;
  /** Ordered: packets enter at chain[0]; an empty chain means "root only, policy applies". */
  chain: ChainMember[];
}

export interface InterfaceState {
  name: string;
  /** Sorted in HOOKS order, each hook at most once. */
  hooks: HookState[];
}

export interface HostDesiredState {
  host: string;
  labels: Record<string, string>;
  /** Sorted by interface name. */
  interfaces: InterfaceState[];
}

/** Compiled output of one commit. */
export interface FleetDesiredState {
  commit: string;
  /** Host name → its desired state and the sha256 of its canonical JSON. */
  hosts: Record<string, { state: HostDesiredState; hash: string }>;
  /** Object digest → path inside the repository (so the reconciler can serve the bytes). */
  objects: Record<string, string>;
}
