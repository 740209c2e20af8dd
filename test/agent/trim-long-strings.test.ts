import { expect, it } from 'vitest';
import { trimLongStrings } from '../../agent/trim-long-strings.js';

it('keeps the tail of long strings at any depth and leaves the rest alone', () => {
  const log = `${'x'.repeat(100_000)}\nR0 invalid mem access 'scalar'`;
  const out = trimLongStrings({ code: 'StageFailed', data: { datapath: { data: { log, member: 1 } }, list: [log] } });
  expect(out.code).toBe('StageFailed');
  expect(out.data.datapath.data.member).toBe(1);
  expect(out.data.datapath.data.log.length).toBe(4001);
  expect(out.data.datapath.data.log.endsWith("R0 invalid mem access 'scalar'")).toBe(true);
  expect(out.data.list[0]!.startsWith('…')).toBe(true);
  expect(JSON.stringify(out).length).toBeLessThan(9000);
});
