import { allocationMarks } from './allocation-marks.js';
import { compareGrowthPaths } from './growth-compare.js';
import type { EntrySample } from './growth-compare.js';
import type { Entry, HeapGrower, HeapRecord, Suspect, Verdict } from '../contract/record.js';
import { entryKey } from '../contract/record.js';

/**
 * Ranking of entries by how fast they grow per matching request.
 *
 * Only the latest session counts (node ids and the heap itself start over when the
 * target restarts), and only records that are not baselines. For every entry alive in
 * the latest record, its size is fitted by least squares against the cumulative number
 * of requests, over the most recent `window` records. The verdict then separates three
 * shapes a developer meets all the time, judged on the *recent* records (the last
 * `recent` ones, about a fifth of the window, at least 5): a fit over the whole window
 * calls a bounded cache that filled up and then stayed flat for a while "growing";
 * - **growing** — it keeps growing now: most of the recent steps are increases and the
 *   recent slope is significant (a t-test on the fit, so V8's wobble is not growth): a
 *   leak, a leak that started late, or a cache that has not filled up yet;
 * - **plateaued** — it grew by more than V8's noise over the window, but not recently:
 *   a bounded cache (an LRU of 16 that grew for 17 records and has been flat since);
 * - **flat** — it changed by less than `flatBytes` overall: most objects, and functions
 *   whose size rose in their first calls (feedback vectors, inline caches, optimised
 *   code: a few hundred bytes, a few KB once TurboFan compiles it). Functions and
 *   classes get the larger `functionFlatBytes`; one that leaks through its closure
 *   passes that soon enough.
 * Heap-wide growers (HeapRecord.growers: objects that keep growing wherever they are
 * held) are ranked with the entries, under the same rules; an entry that grows only
 * because a growing grower is on its growth path comes after the growers of its verdict.
 * Growing entries come first, by their recent growth per request (what a request costs
 * now), then plateaued, then flat, each by growth per request over the window.
 */
export interface SuspectOptions {
  /** How many recent non-baseline records the verdict looks at. */
  window?: number;
  /** How many of the latest records tell "still growing" from "stopped"; default a fifth of the window, 5 to 10. */
  recent?: number;
  /** Changes smaller than this over the window are V8's own noise, not growth. */
  flatBytes?: number;
  /** The same for functions and classes, whose compiled code grows in their first calls. */
  functionFlatBytes?: number;
}

const DEFAULT_WINDOW = 50;
const DEFAULT_FLAT_BYTES = 1024;
const DEFAULT_FUNCTION_FLAT_BYTES = 8 * 1024;
const ORDER: Record<Verdict, number> = { growing: 0, plateaued: 1, flat: 2 };

export function rankSuspects(records: readonly HeapRecord[], options: SuspectOptions = {}): Suspect[] {
  const window = Math.max(2, options.window ?? DEFAULT_WINDOW);
  const flatBytes = options.flatBytes ?? DEFAULT_FLAT_BYTES;
  const functionFlatBytes = options.functionFlatBytes ?? DEFAULT_FUNCTION_FLAT_BYTES;
  const session = latestSession(records);
  if (session === null) return [];

  // Cumulative requests over the session's non-baseline records.
  const points: { record: HeapRecord; requests: number }[] = [];
  let cumulative = 0;
  for (const record of session) {
    if (record.baseline) continue;
    cumulative += record.requests;
    points.push({ record, requests: cumulative });
  }
  if (points.length === 0) return [];

  const histories = new Map<string, { entry: Entry; history: Suspect['history']; samples: EntrySample[] }>();
  for (const { record, requests } of points) {
    for (const entry of largestByKey(withGrowers(record)).values()) {
      const key = entryKey(entry);
      let item = histories.get(key);
      if (!item) histories.set(key, (item = { entry, history: [], samples: [] }));
      item.entry = entry;
      item.history.push({ index: record.index, requests, size: entry.dominated_size });
      item.samples.push({ index: record.index, requests, entry });
    }
  }

  const latest = points[points.length - 1]!.record;
  const alive = new Set(withGrowers(latest).map(entryKey));
  const suspects: Suspect[] = [];
  for (const [key, { entry, history, samples }] of histories) {
    if (!alive.has(key)) continue;
    const recent = history.slice(-window);
    const code = entry.obj_type === 'function' || entry.obj_type === 'class';
    // `fitted`: how many of the latest points the rate was fitted over; the growth path
    // and the allocation marks use the same records, so every figure of one object agrees.
    const { verdict, slope, fitted } = code
      ? judgeCode(recent, flatBytes, functionFlatBytes, options.recent)
      : judge(recent, flatBytes, options.recent);
    suspects.push({
      module_name: entry.module_name,
      name: entry.name,
      obj_type: entry.obj_type,
      filename: entry.filename,
      lineno: entry.lineno,
      first_size: recent[0]!.size,
      last_size: recent[recent.length - 1]!.size,
      growth_per_request: Math.round(slope * 10) / 10,
      verdict,
      history,
      // Where it grows, from the entry's growth paths over the same window (growth-compare.ts).
      growth_path: verdict === 'growing' ? compareGrowthPaths(samples.slice(-fitted)) : null,
      // Where its new objects were allocated (--allocation-sites; allocation-marks.ts).
      ...(verdict === 'growing' ? { marked_lines: allocationMarks(samples.slice(-fitted), entry.filename) } : {}),
      // A heap-wide grower: who holds it and how (profiler/heap/grower-owner.ts).
      ...('owner' in entry ? { owner: (entry as HeapGrower).owner, retainers: (entry as HeapGrower).retainers } : {}),
    });
  }
  // An entry whose growth path passes through a growing heap-wide grower grows because
  // of it: the grower, which names the collection and its owner, goes first.
  const growingGrowers = new Set<number>();
  for (const grower of latest.growers ?? []) {
    const suspect = suspects.find(
      (s) => s.owner !== undefined && s.name === grower.name && s.module_name === grower.module_name,
    );
    if (suspect?.verdict === 'growing' && grower.id !== undefined) growingGrowers.add(grower.id);
  }
  const covered = new Set<Suspect>();
  if (growingGrowers.size > 0) {
    const latestEntries = largestByKey(latest.entries);
    for (const suspect of suspects) {
      if (suspect.owner !== undefined) continue;
      const path = latestEntries.get(entryKey(suspect))?.path ?? [];
      if (path.some((step) => growingGrowers.has(step.id))) covered.add(suspect);
    }
  }
  const rank = (s: Suspect) => (covered.has(s) ? 1 : 0);
  return suspects.sort(
    (a, b) =>
      ORDER[a.verdict] - ORDER[b.verdict] ||
      rank(a) - rank(b) ||
      b.growth_per_request - a.growth_per_request ||
      a.name.localeCompare(b.name),
  );
}

/**
 * A record's entries and its heap-wide growers (HeapRecord.growers), ranked alike: a
 * grower is keyed by its owner's file and its name (`MemoryStore.sessions`).
 */
function withGrowers(record: HeapRecord): Entry[] {
  return record.growers && record.growers.length > 0 ? [...record.entries, ...record.growers] : record.entries;
}

/** The records of the session of the latest record (records without a session form one). */
function latestSession(records: readonly HeapRecord[]): HeapRecord[] | null {
  if (records.length === 0) return null;
  const session = records[records.length - 1]!.session;
  let start = records.length - 1;
  while (start > 0 && records[start - 1]!.session === session) start--;
  return records.slice(start);
}

/** One entry per key; when a module exposes one name twice, the larger object counts. */
function largestByKey(entries: readonly Entry[]): Map<string, Entry> {
  const byKey = new Map<string, Entry>();
  for (const entry of entries) {
    const key = entryKey(entry);
    const seen = byKey.get(key);
    if (!seen || entry.dominated_size > seen.dominated_size) byKey.set(key, entry);
  }
  return byKey;
}

/** Least-squares slope of size over cumulative requests; 0 when requests do not vary. */
export function slopePerRequest(points: readonly { requests: number; size: number }[]): number {
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
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    sxx += (p.requests - mx) ** 2;
    sxy += (p.requests - mx) * (p.size - my);
  }
  return sxx === 0 ? 0 : sxy / sxx;
}

function judge(
  points: readonly { requests: number; size: number }[],
  flatBytes: number,
  recentRecords?: number,
): { verdict: Verdict; slope: number; fitted: number } {
  const slope = slopePerRequest(points);
  const all = points.length;
  if (points.length < 2) return { verdict: 'flat', slope, fitted: all };
  let min = Infinity;
  let max = -Infinity;
  for (const p of points) {
    min = Math.min(min, p.size);
    max = Math.max(max, p.size);
  }
  const rise = points[points.length - 1]!.size - points[0]!.size;
  if (max - min < flatBytes || rise <= 0) return { verdict: 'flat', slope, fitted: all };
  const steps = Math.min(points.length - 1, recentRecords ?? Math.min(10, Math.max(5, Math.ceil(points.length / 5))));
  const tail = points.slice(-(steps + 1));
  const recent = recentGrowth(tail, flatBytes);
  if (recent !== null) return { verdict: 'growing', slope: recent, fitted: tail.length };
  return { verdict: 'plateaued', slope, fitted: all };
}

/**
 * A function or class: its compiled code grows in its first calls and when it is
 * optimised (a few steps, up to `functionFlatBytes`), so below that it is flat, unless it
 * grew at every one of the last STEADY_STEPS steps that served requests and by more than
 * `flatBytes` over them: code settles, a leak through the closure (300 B per request into
 * an array only the function holds) does not, and must not wait for 8 KB to show.
 */
function judgeCode(
  points: readonly { requests: number; size: number }[],
  flatBytes: number,
  functionFlatBytes: number,
  recentRecords?: number,
): { verdict: Verdict; slope: number; fitted: number } {
  const asCode = judge(points, functionFlatBytes, recentRecords);
  if (asCode.verdict !== 'flat') return asCode;
  let steps = 0;
  let last = points.length - 1;
  for (let i = points.length - 1; i > 0 && steps < STEADY_STEPS; i--) {
    if (points[i]!.requests === points[i - 1]!.requests) continue;
    if (!(points[i]!.size > points[i - 1]!.size)) return asCode;
    steps++;
    last = i - 1;
  }
  if (steps < STEADY_STEPS || points[points.length - 1]!.size - points[last]!.size < flatBytes) return asCode;
  const asData = judge(points, flatBytes, recentRecords);
  return asData.verdict === 'growing' ? asData : asCode;
}

/** Steps in a row a function must grow at to count as growing below functionFlatBytes. */
const STEADY_STEPS = 6;

/**
 * The slope of `tail` when it shows that the entry still grows, else null. Still growing:
 * at least half of the steps that served requests are increases (a leak with noise goes
 * down now and then; a filled cache goes up about as often as down, or not at all), and
 * the least-squares slope is positive and significant — its t statistic (slope over its
 * standard error) at least 3, and the fitted rise over the tail above a small floor.
 */
function recentGrowth(tail: readonly { requests: number; size: number }[], flatBytes: number): number | null {
  let served = 0;
  let up = 0;
  for (let i = 1; i < tail.length; i++) {
    if (tail[i]!.requests === tail[i - 1]!.requests) continue;
    served++;
    if (tail[i]!.size > tail[i - 1]!.size) up++;
  }
  if (served === 0 || up * 2 < served) return null;
  const slope = slopePerRequest(tail);
  const span = tail[tail.length - 1]!.requests - tail[0]!.requests;
  if (!(slope > 0) || slope * span < flatBytes / 8) return null;
  // Too few points for a t-test: every step must have grown, by more than the noise in all.
  if (tail.length < 4) return up === served && slope * span >= flatBytes ? slope : null;
  return tStatistic(tail, slope) >= MIN_T ? slope : null;
}

/** The fit's slope is significant when it is at least this many standard errors (n - 2 ≥ 2 degrees of freedom). */
const MIN_T = 3;

/** Slope divided by its standard error for a least-squares fit of size over requests; Infinity for a perfect line. */
function tStatistic(points: readonly { requests: number; size: number }[], slope: number): number {
  const n = points.length;
  let mx = 0;
  let my = 0;
  for (const p of points) {
    mx += p.requests / n;
    my += p.size / n;
  }
  let sxx = 0;
  let ssr = 0;
  for (const p of points) sxx += (p.requests - mx) ** 2;
  for (const p of points) ssr += (p.size - (my + slope * (p.requests - mx))) ** 2;
  if (sxx === 0) return 0;
  const standardError = Math.sqrt(ssr / (n - 2) / sxx);
  return standardError === 0 ? Infinity : slope / standardError;
}

/**
 * The entry that changed most since the previous record of the same session, for the
 * terminal's one line per record: `{ entry, delta }`, or undefined when nothing moved.
 */
export function biggestMover(
  previous: HeapRecord | undefined,
  record: HeapRecord,
): { entry: Entry; delta: number } | undefined {
  if (!previous || previous.session !== record.session) return undefined;
  const before = largestByKey(previous.entries);
  let best: { entry: Entry; delta: number } | undefined;
  for (const entry of largestByKey(record.entries).values()) {
    const delta = entry.dominated_size - (before.get(entryKey(entry))?.dominated_size ?? 0);
    if (delta !== 0 && (!best || Math.abs(delta) > Math.abs(best.delta))) best = { entry, delta };
  }
  return best;
}
