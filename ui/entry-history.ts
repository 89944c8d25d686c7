import type { Entry, HeapRecord } from '../profiler/record.js';

/** One object's sizes over the records, for the code browser's header. */
export interface EntryHistory {
  /** The entry as the latest record that holds it describes it. */
  latest: Entry;
  /** Its size in each record of the latest session (baseline records left out), oldest first. */
  points: { index: number; requests: number; size: number }[];
  /** Bytes per request: least-squares slope of size over cumulative requests. */
  growthPerRequest: number;
}

/**
 * The history of `module · name` over `records` (oldest first), or undefined when no
 * record holds it. Like /api/suspects, it looks at the latest session only, because
 * node ids and sizes restart with the target, and skips baseline records, in which V8
 * builds its internal caches.
 */
export function entryHistory(records: HeapRecord[], moduleName: string, name: string): EntryHistory | undefined {
  let latest: Entry | undefined;
  let session: string | undefined;
  for (let i = records.length - 1; i >= 0 && !latest; i--) {
    latest = records[i]!.entries.find((e) => e.module_name === moduleName && e.name === name);
    session = records[i]!.session;
  }
  if (!latest) return undefined;
  const points: EntryHistory['points'] = [];
  let requests = 0;
  for (const record of records) {
    requests += record.requests;
    if (record.session !== session || record.baseline) continue;
    const entry = record.entries.find((e) => e.module_name === moduleName && e.name === name);
    if (entry) points.push({ index: record.index, requests, size: entry.dominated_size });
  }
  return { latest, points, growthPerRequest: slope(points) };
}

function slope(points: { requests: number; size: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  for (const p of points) {
    sx += p.requests;
    sy += p.size;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.requests - mx) * (p.size - my);
    sxx += (p.requests - mx) ** 2;
  }
  return sxx === 0 ? 0 : sxy / sxx;
}
