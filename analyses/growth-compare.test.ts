import { describe, expect, it } from 'vitest';
import type { Entry, HeapRecord, PathStep } from '../contract/record.js';
import { rankSuspects } from './suspects.js';

const ITEM = 2600;
const BASE = 5000;

function step(id: number, edge: string, type: string, name: string, retained: number, length: number): PathStep {
  return { id, edge, type, name, self_size: 0, retained_size: retained, length };
}

/** Record i (1-based, after a baseline): MainPage.history holds `i` items; its store is new each time. */
function record(index: number, items: number, options: { session?: string; historyId?: number } = {}): HeapRecord {
  const arrayRetained = 200 + items * ITEM;
  const entry: Entry = {
    obj_type: 'class',
    name: 'MainPage',
    dominated_size: BASE + arrayRetained,
    filename: 'page.mjs',
    lineno: 3,
    module_name: 'page.mjs',
    id: 11,
    path: [
      step(11, '', 'closure', 'MainPage', BASE + arrayRetained, 3),
      step(options.historyId ?? 12, 'history', 'object', 'Array', arrayRetained, items),
      step(1000 + index, '(elements)', 'array', '(object elements)', arrayRetained - 200, items),
    ],
  };
  return {
    index,
    at: new Date(0).toISOString(),
    requests: index === 1 ? 0 : 1,
    request: null,
    baseline: index === 1,
    session: options.session ?? 's1',
    heap: { total_size: 0, node_count: 0, edge_count: 0 },
    timings: { capture_ms: 0, analysis_ms: 0 },
    entries: [entry],
  };
}

describe('growth path of a suspect', () => {
  it('names the growing property and what one request adds to it', () => {
    const records = Array.from({ length: 8 }, (_, i) => record(i + 1, i));
    const [suspect] = rankSuspects(records);
    expect(suspect!.verdict).toBe('growing');
    const path = suspect!.growth_path!;
    expect(path.expression).toBe('MainPage.history');
    expect(path.steps.map((s) => s.edge)).toEqual(['', 'history']);
    expect(path.elements_per_request).toBe(1);
    expect(path.bytes_per_request).toBe(ITEM);
    // The same records as the verdict's recent fit (the last 5 steps: records 3 to 8), so
    // the path's rate and the suspect's growth_per_request come from one window.
    expect(path.from_index).toBe(3);
    expect(path.to_index).toBe(8);
    expect(path.requests).toBe(5);
    expect(suspect!.growth_per_request).toBe(ITEM);
    expect(path.summary).toBe(
      `MainPage.history → Array: +1 element, +${Math.round((ITEM / 1024) * 10) / 10} KB per request`,
    );
  });

  it("rates over the same records as the suspect: whole elements, the entry's bytes per request", () => {
    // Requests per record vary and one record in four gains no element: 0.75 elements per
    // request over the window, shown as 1; the entry's bytes follow the same fit.
    const records = Array.from({ length: 12 }, (_, i) => record(i + 1, i - Math.floor(i / 4)));
    const [suspect] = rankSuspects(records);
    expect(suspect!.verdict).toBe('growing');
    const path = suspect!.growth_path!;
    expect(path.elements_per_request).toBeGreaterThan(0.5);
    expect(path.elements_per_request).toBeLessThan(1);
    const kb = (suspect!.growth_per_request / 1024).toFixed(1);
    expect(path.summary).toBe(`MainPage.history → Array: +1 element, +${kb} KB per request`);
    // The entry's first path step is the entry itself: the same fit gives the same rate.
    expect(path.steps[0]!.bytes_per_request).toBe(suspect!.growth_per_request);
  });

  it('does not match objects of another session, nor a replaced array', () => {
    const other = [record(1, 0, { session: 'old' }), record(2, 1, { session: 'old' })];
    const current = Array.from({ length: 6 }, (_, i) => record(i + 1, i, { historyId: 50 + i }));
    const [suspect] = rankSuspects([...other, ...current]);
    // Only the class itself is the same object in every record: the growth is placed there.
    expect(suspect!.growth_path!.steps.map((s) => s.edge)).toEqual(['']);
    expect(suspect!.growth_path!.summary).toMatch(/^MainPage → function MainPage: /);
  });

  it('is null when records carry no paths or the entry does not grow', () => {
    const plain = Array.from({ length: 6 }, (_, i) => {
      const r = record(i + 1, i);
      delete r.entries[0]!.path;
      return r;
    });
    expect(rankSuspects(plain)[0]!.growth_path).toBeNull();
    const flat = Array.from({ length: 6 }, (_, i) => record(i + 1, 3));
    expect(rankSuspects(flat)[0]!.growth_path).toBeNull();
  });
});
