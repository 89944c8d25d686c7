import { describe, expect, it } from 'vitest';
import type { Suspect } from '../contract/record.js';
import { formatReport, judgeSuspects, splitSuspects, recentGrowth } from './check-verdict.js';

function suspect(name: string, sizes: number[], verdict: Suspect['verdict'], extra: Partial<Suspect> = {}): Suspect {
  return {
    module_name: 'app.mjs',
    name,
    obj_type: 'Array',
    filename: 'app.mjs',
    lineno: 3,
    first_size: sizes[0]!,
    last_size: sizes.at(-1)!,
    growth_per_request: 0,
    verdict,
    history: sizes.map((size, i) => ({ index: i + 2, requests: i + 1, size })),
    ...extra,
  };
}

describe('the check verdict', () => {
  it('measures the rate over the second half, so a warm-up step does not count', () => {
    // +8 KB in the first request, then nothing.
    expect(
      recentGrowth([1000, 9000, 9000, 9000, 9000, 9000, 9000, 9000].map((size, i) => ({ requests: i + 1, size }))),
    ).toEqual({ rate: 0, grewIn: 0, rounds: 3 });
    // A steady 2 KB per request.
    const steady = recentGrowth([0, 1, 2, 3, 4, 5].map((k) => ({ requests: k + 1, size: 2048 * k })));
    expect(steady.rate).toBeCloseTo(2048);
    expect([steady.grewIn, steady.rounds]).toEqual([2, 2]);
  });

  it('judges at the ends of rounds when a round sends several requests', () => {
    // Two requests a round, one snapshot each: only the ends of rounds (even counts) count.
    const history = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((requests) => ({
      requests,
      size: requests % 2 === 0 ? 1000 * requests : 50_000,
    }));
    const growth = recentGrowth(history, 2);
    expect(growth.rate).toBeCloseTo(1000);
    expect([growth.grewIn, growth.rounds]).toEqual([2, 2]);
  });

  it('a one-off step in the second half is not a leak, however large', () => {
    const step = suspect('fn', [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 9000, 9000, 9000, 9000], 'growing');
    expect(recentGrowth(step.history).rate).toBeGreaterThan(256);
    expect(judgeSuspects([step], 256)).toEqual([]);
  });

  it('fails a growing entry above the threshold only', () => {
    const leak = suspect(
      'messages',
      [0, 1, 2, 3, 4, 5, 6, 7].map((k) => 1000 + 1500 * k),
      'growing',
      {
        growth_path: {
          steps: [],
          summary: 'messages → Array: +1 element, +1.5 KB per request',
          expression: 'messages',
          bytes_per_request: 1500,
          elements_per_request: 1,
          from_index: 2,
          to_index: 9,
          requests: 7,
        },
        marked_lines: [{ line: 9, reason: 'adds to messages (push)', kind: 'reference' }],
      },
    );
    const slow = suspect(
      'slow',
      [0, 1, 2, 3, 4, 5, 6, 7].map((k) => 1000 + 300 * k),
      'growing',
    );
    const cache = suspect('cache', [1000, 3000, 5000, 7000, 7000, 7000, 7000, 7000], 'plateaued');
    const leaks = judgeSuspects([slow, cache, leak], 512);
    expect(leaks.map((l) => l.name)).toEqual(['messages']);
    expect(leaks[0]!.growth_per_request).toBe(1500);
    expect(leaks[0]!.growth_path).toBe('messages → Array: +1 element, +1.5 KB per request');
    expect(leaks[0]!.marked_lines).toEqual(['app.mjs:9 (adds to messages (push))']);
    expect(judgeSuspects([slow], 256).map((l) => l.name)).toEqual(['slow']);
  });

  it('prints each leak with its rate, place, growth path and lines', () => {
    const leak = suspect(
      'messages',
      [0, 1, 2, 3, 4, 5].map((k) => 2048 * k),
      'growing',
    );
    const report = {
      passed: false,
      threshold: 512,
      requests: { rounds: 6, sent: 6, each: [{ method: 'GET', path: '/leak' }] },
      records: 6,
      watched: 3,
      plateaued: [],
      suspects: judgeSuspects([leak], 512),
      below_threshold: [],
    };
    const text = formatReport(report);
    expect(text).toMatch(
      /^apptrace check: FAILED — 1 object kept growing by more than 512 B\/request over 6 × GET \/leak \(6 requests\)/,
    );
    expect(text).toContain('messages (Array) at app.mjs:3');
    expect(text).toContain('+2.0 KB/request after warm-up, growing in 2 of its last 2 rounds');
    expect(formatReport({ ...report, passed: true, suspects: [], plateaued: ['cache'] })).toMatch(
      /passed — none of 3 objects .*grew then levelled off: cache/,
    );
  });

  it('lists what grows below the threshold instead of a bare "passed"', () => {
    // 200 B per request in every round: growing, but under a 256 B threshold; the last
    // half of the 8 records (4 points, 3 rounds) is judged.
    const slow = suspect(
      'users',
      [0, 1, 2, 3, 4, 5, 6, 7].map((k) => 1000 + 200 * k),
      'growing',
    );
    const { leaks, belowThreshold } = splitSuspects([slow], 256);
    expect(leaks).toEqual([]);
    expect(belowThreshold.map((s) => [s.name, s.growth_per_request])).toEqual([['users', 200]]);
    const text = formatReport({
      passed: true,
      threshold: 256,
      requests: { rounds: 8, sent: 8, each: [{ method: 'GET', path: '/users/{i}' }] },
      records: 8,
      watched: 1,
      plateaued: [],
      suspects: leaks,
      below_threshold: belowThreshold,
    });
    expect(text).toMatch(/^apptrace check: passed/);
    expect(text).toContain('still growing, below the threshold or in too few rounds (1):');
    expect(text).toContain(
      'users (Array) at app.mjs:3: +200 B/request after warm-up, growing in 3 of its last 3 rounds',
    );
  });

  it('fails a collection that gains an element per request though its bytes stay under the threshold', () => {
    // express-session's MemoryStore: ~250 B per cookieless request, one property each.
    const path: NonNullable<Suspect['growth_path']> = {
      steps: [],
      summary: 'store.sessions → Object: +1 property, +250 B per request',
      expression: 'store.sessions',
      bytes_per_request: 250,
      elements_per_request: 1,
      from_index: 2,
      to_index: 9,
      requests: 7,
    };
    const sessions = suspect(
      'sessions',
      [0, 1, 2, 3, 4, 5, 6, 7].map((k) => 1000 + 250 * k),
      'growing',
      { growth_path: path },
    );
    expect(splitSuspects([sessions], 256).leaks.map((s) => s.name)).toEqual(['sessions']);
    // A threshold raised above the default lifts the rule: the collection is listed below it.
    const raised = splitSuspects([sessions], 2048, 1, false);
    expect(raised.leaks).toEqual([]);
    expect(raised.belowThreshold.map((s) => s.name)).toEqual(['sessions']);
    // Bytes alone, with no element on its path, still need the threshold.
    expect(
      splitSuspects(
        [
          suspect(
            'blob',
            [0, 1, 2, 3, 4, 5, 6, 7].map((k) => 1000 + 250 * k),
            'growing',
          ),
        ],
        256,
      ).leaks,
    ).toEqual([]);
  });
});
