import { describe, expect, it } from 'vitest';
import { PauseBudget, checkPauseShare, formatDuration } from './pause-budget.js';

describe('PauseBudget', () => {
  it('after a pause of D, waits so that D over the whole cycle is the share', () => {
    const budget = new PauseBudget(0.1);
    expect(budget.notBefore).toBe(0);
    budget.measured({ pauseMs: 2_000, heapBytes: 20e6, endedAt: 1_000_000 });
    const wait = budget.notBefore - 1_000_000;
    expect(wait).toBe(18_000);
    expect(2_000 / (2_000 + wait)).toBeCloseTo(0.1, 10);
  });

  it('with share 1 does not wait (a snapshot per signal batch)', () => {
    const budget = new PauseBudget(1);
    budget.measured({ pauseMs: 2_000, heapBytes: 20e6, endedAt: 5_000 });
    expect(budget.notBefore).toBe(5_000);
  });

  it('estimates the next pause from the heap at the last pause rate', () => {
    const budget = new PauseBudget(0.1);
    budget.measured({ pauseMs: 1_000, heapBytes: 10 * 1024 * 1024, endedAt: 0 });
    expect(budget.estimate(30 * 1024 * 1024)).toBe(3_000);
    budget.reset();
    expect(budget.notBefore).toBe(0);
    // Before any measure: the prior (tens of ms per MB), not zero.
    expect(budget.estimate(100 * 1024 * 1024)).toBeGreaterThan(1_000);
  });

  it('refuses a share outside (0, 1]', () => {
    for (const bad of ['0', '-0.1', '1.5', 'abc', '', 'NaN'])
      expect(() => checkPauseShare(bad)).toThrow(/between 0 and 1/);
    expect(checkPauseShare('0.25')).toBe('0.25');
    expect(() => new PauseBudget(0)).toThrow(RangeError);
  });

  it('says durations for people', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(3_000)).toBe('3 s');
    expect(formatDuration(2_500)).toBe('2.5 s');
    expect(formatDuration(12_400)).toBe('12 s');
    expect(formatDuration(90_000)).toBe('1.5 min');
  });
});
