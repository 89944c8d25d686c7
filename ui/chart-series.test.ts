import { describe, expect, it } from 'vitest';
import { groupSmallFlat, sessionRuns } from './chart-series.js';

describe('sessionRuns', () => {
  it('starts a run at each change of session, with positions and record indexes', () => {
    const runs = sessionRuns([
      { index: 1, session: 'a' },
      { index: 2, session: 'a' },
      { index: 3, session: 'b' },
      { index: 7, session: 'b' },
      { index: 8, session: 'c' },
    ]);
    expect(runs).toEqual([
      { id: 'a', number: 1, start: 0, end: 1, firstIndex: 1, lastIndex: 2 },
      { id: 'b', number: 2, start: 2, end: 3, firstIndex: 3, lastIndex: 7 },
      { id: 'c', number: 3, start: 4, end: 4, firstIndex: 8, lastIndex: 8 },
    ]);
  });

  it('treats records without a session as one session, and no records as none', () => {
    expect(sessionRuns([{ index: 1 }, { index: 2 }]).map((r) => [r.start, r.end])).toEqual([[0, 1]]);
    expect(sessionRuns([])).toEqual([]);
  });
});

describe('groupSmallFlat', () => {
  const flat = (label: string, base: number) => ({ label, values: [base, base + 10, null, base + 5] });

  it('folds small flat series into their sum and keeps the climbing one and the big flat one', () => {
    const climbing = { label: 'leak', values: [1000, 5000, 9000, 13000] };
    const big = { label: 'big', values: [100_000, 100_010, 100_000, 100_020] };
    const result = groupSmallFlat([climbing, flat('a', 100), flat('b', 200), flat('c', 300), big]);
    expect(result.shown.map((s) => s.label)).toEqual(['leak', 'big']);
    expect(result.members).toEqual(['a', 'b', 'c']);
    expect(result.group?.label).toBe('3 small flat objects (sum)');
    // Per record: 100+200+300, then each +10, none present, each +5.
    expect(result.group?.values).toEqual([600, 630, null, 615]);
  });

  it('never groups a small series that grows by more than the noise', () => {
    const smallLeak = { label: 'small leak', values: [100, 700, 1300, 1900] };
    const big = { label: 'big', values: [100_000, 100_000, 100_000, 100_000] };
    const result = groupSmallFlat([smallLeak, flat('a', 1), flat('b', 2), flat('c', 3), big]);
    expect(result.shown.map((s) => s.label)).toEqual(['small leak', 'big']);
  });

  it('leaves the series alone when fewer than three qualify', () => {
    const big = { label: 'big', values: [100_000, 100_000] };
    const result = groupSmallFlat([big, flat('a', 1), flat('b', 2)]);
    expect(result.group).toBeNull();
    expect(result.shown.map((s) => s.label)).toEqual(['big', 'a', 'b']);
  });
});
