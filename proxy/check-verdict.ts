import { formatBytes } from '../common/format-bytes.js';
import type { Suspect } from '../contract/record.js';
import { slopePerRequest } from '../analyses/suspects.js';
import type { CheckRequest } from './check-config.js';

/** A suspect as `/api/suspects` serves it (growth path and marked lines when known). */
export type ServedSuspect = Suspect;

/** One object that made the check fail. */
export interface Leak {
  module_name: string;
  name: string;
  obj_type: string;
  filename: string;
  lineno: number;
  /** Bytes per request over the second half of the run (what the threshold is checked against). */
  growth_per_request: number;
  /** In how many of the rounds of the second half it grew (`grew_in` of `rounds_judged`). */
  grew_in: number;
  rounds_judged: number;
  /** Bytes per request over the whole run, warm-up included (what the UI shows). */
  overall_growth_per_request: number;
  first_size: number;
  last_size: number;
  /** The growth path's one-line summary, when the profiler computed one. */
  growth_path: string | null;
  /** Lines that make it grow, as `file:line (why)`, when the profiler marked some. */
  marked_lines: string[];
}

export interface CheckReport {
  passed: boolean;
  threshold: number;
  requests: { rounds: number; sent: number; each: CheckRequest[] };
  /** Records taken after the baseline. */
  records: number;
  /** Objects of the traced modules that were watched. */
  watched: number;
  /** Objects that grew and then stopped (bounded caches): they pass. */
  plateaued: string[];
  suspects: Leak[];
  /**
   * Objects that still grow but pass: slower than the threshold, or not in enough rounds
   * of the second half. Listed so that a slow leak is seen, not hidden by "passed".
   */
  below_threshold: Leak[];
}

/**
 * How an entry grew after the warm-up: its sizes at the ends of rounds (every
 * `perRound` requests; all points when there are too few), of which the second half
 * (at least three points) is judged: the least-squares rate per request, and in how
 * many of those rounds it grew at all.
 */
export function recentGrowth(
  history: readonly { requests: number; size: number }[],
  perRound = 1,
): { rate: number; grewIn: number; rounds: number } {
  const ends = history.filter((h) => h.requests % perRound === 0);
  const points = ends.length >= 4 ? ends : history;
  const tail = points.slice(-Math.max(3, Math.ceil(points.length / 2)));
  let grewIn = 0;
  for (let i = 1; i < tail.length; i++) if (tail[i]!.size > tail[i - 1]!.size) grewIn++;
  return { rate: slopePerRequest(tail), grewIn, rounds: Math.max(0, tail.length - 1) };
}

/**
 * Decides the check. An entry fails when
 * - the profiler's verdict says it is still growing (not flat, not a cache that has
 *   plateaued),
 * - its rate over the second half of the run is above `threshold` bytes per request, and
 * - it grew in at least two thirds of those rounds: a leak grows round after round, while
 *   V8's one-off steps (a function optimised late, a table rehashed once) happen once and
 *   would otherwise show as a rate when they fall in the second half.
 * With `countElements` (check sets it unless --threshold was raised above its default), a
 * collection on its growth path that gains whole elements per request (at least one per
 * two requests) fails whatever its bytes: express-session's MemoryStore keeps a ~250 B
 * string per cookieless request, just under the default threshold, and a count that
 * climbs request after request is no V8 noise.
 */
/** Elements per request on a growth path that fail the check whatever their bytes. */
const MIN_ELEMENTS_PER_REQUEST = 0.5;

export function judgeSuspects(suspects: readonly ServedSuspect[], threshold: number, perRound = 1): Leak[] {
  return splitSuspects(suspects, threshold, perRound).leaks;
}

/**
 * judgeSuspects, and besides the leaks the entries the profiler calls growing that pass
 * (below the threshold, or growing in too few rounds), slowest last.
 */
export function splitSuspects(
  suspects: readonly ServedSuspect[],
  threshold: number,
  perRound = 1,
  countElements = true,
): { leaks: Leak[]; belowThreshold: Leak[] } {
  const leaks: Leak[] = [];
  const belowThreshold: Leak[] = [];
  for (const s of suspects) {
    if (s.verdict !== 'growing') continue;
    const { rate, grewIn, rounds } = recentGrowth(s.history, perRound);
    const counted = countElements && (s.growth_path?.elements_per_request ?? 0) >= MIN_ELEMENTS_PER_REQUEST;
    const fails = (rate > threshold || counted) && grewIn * 3 >= rounds * 2;
    (fails ? leaks : belowThreshold).push({
      module_name: s.module_name,
      name: s.name,
      obj_type: s.obj_type,
      filename: s.filename,
      lineno: s.lineno,
      growth_per_request: Math.round(rate * 10) / 10,
      grew_in: grewIn,
      rounds_judged: rounds,
      overall_growth_per_request: s.growth_per_request,
      first_size: s.history[0]?.size ?? s.first_size,
      last_size: s.history.at(-1)?.size ?? s.last_size,
      growth_path: s.growth_path?.summary ?? null,
      marked_lines: (s.marked_lines ?? []).map((m) => `${m.module_name ?? s.filename}:${m.line} (${m.reason})`),
    });
  }
  const bySpeed = (a: Leak, b: Leak) => b.growth_per_request - a.growth_per_request;
  return { leaks: leaks.sort(bySpeed), belowThreshold: belowThreshold.sort(bySpeed) };
}

function describeRequests(report: CheckReport): string {
  const each = report.requests.each.map((r) => `${r.method} ${r.path}`).join(', ');
  return `${report.requests.rounds} × ${each} (${report.requests.sent} requests)`;
}

/** The report as the terminal shows it. */
export function formatReport(report: CheckReport): string {
  const lines: string[] = [];
  const limit = `${formatBytes(report.threshold)}/request`;
  if (report.passed) {
    const caches = report.plateaued.length > 0 ? `; grew then levelled off: ${report.plateaued.join(', ')}` : '';
    lines.push(
      `apptrace check: passed — none of ${report.watched} objects kept growing by more than ${limit} over ${describeRequests(report)}${caches}`,
    );
    describeBelow(report, lines);
    return lines.join('\n') + '\n';
  }
  const n = report.suspects.length;
  lines.push(
    `apptrace check: FAILED — ${n} object${n === 1 ? '' : 's'} kept growing by more than ${limit} over ${describeRequests(report)}`,
  );
  for (const leak of report.suspects) {
    lines.push('');
    lines.push(`  ${leak.name} (${leak.obj_type}) at ${leak.filename}:${leak.lineno}  [module ${leak.module_name}]`);
    lines.push(
      `    +${formatBytes(leak.growth_per_request)}/request after warm-up, growing in ${leak.grew_in} of its last ${leak.rounds_judged} rounds ` +
        `(+${formatBytes(leak.overall_growth_per_request)}/request overall; ${formatBytes(leak.first_size)} → ${formatBytes(leak.last_size)})`,
    );
    if (leak.growth_path) lines.push(`    growth path: ${leak.growth_path}`);
    for (const line of leak.marked_lines) lines.push(`    grows at ${line}`);
  }
  describeBelow(report, lines);
  return lines.join('\n') + '\n';
}

/** The objects that grow without failing the check, one line each. */
function describeBelow(report: CheckReport, lines: string[]): void {
  const below = report.below_threshold ?? [];
  if (below.length === 0) return;
  lines.push('');
  lines.push(`  still growing, below the threshold or in too few rounds (${below.length}):`);
  for (const s of below) {
    lines.push(
      `    ${s.name} (${s.obj_type}) at ${s.filename}:${s.lineno}: +${formatBytes(s.growth_per_request)}/request after warm-up, growing in ${s.grew_in} of its last ${s.rounds_judged} rounds`,
    );
  }
}
