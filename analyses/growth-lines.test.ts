import { describe, expect, it } from 'vitest';
import { findGrowthLines, growthTarget, markGrowthLines } from './growth-lines.js';
import type { GrowthPath, Suspect } from '../contract/record.js';

/** 1-based lines of `source` that contain `marker` (a comment the test put there). */
function linesWith(source: string, marker: string): number[] {
  return source.split('\n').flatMap((line, i) => (line.includes(marker) ? [i + 1] : []));
}

const CLASS_SOURCE = `export class MainPage {
  static history = [];
  static record(item) {
    this.history.push(item); // ADDS
  }
}
export function handle(req) {
  MainPage.history.push({ url: req.url }); // ADDS
  MainPage.history[MainPage.history.length] = 1; // ADDS
  MainPage.history = MainPage.history.concat([2]); // ADDS
  const other = { history: [] };
  other.history.push(3);
  console.log('MainPage.history.push(4)', MainPage.history.length);
  // MainPage.history.push(5)
  return MainPage.history.length;
}
`;

const MAP_SOURCE = `'use strict';
const requestLog = new Map();
const seen = new Set();
module.exports = { requestLog };
module.exports.handle = function handle(req) {
  requestLog.set(req.url, { at: Date.now() }); // ADDS
  seen.add(req.url);
  requestLog.get(req.url);
  Object.assign(requestLog, { extra: 1 }); // ADDS
  return requestLog.size;
};
`;

const EMITTER_SOURCE = `import { EventEmitter } from 'node:events';
export const bus = new EventEmitter();
export function handle() {
  bus.on('request', () => 1); // ADDS
  bus.emit('request');
  bus.off('request', () => 1);
  other.on('request', () => 2);
}
`;

describe('findGrowthLines', () => {
  it('finds the lines that add to a static array, through the class or `this`, not in strings or comments', () => {
    const found = findGrowthLines(CLASS_SOURCE, { name: 'MainPage', properties: ['history'], emitter: false });
    expect(found.map((m) => m.line)).toEqual(linesWith(CLASS_SOURCE, '// ADDS'));
    expect(found.every((m) => m.kind === 'reference')).toBe(true);
    expect(found[0]!.reason).toBe('adds to MainPage.history (push)');
  });

  it('finds Map.set and Object.assign into a CommonJS binding, not reads nor other collections', () => {
    const found = findGrowthLines(MAP_SOURCE, { name: 'requestLog', properties: [], emitter: false });
    expect(found.map((m) => m.line)).toEqual(linesWith(MAP_SOURCE, '// ADDS'));
    expect(found[0]!.reason).toBe('adds to requestLog (set)');
  });

  it('finds the listeners added to an emitter', () => {
    const found = findGrowthLines(EMITTER_SOURCE, { name: 'bus', properties: [], emitter: true });
    expect(found.map((m) => m.line)).toEqual(linesWith(EMITTER_SOURCE, '// ADDS'));
    expect(found[0]!.reason).toBe('adds a listener to bus (on)');
  });

  it('gives nothing for a source that is not JavaScript', () => {
    expect(
      findGrowthLines('const x: Map<string, number> = new Map();\nx.set("a", 1);\n', {
        name: 'x',
        properties: [],
        emitter: false,
      }),
    ).toEqual([]);
  });
});

describe('growthTarget and markGrowthLines', () => {
  const step = (edge: string) => ({
    id: 1,
    edge,
    type: 'object',
    name: 'Object',
    retained_size: 0,
    length: 0,
    bytes_per_request: 0,
    elements_per_request: 0,
  });
  const path = (...edges: string[]): GrowthPath => ({
    steps: edges.map(step),
    summary: '',
    expression: '',
    bytes_per_request: 0,
    elements_per_request: 0,
    from_index: 1,
    to_index: 2,
    requests: 1,
  });

  it("takes the property names of the path, up to an emitter's _events or an internal slot", () => {
    expect(growthTarget('MainPage', path('', 'history'))).toEqual({
      name: 'MainPage',
      properties: ['history'],
      emitter: false,
    });
    expect(growthTarget('bus', path('', '_events', 'request'))).toEqual({ name: 'bus', properties: [], emitter: true });
    expect(growthTarget('log', path('', '(table)', 'get("a")'))).toEqual({
      name: 'log',
      properties: [],
      emitter: false,
    });
    expect(growthTarget('log', null)).toEqual({ name: 'log', properties: [], emitter: false });
  });

  it('marks growing suspects only, reading each module once and keeping other kinds of marks', async () => {
    const suspect = (name: string, verdict: Suspect['verdict']): Suspect => ({
      module_name: 'store.cjs',
      name,
      obj_type: 'Map',
      filename: 'store.cjs',
      lineno: 2,
      first_size: 0,
      last_size: 0,
      growth_per_request: 0,
      verdict,
      history: [],
      growth_path: null,
      marked_lines: [{ line: 9, reason: 'allocates', kind: 'allocation' }],
    });
    const reads: string[] = [];
    const suspects = [suspect('requestLog', 'growing'), suspect('seen', 'growing'), suspect('other', 'flat')];
    await markGrowthLines(suspects, async (m) => {
      reads.push(m);
      return { source: MAP_SOURCE };
    });
    expect(reads).toEqual(['store.cjs']);
    expect(suspects[0]!.marked_lines!.map((m) => [m.kind, m.line])).toEqual([
      ['allocation', 9],
      ...linesWith(MAP_SOURCE, '// ADDS').map((line) => ['reference', line]),
    ]);
    expect(suspects[1]!.marked_lines!.filter((m) => m.kind === 'reference').map((m) => m.line)).toEqual(
      linesWith(MAP_SOURCE, 'seen.add('),
    );
    expect(suspects[2]!.marked_lines).toEqual([{ line: 9, reason: 'allocates', kind: 'allocation' }]);
  });
});
