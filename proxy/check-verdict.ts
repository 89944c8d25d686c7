import type { Suspect } from '../profiler/record.js';
import { slopePerRequest } from '../profiler/suspects.js';
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
}

/**
 * The rate an entry grows at after the warm-up: least squares over the second half of
 * its history (at least three points), so the first calls of a function or a cache's
 * first fills do not count, and a leak's steady rate does.
 */
export function recentRate(history: readonly { requests: number; size: number }[]): number {
  const tail = history.slice(-Math.max(3, Math.ceil(history.length / 2)));
  return slopePerRequest(tail);
}

/**
 * Decides the check: an entry fails when the profiler's verdict says it is still growing
 * (not flat, not a cache that has plateaued) and its recent rate is above `threshold`.
 */
export function judgeSuspects(suspects: readonly ServedSuspect[], threshold: number): Leak[] {
  const leaks: Leak[] = [];
  for (const s of suspects) {
    if (s.verdict !== 'growing') continue;
    const rate = recentRate(s.history);
    if (!(rate > threshold)) continue;
    leaks.push({
      module_name: s.module_name,
      name: s.name,
      obj_type: s.obj_type,
      filename: s.filename,
      lineno: s.lineno,
      growth_per_request: Math.round(rate * 10) / 10,
      overall_growth_per_request: s.growth_per_request,
      first_size: s.history[0]?.size ?? s.first_size,
      last_size: s.history.at(-1)?.size ?? s.last_size,
      growth_path: s.growth_path?.summary ?? null,
      marked_lines: (s.marked_lines ?? []).map((m) => `${m.module_name ?? s.filename}:${m.line} (${m.reason})`),
    });
  }
  return leaks.sort((a, b) => b.growth_per_request - a.growth_per_request);
}

export function formatBytes(bytes: number): string {
  const abs = Math.abs(bytes);
  if (abs < 1024) return `${Math.round(bytes)} B`;
  if (abs < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
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
    return lines.join('\n') + '\n';
  }
  const n = report.suspects.length;
  lines.push(`apptrace check: FAILED — ${n} object${n === 1 ? '' : 's'} kept growing by more than ${limit} over ${describeRequests(report)}`);
  for (const leak of report.suspects) {
    lines.push('');
    lines.push(`  ${leak.name} (${leak.obj_type}) at ${leak.filename}:${leak.lineno}  [module ${leak.module_name}]`);
    lines.push(
      `    +${formatBytes(leak.growth_per_request)}/request after warm-up (+${formatBytes(leak.overall_growth_per_request)}/request overall; ${formatBytes(leak.first_size)} → ${formatBytes(leak.last_size)})`,
    );
    if (leak.growth_path) lines.push(`    growth path: ${leak.growth_path}`);
    for (const line of leak.marked_lines) lines.push(`    grows at ${line}`);
  }
  return lines.join('\n') + '\n';
}
