// Parameter schemas come from the repository and are parsed afresh on every
// commit; their compiled validators must be shared by content and bounded, or
// a long-lived reconciler grows with every commit (the steady soak found it).

import { describe, expect, it } from 'vitest';
import { compileParameterSchema } from '../../reconciler/manifests/schema-validator.js';

const schema = (n: number) => ({ type: 'object', additionalProperties: false, properties: { ratePps: { type: 'integer', minimum: n } } });

describe('parameter schema validators', () => {
  it('the same schema content (a new object each commit) reuses one compiled validator', () => {
    const a = compileParameterSchema(schema(1)).validate!;
    const b = compileParameterSchema(JSON.parse(JSON.stringify(schema(1))) as object).validate!;
    expect(b).toBe(a);
    expect(a({ ratePps: 5 })).toBe(true);
    expect(a({ ratePps: 0 })).toBe(false);
    // Key order does not matter: the key is canonical JSON.
    const c = compileParameterSchema({ properties: { ratePps: { minimum: 1, type: 'integer' } }, additionalProperties: false, type: 'object' }).validate!;
    expect(c).toBe(a);
  });

  it('is bounded: the least recently used validator is dropped (and compiled again when needed)', () => {
    const first = compileParameterSchema(schema(-1)).validate!;
    for (let i = 1000; i < 1300; i++) compileParameterSchema(schema(i));
    const again = compileParameterSchema(schema(-1)).validate!;
    expect(again).not.toBe(first);
    expect(again({ ratePps: 0 })).toBe(true);
  });

  it('a broken schema is an error, not a throw', () => {
    expect(compileParameterSchema({ type: 'no-such-type' }).error).toMatch(/type/);
  });
});
