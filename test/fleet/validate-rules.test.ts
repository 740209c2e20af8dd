// One case per validation rule: each names the file, line and column, and a
// stable code, so an operator (or a bot on the PR) knows exactly what to fix.

import { describe, expect, it } from 'vitest';
import { compileFleet } from '../../reconciler/compile/compile-fleet.js';
import { formatDiagnostic } from '../../reconciler/manifests/diagnostic.js';
import { exampleTree } from './example-tree.js';

const E1 = 'hosts/edge-1.yaml';
const RL = 'programs/ratelimit/1.0.0.yaml';

async function problems(edits: Parameters<typeof exampleTree>[0]) {
  const r = await compileFleet(exampleTree(edits));
  expect(r.ok).toBe(false);
  return r.diagnostics.map((d) => ({ ...d, text: formatDiagnostic(d) }));
}

describe('validation rules', () => {
  it('accepts the example fleet', async () => {
    const r = await compileFleet(exampleTree());
    expect(r.diagnostics).toEqual([]);
    expect(r.ok).toBe(true);
  });

  const cases: { name: string; edits: Parameters<typeof exampleTree>[0]; expect: { file: string; line: number; col?: number; code: string; text: RegExp } }[] = [
    {
      name: 'YAML syntax error',
      edits: { [E1]: (t) => t.replace('kind: Host', 'kind: [Host') },
      expect: { file: E1, line: 3, code: 'YamlSyntax', text: /hosts\/edge-1\.yaml:\d+:\d+: / },
    },
    {
      name: 'duplicate key',
      edits: { [E1]: (t) => t.replace('kind: Host', 'kind: Host\nkind: Host') },
      expect: { file: E1, line: 3, code: 'YamlSyntax', text: /duplicate key/ },
    },
    {
      name: 'two documents in one file',
      edits: { [E1]: (t) => `${t}---\nkind: Host\n` },
      expect: { file: E1, line: 21, code: 'MultipleDocuments', text: /exactly one YAML document/ },
    },
    {
      name: 'alias expansion (billion laughs) is refused',
      edits: { [E1]: (t) => t.replace('labels: { role: edge, site: fra1 }', 'labels: &l { role: edge }\n  description: *l') },
      expect: { file: E1, line: 1, code: 'YamlSyntax', text: /alias/i },
    },
    {
      name: 'unknown key with a suggestion',
      edits: { [E1]: (t) => t.replace('  labels:', '  lables:') },
      expect: { file: E1, line: 5, col: 3, code: 'SchemaViolation', text: /metadata\.lables: unknown key "lables" \(did you mean "labels"\?\)/ },
    },
    {
      name: 'wrong apiVersion',
      edits: { [E1]: (t) => t.replace('bpfleet.dev/v1', 'bpfleet.dev/v2') },
      expect: { file: E1, line: 1, col: 13, code: 'SchemaViolation', text: /apiVersion: expected "bpfleet.dev\/v1", got "bpfleet.dev\/v2"/ },
    },
    {
      name: 'missing required key',
      edits: { [E1]: (t) => t.replace('  name: edge-1\n', '') },
      expect: { file: E1, line: 4, code: 'SchemaViolation', text: /metadata: missing required key "name"/ },
    },
    {
      name: 'bad policy value',
      edits: { [E1]: (t) => t.replace('policy: pass', 'policy: maybe') },
      expect: { file: E1, line: 10, col: 17, code: 'SchemaViolation', text: /policy: expected one of "pass", "drop", got "maybe"/ },
    },
    {
      name: 'unknown hook',
      edits: { [E1]: (t) => t.replace('tc-egress:', 'tc-egres:') },
      expect: { file: E1, line: 18, code: 'SchemaViolation', text: /unknown key "tc-egres" \(did you mean "tc-egress"\?\)/ },
    },
    {
      name: 'malformed program reference',
      edits: { [E1]: (t) => t.replace('program: counter@1.0.0\n      tc-egress', 'program: counter\n      tc-egress') },
      expect: { file: E1, line: 17, code: 'SchemaViolation', text: /expected name@version/ },
    },
    {
      name: 'unknown program',
      edits: { [E1]: (t) => t.replace('program: blocklist@1.0.0', 'program: firewall@1.0.0') },
      expect: { file: E1, line: 12, code: 'UnknownProgram', text: /unknown program firewall@1\.0\.0; no program of that name/ },
    },
    {
      name: 'unknown version, with the known ones',
      edits: { [E1]: (t) => t.replace('program: ratelimit@1.0.0', 'program: ratelimit@9.9.9') },
      expect: { file: E1, line: 15, code: 'UnknownProgram', text: /ratelimit@9\.9\.9; known versions: 1\.0\.0/ },
    },
    {
      name: 'program on a hook it does not support',
      edits: { [RL]: (t) => t.replace('    tc-egress: { entry: ratelimit_tc }\n', ''), 'hosts/edge-1.yaml': (t) => t.replace('      tc-egress:\n        chain:\n          - program: counter@1.0.0', '      tc-egress:\n        chain:\n          - program: ratelimit@1.0.0\n            params: { ratePps: 1, burst: 1 }') },
      expect: { file: E1, line: 20, code: 'UnsupportedHook', text: /ratelimit@1\.0\.0 does not support hook tc-egress/ },
    },
    {
      name: 'interface listed twice',
      edits: { [E1]: (t) => `${t}    - name: eth0\n      xdp: { chain: [] }\n` },
      expect: { file: E1, line: 21, code: 'DuplicateInterface', text: /interface "eth0" is already listed at spec\.interfaces\[0\]/ },
    },
    {
      name: 'duplicate host name across files',
      edits: { 'hosts/fra1/edge-1.yaml': (t) => t, ...{} },
      expect: { file: 'hosts/fra1/edge-1.yaml', line: 4, code: 'DuplicateHost', text: /host "edge-1" is already defined in hosts\/edge-1\.yaml/ },
    },
    {
      name: 'host file name must match metadata.name',
      edits: { 'hosts/edge-9.yaml': (t) => t, [E1]: null },
      expect: { file: 'hosts/edge-9.yaml', line: 4, code: 'FileNameMismatch', text: /must be named edge-1\.yaml/ },
    },
    {
      name: 'parameter of the wrong type',
      edits: { [E1]: (t) => t.replace('ratePps: 200000', 'ratePps: "fast"') },
      expect: { file: E1, line: 16, code: 'InvalidParameter', text: /params\.ratePps: expected integer, got string/ },
    },
    {
      name: 'parameter out of range',
      edits: { [E1]: (t) => t.replace('ratePps: 200000', 'ratePps: 0') },
      expect: { file: E1, line: 16, code: 'InvalidParameter', text: /params\.ratePps: expected a number >= 1, got 0/ },
    },
    {
      name: 'missing required parameter',
      edits: { [E1]: (t) => t.replace('{ ratePps: 200000, burst: 400000 }', '{ ratePps: 200000 }') },
      expect: { file: E1, line: 16, code: 'InvalidParameter', text: /missing required key "burst"/ },
    },
    {
      name: 'unknown parameter',
      edits: { [E1]: (t) => t.replace('burst: 400000', 'burst: 400000, brust: 1') },
      expect: { file: E1, line: 16, code: 'InvalidParameter', text: /unknown key "brust" \(did you mean "burst"\?\)/ },
    },
    {
      name: 'malformed prefix parameter',
      edits: { [E1]: (t) => t.replace('198.51.100.0/24', '198.51.100.0/33') },
      expect: { file: E1, line: 14, code: 'InvalidParameter', text: /prefixes\[0\]: expected an IPv4 prefix such as 192\.0\.2\.0\/24, got "198\.51\.100\.0\/33"/ },
    },
    {
      name: 'params given to a program without parameters',
      edits: { [E1]: (t) => t.replace('      tc-egress:\n        chain:\n          - program: counter@1.0.0', '      tc-egress:\n        chain:\n          - program: counter@1.0.0\n            params: { x: 1 }') },
      expect: { file: E1, line: 21, code: 'InvalidParameter', text: /counter@1\.0\.0 takes no parameters/ },
    },
    {
      name: 'same program twice in a chain',
      edits: { [E1]: (t) => t.replace('      tc-egress:\n        chain:\n          - program: counter@1.0.0', '      tc-egress:\n        chain:\n          - program: counter@1.0.0\n          - program: counter@1.0.0') },
      expect: { file: E1, line: 21, code: 'DuplicateChainMember', text: /counter appears twice/ },
    },
    {
      name: 'object digest mismatch',
      edits: { [RL]: (t) => t.replace(/sha256: [0-9a-f]{64}/, `sha256: "${'0'.repeat(64)}"`) },
      expect: { file: RL, line: 10, code: 'DigestMismatch', text: /the object's sha256 is [0-9a-f]{64}, the manifest pins 0{64}/ },
    },
    {
      name: 'malformed digest',
      edits: { [RL]: (t) => t.replace(/sha256: [0-9a-f]{64}/, 'sha256: abc') },
      expect: { file: RL, line: 10, code: 'SchemaViolation', text: /expected 64 lower-case hex digits/ },
    },
    {
      name: 'object path escaping the repository',
      edits: { [RL]: (t) => t.replace('path: objects/ratelimit.bpf.o', 'path: ../../etc/passwd') },
      expect: { file: RL, line: 9, code: 'PathEscapesRepository', text: /"\.\." escapes it/ },
    },
    {
      name: 'absolute object path',
      edits: { [RL]: (t) => t.replace('path: objects/ratelimit.bpf.o', 'path: /etc/passwd') },
      expect: { file: RL, line: 9, code: 'PathEscapesRepository', text: /not an absolute path/ },
    },
    {
      name: 'missing object',
      edits: { 'objects/ratelimit.bpf.o': null },
      expect: { file: RL, line: 9, code: 'ObjectNotFound', text: /objects\/ratelimit\.bpf\.o does not exist/ },
    },
    {
      name: 'object that is not ELF',
      edits: {
        'objects/ratelimit.bpf.o': 'not an elf',
        [RL]: (t) => t.replace(/sha256: [0-9a-f]{64}/, 'sha256: eb40ab68d4c139ccbe2806845462738625bbc51b2890b42c38e23630c0df3e49'),
      },
      expect: { file: RL, line: 9, code: 'BadObject', text: /not a usable BPF object/ },
    },
    {
      name: 'entry function missing from the object',
      edits: { [RL]: (t) => t.replace('xdp: { entry: ratelimit_xdp }', 'xdp: { entry: ratelimit_xdpp }') },
      expect: { file: RL, line: 13, code: 'EntryNotFound', text: /no program "ratelimit_xdpp" \(it has: / },
    },
    {
      name: 'binding to a missing global',
      edits: { [RL]: (t) => t.replace('global: rate_pps', 'global: rate') },
      expect: { file: RL, line: 25, code: 'GlobalNotFound', text: /no global "rate"/ },
    },
    {
      name: 'binding to an undeclared parameter',
      edits: { [RL]: (t) => t.replace('- parameter: burst', '- parameter: bursts') },
      expect: { file: RL, line: 26, code: 'UnknownParameter', text: /"bursts" is not declared/ },
    },
    {
      name: 'map missing from the object',
      edits: { [RL]: (t) => t.replace('- name: ratelimit_buckets', '- name: buckets') },
      expect: { file: RL, line: 30, code: 'MapNotFound', text: /no map "buckets"/ },
    },
    {
      name: 'program file in the wrong place',
      edits: { 'programs/ratelimit/1.0.1.yaml': (t) => t, [RL]: null },
      expect: { file: 'programs/ratelimit/1.0.1.yaml', line: 4, code: 'FileNameMismatch', text: /must be programs\/ratelimit\/1\.0\.0\.yaml/ },
    },
    {
      name: 'invalid parameter schema',
      edits: { [RL]: (t) => t.replace('type: object\n    additionalProperties', 'type: objekt\n    additionalProperties') },
      expect: { file: RL, line: 17, code: 'InvalidParameterSchema', text: /not a valid JSON Schema/ },
    },
    {
      name: 'oversize manifest',
      edits: { [E1]: (t) => t + `# ${'x'.repeat(300_000)}\n` },
      expect: { file: E1, line: 1, code: 'FileTooLarge', text: /larger than/ },
    },
    {
      name: 'manifest that is not UTF-8',
      edits: { [E1]: new Uint8Array([0xff, 0xfe, 0x00, 0x41]) },
      expect: { file: E1, line: 1, code: 'NotUtf8', text: /expected UTF-8/ },
    },
  ];

  for (const c of cases) {
    it(`reports ${c.name}`, async () => {
      // The "copy a file under a new name" cases need the source text.
      const edits = { ...c.edits };
      const all = (await import('./example-tree.js')).exampleFiles();
      for (const [p, e] of Object.entries(edits)) if (typeof e === 'function' && all[p] === undefined) {
        const src = p.startsWith('hosts/') ? 'hosts/edge-1.yaml' : RL;
        edits[p] = (e as (t: string) => string)(String(all[src]));
      }
      const ps = await problems(edits);
      const hit = ps.find((p) => p.code === c.expect.code && p.file === c.expect.file);
      expect(hit, `got: ${ps.map((p) => `${p.code} ${p.text}`).join('\n')}`).toBeDefined();
      expect(hit!.text).toMatch(c.expect.text);
      expect(hit!.line).toBe(c.expect.line);
      if (c.expect.col !== undefined) expect(hit!.col).toBe(c.expect.col);
    });
  }

  it('reports every problem of a run, not only the first', async () => {
    const ps = await problems({
      [E1]: (t) => t.replace('  labels:', '  lables:'),
      'hosts/edge-2.yaml': (t) => t.replace('program: blocklist@1.0.0', 'program: nope@1.0.0'),
      [RL]: (t) => t.replace(/sha256: [0-9a-f]{64}/, `sha256: ${'1'.repeat(64)}`),
    });
    expect(new Set(ps.map((p) => p.file))).toEqual(new Set([E1, 'hosts/edge-2.yaml', RL]));
    // The broken program is reported once, at its own file, not again at every host using it.
    expect(ps.filter((p) => p.code === 'UnknownProgram').map((p) => p.file)).toEqual(['hosts/edge-2.yaml']);
  });
});
