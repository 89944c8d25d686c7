import { describe, expect, it } from 'vitest';
import type { HeapRecord } from '../contract/record.js';
import { rankSuspects } from './suspects.js';

/** A baseline, then one record per request with the function entry `remember` at these sizes. */
function recordsOf(sizes: number[]): HeapRecord[] {
  return sizes.map((size, i) => ({
    index: i + 1,
    at: new Date(Date.UTC(2026, 11, 4, 5, 0, i)).toISOString(),
    requests: 1,
    request: { method: 'GET', url: '/slow', status: 200 },
    baseline: i === 0,
    session: 's',
    heap: { total_size: 1e6, node_count: 1, edge_count: 1 },
    timings: { capture_ms: 1, analysis_ms: 1 },
    entries: [
      {
        obj_type: 'function',
        name: 'remember',
        dominated_size: size,
        filename: 'server.mjs',
        lineno: 12,
        module_name: 'server.mjs',
      },
    ],
  }));
}

const verdictOf = (sizes: number[]) => rankSuspects(recordsOf(sizes))[0]!.verdict;

describe('functions below the code allowance', () => {
  it('a function that leaks 300 B per request through its closure is growing after 16 requests (4.8 KB, under 8 KB)', () => {
    const sizes = Array.from({ length: 17 }, (_, i) => 5000 + 300 * i);
    const [suspect] = rankSuspects(recordsOf(sizes));
    expect(suspect!.verdict).toBe('growing');
    expect(suspect!.growth_per_request).toBe(300);
  });

  it('a function whose code grew in its first calls and once more when optimised stays flat', () => {
    // Feedback in the first four calls, a 4 KB step when TurboFan compiles it, then nothing.
    const sizes = [
      5000, 5200, 5400, 5500, 5550, 5550, 5550, 9550, 9550, 9550, 9550, 9550, 9550, 9550, 9550, 9550, 9550,
    ];
    expect(verdictOf(sizes)).toBe('flat');
  });

  it('growth in every step that adds up to less than 1 KB stays flat', () => {
    const sizes = Array.from({ length: 17 }, (_, i) => 5000 + 16 * i);
    expect(verdictOf(sizes)).toBe('flat');
  });

  it('a function that stopped growing two steps ago is not growing', () => {
    const sizes = [...Array.from({ length: 15 }, (_, i) => 5000 + 300 * i), 9200, 9200];
    expect(verdictOf(sizes)).toBe('flat');
  });
});
