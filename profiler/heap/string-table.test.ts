/**
 * The string table kept as bytes: reading one string, comparing without decoding and
 * tagging by bytes give what the decoded strings (JSON.parse of the section) give,
 * however the section is cut into chunks.
 */
import { describe, expect, it } from 'vitest';
import { isAppError } from '../../contract/errors.js';
import { StringTableBuilder } from './string-table.js';
import type { StringTable } from './string-table.js';

const STRINGS = [
  '',
  'system / Context',
  'context',
  'plain text that is longer than thirteen characters',
  'quote " and backslash \\',
  'é 中 😀',
  'context2',
  'contex',
  '(Document DOM trees)',
  'tab\tnewline\n',
  'context',
];

function load(chunk: number): StringTable {
  const bytes = Buffer.from(`${JSON.stringify(STRINGS)}, "after": 1}`);
  const builder = new StringTableBuilder();
  let next = -1;
  // Starts after the `[`, as the loader calls it.
  for (let at = 1; at < bytes.length && next === -1; at += chunk) {
    const piece = Buffer.from(bytes.subarray(at, Math.min(bytes.length, at + chunk)));
    next = builder.write(piece, 0, piece.length, at);
    if (next !== -1) next += at;
  }
  expect(bytes.subarray(next).toString()).toBe(', "after": 1}');
  return builder.finish();
}

describe('StringTable', () => {
  for (const chunk of [1, 2, 7, 1 << 16]) {
    it(`reads, compares and tags as the decoded strings do (chunks of ${chunk} bytes)`, () => {
      const table = load(chunk);
      expect(table.length).toBe(STRINGS.length);
      expect(table.toArray()).toEqual(STRINGS);
      STRINGS.forEach((s, i) => {
        expect(table.get(i)).toBe(s);
        for (const other of STRINGS) expect(table.equals(i, other)).toBe(s === other);
      });
      expect(table.get(STRINGS.length)).toBe('');
      STRINGS.forEach((s, i) => {
        expect(table.lengthOf(i)).toBe(s.length);
        for (const k of [-1, 0, 1, s.length - 1, s.length]) expect(table.charCodeAt(i, k)).toEqual(s.charCodeAt(k));
      });
      expect(table.indexOf('context')).toBe(STRINGS.indexOf('context'));
      expect(table.indexOf('(Document DOM trees)')).toBe(STRINGS.indexOf('(Document DOM trees)'));
      expect(table.indexOf('missing')).toBe(-1);
      const wanted = new Map([
        ['context', 1],
        ['system / Context', 2],
        ['é 中 😀', 3],
        ['quote " and backslash \\', 4],
      ]);
      expect(Array.from(table.match(wanted))).toEqual(STRINGS.map((s) => wanted.get(s) ?? 0));
      // Every string holding the fragment, once, in order; none by the bytes between two strings.
      const expectContaining = (fragment: string) =>
        expect(table.containing(fragment)).toEqual(STRINGS.flatMap((s, i) => (s.includes(fragment) ? [i] : [])));
      for (const fragment of ['context', 'text', ' and backslash', 'DOM trees)', 'missing']) expectContaining(fragment);
      expect(table.containing('","')).toEqual([]);
      const added = table.push('added');
      expect(added).toBe(STRINGS.length);
      expect(table.get(added)).toBe('added');
      expect(table.equals(added, 'added')).toBe(true);
      expect(table.containing('dded')).toEqual([added]);
    });
  }

  it('rejects a bad escape and a stray character with BAD_SNAPSHOT', () => {
    for (const text of ['"a\\x"]', '"a", 5]']) {
      const builder = new StringTableBuilder();
      let error: unknown;
      try {
        builder.write(Buffer.from(text), 0, text.length, 0);
      } catch (e) {
        error = e;
      }
      expect(isAppError(error) && error.code === 'BAD_SNAPSHOT').toBe(true);
    }
  });
});
