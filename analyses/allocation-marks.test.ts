import { describe, expect, it } from 'vitest';
import { allocationMarks } from './allocation-marks.js';
import type { EntrySample } from './growth-compare.js';
import type { AllocationSite, Entry } from '../contract/record.js';

function sample(index: number, requests: number, allocations: AllocationSite[] | undefined): EntrySample {
  const entry: Entry = {
    obj_type: 'Array',
    name: 'history',
    dominated_size: 1000 * index,
    filename: 'src/app.js',
    lineno: 3,
    module_name: 'src/app.js',
  };
  if (allocations) entry.allocations = allocations;
  return { index, requests, entry };
}

const here = (count: number, bytes: number): AllocationSite => ({
  module_name: 'src/app.js',
  filename: 'src/app.js',
  line: 12,
  column: 20,
  function_name: 'remember',
  count,
  bytes,
});
const elsewhere = (count: number, bytes: number): AllocationSite => ({
  module_name: 'src/routes.js',
  filename: 'src/routes.js',
  line: 40,
  column: 3,
  function_name: 'handle',
  count,
  bytes,
});
const noise: AllocationSite = { ...here(1, 10), line: 90, function_name: 'tick' };

describe('allocationMarks', () => {
  it('gives the median growth per request of each site over the window', () => {
    // Cumulative requests 2 → 4 → 8: 6 requests between the first and the last sample.
    const samples = [
      sample(2, 2, [here(10, 1000), elsewhere(1, 50), noise]),
      sample(3, 4, [here(14, 1400), elsewhere(3, 350), noise]),
      sample(4, 8, [here(22, 2200), elsewhere(7, 950), noise, { ...noise, line: 95, count: 3, bytes: 40 }]),
    ];
    const marks = allocationMarks(samples, 'src/app.js');
    expect(marks).toEqual([
      { line: 12, kind: 'allocation', reason: 'allocates 2 objects (+200 B) per request in remember()' },
      {
        line: 40,
        kind: 'allocation',
        reason: 'allocates 1 object (+150 B) per request in handle()',
        module_name: 'src/routes.js',
      },
    ]);
  });

  it('is not thrown off by a record in which V8 lost the stacks of the older objects', () => {
    const samples = [
      sample(2, 2, [here(10, 1000)]),
      sample(3, 4, [here(14, 1400)]),
      sample(4, 6, []), // every older object without its stack
      sample(5, 8, [here(4, 400)]),
      sample(6, 10, [here(8, 800)]),
    ];
    expect(allocationMarks(samples, 'src/app.js')).toEqual([
      { line: 12, kind: 'allocation', reason: 'allocates 2 objects (+200 B) per request in remember()' },
    ]);
  });

  it('marks nothing without allocation data, with one sample, or without requests', () => {
    expect(allocationMarks([sample(2, 1, undefined), sample(3, 2, undefined)], 'src/app.js')).toEqual([]);
    expect(allocationMarks([sample(2, 1, [here(3, 30)])], 'src/app.js')).toEqual([]);
    expect(allocationMarks([sample(2, 0, [here(3, 30)]), sample(3, 0, [here(5, 50)])], 'src/app.js')).toEqual([]);
    // A bounded cache: its sites hold as many objects at the end as at the start.
    expect(allocationMarks([sample(2, 5, [here(30, 3000)]), sample(3, 9, [here(30, 3000)])], 'src/app.js')).toEqual([]);
  });
});
