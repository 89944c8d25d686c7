import { describe, expect, it } from 'vitest';
import type { Entry, HeapRecord } from '../contract/record.js';
import { biggestMover, rankSuspects, slopePerRequest } from './suspects.js';

/** Builds records from per-record sizes of named entries; record 1 of each session is a baseline. */
function records(
  sizes: Record<string, number[]>,
  options: { requests?: number[]; session?: string; startIndex?: number; baseline?: boolean } = {},
): HeapRecord[] {
  const names = Object.keys(sizes);
  const count = sizes[names[0]!]!.length;
  const out: HeapRecord[] = [];
  for (let i = 0; i < count; i++) {
    const entries: Entry[] = names.map((name) => ({
      obj_type: name === 'handle' || name === 'closure' ? 'function' : 'Map',
      name,
      dominated_size: sizes[name]![i]!,
      filename: 'app.mjs',
      lineno: 3,
      module_name: 'app.mjs',
    }));
    out.push({
      index: (options.startIndex ?? 1) + i,
      at: new Date(Date.UTC(2026, 10, 25, 10, 0, i)).toISOString(),
      requests: options.requests?.[i] ?? 1,
      request: { method: 'GET', url: '/', status: 200 },
      baseline: (options.baseline ?? true) && i === 0,
      session: options.session ?? 'a',
      heap: { total_size: 1e6, node_count: 1, edge_count: 1 },
      timings: { capture_ms: 1, analysis_ms: 1 },
      entries,
    });
  }
  return out;
}

const linear = (start: number, step: number, n: number) => Array.from({ length: n }, (_, i) => start + step * i);

describe('rankSuspects', () => {
  it('puts a leak first, a filled bounded cache after it as plateaued, and warming functions as flat', () => {
    const n = 16;
    const ranked = rankSuspects(
      records({
        // 2 KB per request, every request.
        leak: linear(10_000, 2_000, n),
        // Fills up in the first five records (3 KB each), then only wobbles.
        cache: Array.from({ length: n }, (_, i) => 5_000 + 3_000 * Math.min(i, 5) + (i % 2) * 40),
        // A few hundred bytes in its first calls (feedback vector, optimised code).
        handle: [600, 900, 1_100, 1_180, ...Array(n - 4).fill(1_180)],
        // Never moves.
        config: Array(n).fill(4_000),
      }),
    );
    expect(ranked.slice(0, 2).map((s) => [s.name, s.verdict])).toEqual([
      ['leak', 'growing'],
      ['cache', 'plateaued'],
    ]);
    const verdicts = Object.fromEntries(ranked.map((s) => [s.name, s.verdict]));
    expect(verdicts).toEqual({ leak: 'growing', cache: 'plateaued', handle: 'flat', config: 'flat' });
    const leak = ranked[0]!;
    expect(leak.growth_per_request).toBe(2_000);
    // The baseline (index 1) is left out; cumulative requests start at 1.
    expect(leak.history[0]).toEqual({ index: 2, requests: 1, size: 12_000 });
    expect(leak.history).toHaveLength(n - 1);
    expect(leak.first_size).toBe(12_000);
    expect(leak.last_size).toBe(10_000 + 2_000 * (n - 1));
  });

  it('takes a function that grew a few KB while V8 compiled it for flat, one that leaks through its closure for growing', () => {
    const ranked = rankSuspects(
      records({
        // TurboFan code after the first calls: +3 KB once, then nothing.
        handle: [600, 1_400, 3_600, 3_600, 3_600, 3_600, 3_600],
        // A closure over a private array: +2 KB per request.
        closure: linear(1_000, 2_000, 7),
      }),
    );
    const verdicts = Object.fromEntries(ranked.map((s) => [s.name, s.verdict]));
    expect(verdicts).toEqual({ handle: 'flat', closure: 'growing' });
  });

  it('measures growth per request, not per record, when signals were folded', () => {
    // 500 bytes per request; records cover 1, 4, 2, 3 requests.
    const requests = [1, 1, 4, 2, 3];
    let size = 1_000;
    const sizes = requests.map((r, i) => (i === 0 ? size : (size += 500 * r)));
    const [leak] = rankSuspects(records({ leak: sizes }, { requests }));
    expect(leak!.growth_per_request).toBe(500);
    expect(leak!.history.map((h) => h.requests)).toEqual([1, 5, 7, 10]);
  });

  it('looks at the latest session only and ignores its baseline', () => {
    const old = records({ leak: linear(1_000, 5_000, 6) }, { session: 'old' });
    // After a restart the object is small again and has not grown.
    const fresh = records({ leak: [50_000, 900, 900, 900] }, { session: 'new', startIndex: 7 });
    const [leak] = rankSuspects([...old, ...fresh]);
    expect(leak!.verdict).toBe('flat');
    expect(leak!.history.map((h) => h.index)).toEqual([8, 9, 10]);
  });

  it('leaves out entries that are gone from the latest record, and answers [] without data', () => {
    const list = records({ leak: linear(1_000, 2_000, 5), temp: linear(1_000, 2_000, 5) });
    list[list.length - 1]!.entries = list[list.length - 1]!.entries.filter((e) => e.name !== 'temp');
    expect(rankSuspects(list).map((s) => s.name)).toEqual(['leak']);
    expect(rankSuspects([])).toEqual([]);
    expect(rankSuspects(records({ leak: [1_000] }))).toEqual([]);
  });

  it('judges only the recent window', () => {
    // Grew long ago, flat for the last 20 records: with a window of 10 it is flat.
    const sizes = [...linear(1_000, 4_000, 10), ...Array(20).fill(37_000)];
    expect(rankSuspects(records({ cache: sizes }), { window: 10 })[0]!.verdict).toBe('flat');
    expect(rankSuspects(records({ cache: sizes }), { window: 30 })[0]!.verdict).toBe('plateaued');
  });
});

describe('slopePerRequest', () => {
  it('fits a line by least squares and is 0 when requests do not vary', () => {
    expect(
      slopePerRequest([
        { requests: 1, size: 10 },
        { requests: 2, size: 20 },
        { requests: 3, size: 30 },
      ]),
    ).toBeCloseTo(10);
    expect(
      slopePerRequest([
        { requests: 0, size: 10 },
        { requests: 2, size: 10 },
        { requests: 4, size: 40 },
      ]),
    ).toBeCloseTo(7.5);
    expect(
      slopePerRequest([
        { requests: 3, size: 10 },
        { requests: 3, size: 90 },
      ]),
    ).toBe(0);
  });
});

describe('biggestMover', () => {
  it('names the entry with the largest change since the previous record of the same session', () => {
    const [a, b] = records({ leak: [1_000, 13_600], config: [500, 300] });
    expect(biggestMover(a, b!)).toMatchObject({ entry: { name: 'leak' }, delta: 12_600 });
    expect(biggestMover(undefined, b!)).toBeUndefined();
    expect(biggestMover({ ...a!, session: 'other' }, b!)).toBeUndefined();
  });
});

describe('rankSuspects verdicts look at the recent records', () => {
  /** A deterministic wobble in [-1, 1] (an LCG), so the noisy cases are the same on every run. */
  function wobble(seed: number, n: number): number[] {
    let x = seed;
    return Array.from({ length: n }, () => {
      x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
      return (x / 2 ** 31) * 2 - 1;
    });
  }
  const verdicts = (ranked: ReturnType<typeof rankSuspects>) =>
    Object.fromEntries(ranked.map((s) => [s.name, s.verdict]));

  it('calls an LRU of 16 that filled up in 17 records and stayed flat for 11 plateaued, not growing', () => {
    // Baseline, then one request per record: it grows in each of the first 17 records
    // (16 items of 600 bytes, then its table) and not in the last 11.
    const lru = [4_000, ...Array.from({ length: 28 }, (_, i) => 4_000 + 600 * Math.min(i + 1, 17) + (i % 3) * 24)];
    const [cache] = rankSuspects(records({ cache: lru }));
    expect(cache!.history).toHaveLength(28);
    expect(cache!.verdict).toBe('plateaued');
  });

  it('calls a steady leak growing, and one with noise too, ranked by growth per request', () => {
    const n = 30;
    const noise = wobble(7, n);
    const ranked = rankSuspects(
      records({
        steady: linear(8_000, 1_500, n),
        // 3 KB per request, give or take 1.2 KB: some steps even go down.
        noisy: Array.from({ length: n }, (_, i) => 20_000 + 3_000 * i + Math.round(1_200 * noise[i]!)),
      }),
    );
    expect(verdicts(ranked)).toEqual({ steady: 'growing', noisy: 'growing' });
    expect(ranked.map((s) => s.name)).toEqual(['noisy', 'steady']);
    expect(ranked[1]!.growth_per_request).toBe(1_500);
    // The recent fit of the noisy one is near its 3 KB.
    expect(Math.abs(ranked[0]!.growth_per_request - 3_000)).toBeLessThan(1_000);
  });

  it('calls functions and objects that grew a few hundred bytes in their first calls flat', () => {
    const n = 25;
    const settle = (first: number[]) => [...first, ...Array(n - first.length).fill(first.at(-1))];
    const ranked = rankSuspects(
      records({
        // Feedback vector, inline caches: +240, +180, +90 in the first calls.
        handle: settle([700, 940, 1_120, 1_210]),
        // An object that got two more properties on the first requests.
        config: settle([2_000, 2_064, 2_160]),
      }),
    );
    expect(verdicts(ranked)).toEqual({ handle: 'flat', config: 'flat' });
  });

  it('calls a leak that started late growing, measured at its recent rate, ahead of a slower steady leak and a filled cache', () => {
    const quiet = 30;
    const late = [...Array(quiet).fill(12_000), ...linear(12_000 + 4_000, 4_000, 8)];
    const n = late.length;
    const ranked = rankSuspects(
      records({
        late,
        steady: linear(5_000, 1_000, n),
        cache: Array.from({ length: n }, (_, i) => 3_000 + 800 * Math.min(i, 12)),
      }),
    );
    expect(ranked.map((s) => [s.name, s.verdict])).toEqual([
      ['late', 'growing'],
      ['steady', 'growing'],
      ['cache', 'plateaued'],
    ]);
    // A fit over the whole window would say well under 2 KB per request; it costs 4 KB now.
    expect(ranked[0]!.growth_per_request).toBe(4_000);
  });

  it('does not call a filled cache that wobbles up and down by a few bytes growing', () => {
    const n = 30;
    const noise = wobble(11, n);
    const sizes = Array.from({ length: n }, (_, i) => 10_000 + 1_000 * Math.min(i, 8) + Math.round(60 * noise[i]!));
    expect(rankSuspects(records({ cache: sizes }))[0]!.verdict).toBe('plateaued');
  });
});

describe('rankSuspects with heap-wide growers', () => {
  /** The app's `server` entry holds the store ten steps down; the store's sessions object (node 77) is a grower. */
  function withGrowers(n: number, perRequest: number): HeapRecord[] {
    const out = records({ server: linear(50_000, perRequest + 60, n) });
    out.forEach((record, i) => {
      record.entries[0]!.path = [
        {
          id: 5,
          edge: '',
          type: 'object',
          name: 'Server',
          self_size: 100,
          retained_size: record.entries[0]!.dominated_size,
          length: 3,
        },
        {
          id: 77,
          edge: 'sessions',
          type: 'object',
          name: 'Object',
          self_size: 100,
          retained_size: 1_000 + perRequest * i,
          length: i,
        },
      ];
      // Found from the fourth record on (three snapshots compared).
      if (i < 3) return;
      record.growers = [
        {
          obj_type: 'Object',
          name: 'MemoryStore.sessions',
          dominated_size: 1_000 + perRequest * i,
          filename: 'app.js',
          lineno: 10,
          module_name: 'app.js',
          id: 77,
          path: [
            {
              id: 77,
              edge: '',
              type: 'object',
              name: 'Object',
              self_size: 100,
              retained_size: 1_000 + perRequest * i,
              length: i,
            },
          ],
          length: i,
          owner: { kind: 'call', name: 'session(…) from express-session' },
          retainers: [{ id: 1, edge: '', type: 'synthetic', name: '' }],
        },
      ];
    });
    return out;
  }

  it('ranks a grower with the entries, and before an entry that grows only because the grower is on its path', () => {
    const ranked = rankSuspects(withGrowers(16, 250));
    expect(ranked.map((s) => [s.name, s.verdict])).toEqual([
      ['MemoryStore.sessions', 'growing'],
      ['server', 'growing'],
    ]);
    const grower = ranked[0]!;
    expect(grower).toMatchObject({
      module_name: 'app.js',
      filename: 'app.js',
      lineno: 10,
      owner: { kind: 'call', name: 'session(…) from express-session' },
    });
    // Its history starts where it was found; its growth is its own.
    expect(grower.history.map((h) => h.index)).toEqual(linear(4, 1, 13));
    expect(grower.growth_per_request).toBe(250);
    expect(ranked[1]!.owner).toBeUndefined();
  });

  it('a grower that stopped growing reads plateaued', () => {
    const out = withGrowers(16, 250);
    out.forEach((record, i) => {
      if (i >= 8 && record.growers) record.growers[0]!.dominated_size = 1_000 + 250 * 8;
    });
    const grower = rankSuspects(out).find((s) => s.name === 'MemoryStore.sessions')!;
    expect(grower.verdict).toBe('plateaued');
  });
});
