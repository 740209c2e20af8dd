import { describe, expect, it } from 'vitest';
import { canonicalHash, canonicalJson, sha256Hex } from '../../schemas/canonical-json.js';

describe('canonicalJson', () => {
  it('sorts keys at every depth and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('gives the same bytes for the same data built in a different key order', () => {
    const one = { host: 'edge-1', labels: { zone: 'a', role: 'edge' } };
    const two = { labels: { role: 'edge', zone: 'a' }, host: 'edge-1' };
    expect(canonicalJson(one)).toBe(canonicalJson(two));
    expect(canonicalHash(one)).toBe(canonicalHash(two));
  });

  it('omits undefined object members like JSON.stringify', () => {
    expect(canonicalJson({ a: undefined, b: null })).toBe('{"b":null}');
  });

  it('refuses values that JSON would silently turn into null', () => {
    expect(() => canonicalJson({ rate: Number.NaN })).toThrowError(/non-finite number at \/rate/);
    expect(() => canonicalJson([1, undefined])).toThrowError(/undefined at \/1/);
    expect(() => canonicalJson({ n: 1n })).toThrowError(/bigint at \/n/);
  });

  it('escapes strings as JSON does', () => {
    expect(canonicalJson({ 'k"': 'line\nbreak é' })).toBe('{"k\\"":"line\\nbreak é"}');
  });
});

describe('sha256Hex', () => {
  it('matches the known digest of "abc" for string and bytes alike', () => {
    const abc = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    expect(sha256Hex('abc')).toBe(abc);
    expect(sha256Hex(new TextEncoder().encode('abc'))).toBe(abc);
  });

  it('hashes the canonical JSON of a value', () => {
    expect(canonicalHash({ b: 2, a: 1 })).toBe(sha256Hex('{"a":1,"b":2}'));
  });
});
