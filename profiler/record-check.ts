import type { HeapRecord } from '../contract/record.js';

/**
 * Checks a record read back from a store file, field by field, so that a store holding a
 * broken record (`null`, `heap: null`, an entry without a name…) is refused when it is
 * opened, naming the record, instead of failing later in the suspects, the CSV or the
 * code browser with a 500. Returns what is wrong, or undefined.
 */
export function recordProblem(record: unknown): string | undefined {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return 'it is not an object';
  const r = record as Record<string, unknown>;
  if (!isCount(r['index']) || r['index'] < 1) return '"index" is not a whole number from 1';
  if (typeof r['at'] !== 'string' || Number.isNaN(Date.parse(r['at']))) return '"at" is not a date';
  if (!isCount(r['requests'])) return '"requests" is not a count';
  const request = r['request'];
  if (request !== null) {
    if (!isObject(request)) return '"request" is neither null nor {method, url, status}';
    if (typeof request['method'] !== 'string' || typeof request['url'] !== 'string' || !isNumber(request['status'])) {
      return '"request" needs "method", "url" (strings) and "status" (a number)';
    }
  }
  const heap = r['heap'];
  if (
    !isObject(heap) ||
    !isNumber(heap['total_size']) ||
    !isNumber(heap['node_count']) ||
    !isNumber(heap['edge_count'])
  ) {
    return '"heap" needs "total_size", "node_count" and "edge_count" (numbers)';
  }
  const timings = r['timings'];
  if (!isObject(timings) || !isNumber(timings['capture_ms']) || !isNumber(timings['analysis_ms'])) {
    return '"timings" needs "capture_ms" and "analysis_ms" (numbers)';
  }
  if (r['snapshot'] !== undefined && typeof r['snapshot'] !== 'string') return '"snapshot" is not a file name';
  if (r['baseline'] !== undefined && typeof r['baseline'] !== 'boolean') return '"baseline" is not true or false';
  if (r['session'] !== undefined && typeof r['session'] !== 'string') return '"session" is not a string';
  const entries = r['entries'];
  if (!Array.isArray(entries)) return 'it has no "entries" list';
  for (let i = 0; i < entries.length; i++) {
    const why = entryProblem(entries[i]);
    if (why) return `entry ${i + 1} ${why}`;
  }
  return undefined;
}

function entryProblem(entry: unknown): string | undefined {
  if (!isObject(entry)) return 'is not an object';
  for (const field of ['obj_type', 'name', 'filename', 'module_name'] as const) {
    if (typeof entry[field] !== 'string') return `has no "${field}" string`;
  }
  if (!isNumber(entry['dominated_size'])) return 'has no "dominated_size" number';
  if (!isNumber(entry['lineno'])) return 'has no "lineno" number';
  if (entry['path'] !== undefined && !(Array.isArray(entry['path']) && entry['path'].every(isObject)))
    return 'has a "path" that is not a list of steps';
  if (
    entry['allocations'] !== undefined &&
    !(Array.isArray(entry['allocations']) && entry['allocations'].every(isObject))
  ) {
    return 'has "allocations" that are not a list of sites';
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isCount(value: unknown): value is number {
  return isNumber(value) && Number.isInteger(value) && value >= 0;
}

/** The type guard that the store relies on after `recordProblem` said nothing. */
export function isHeapRecord(record: unknown): record is HeapRecord {
  return recordProblem(record) === undefined;
}
