/**
 * The median of a list of numbers (the mean of the two middle ones for an even count);
 * 0 for an empty list. The one used by the analyses, the benchmarks and the tests.
 *
 * @example median([3, 1, 2]) === 2; median([1, 2, 3, 4]) === 2.5
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
