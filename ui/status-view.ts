import type { ProfilerStatus } from '../contract/app-deps.js';
import { formatBytes } from './format.js';

/**
 * The words the status strip and the notices use, computed from a ProfilerStatus.
 * The server renders them into the page; ui/client/overview.ts (compiled) imports these same functions
 * when a `status` event arrives.
 */

export function inspectorText(status: ProfilerStatus): string {
  return `inspector ${status.inspector.state} · ${status.inspector.address}`;
}

export function snapshotText(status: ProfilerStatus): string {
  const { running, progress, pendingSignals } = status.snapshot;
  let text = 'idle';
  if (running) {
    // V8 counts nodes while it builds the snapshot (done/total), then the profiler counts
    // the bytes streamed in (total 0).
    text =
      progress && progress.total > 0
        ? `snapshot ${Math.min(100, Math.floor((progress.done / progress.total) * 100))}%`
        : progress && progress.done > 0
          ? `snapshot: ${formatBytes(progress.done)} streamed`
          : 'snapshot running';
  }
  return pendingSignals > 0 ? `${text} · ${pendingSignals} pending` : text;
}

/** "3 s", "850 ms", "1.5 min" (as profiler/pause-budget.ts formatDuration). */
function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${ms < 10_000 ? (ms / 1000).toFixed(1).replace(/\.0$/, '') : Math.round(ms / 1000)} s`;
  return `${(ms / 60_000).toFixed(1).replace(/\.0$/, '')} min`;
}

/**
 * The pause budget in the status strip: "next snapshot in 12 s, ~3 s pause" while signals
 * wait for it, "snapshot skipped: …" after a low-memory skip, else what a snapshot costs.
 * ui/client/heap-points.ts says the same (and counts down).
 */
export function nextSnapshotText(status: ProfilerStatus, now = Date.now()): string {
  const { nextAt, estimatedPauseMs, lastPauseMs, skipped, running } = status.snapshot;
  const pause = estimatedPauseMs ?? lastPauseMs ?? null;
  const cost = pause === null ? '' : `~${formatDuration(pause)} pause`;
  if (skipped) return 'snapshot skipped: not enough free memory';
  if (running) return '';
  if (nextAt) {
    const wait = Math.max(0, Date.parse(nextAt) - now);
    return `next snapshot in ${Math.ceil(wait / 1000)} s${cost ? `, ${cost}` : ''}`;
  }
  return cost ? `snapshots: ${cost}` : '';
}

export function recordsText(status: ProfilerStatus): string {
  const count = `${status.records} record${status.records === 1 ? '' : 's'}`;
  return status.lastIndex > 0 ? `${count} · latest #${status.lastIndex}` : count;
}

/** What to do when the inspector is not connected: the profiler's hint, or the general advice. */
export function inspectorHint(status: ProfilerStatus): string {
  return (
    status.inspector.hint ??
    `Start the target with its inspector on: node --inspect=${status.inspector.address} server.js`
  );
}

/** Whether a request to `/` would be traced, so the empty page can suggest opening it. */
export function rootIsTraced(status: ProfilerStatus): boolean {
  // No --url-pattern: the proxy traces every path but its own (docs/design.md).
  if (status.urlPatterns.length === 0) return true;
  return status.urlPatterns.some((source) => {
    try {
      return new RegExp(source).test('/');
    } catch {
      return false;
    }
  });
}

/** The empty suspects table's words: why there are none yet. */
export const SUSPECTS_LATER = 'Suspects appear after a few records.';
export const NOTHING_TRACED =
  'No suspects: --trace-module matches none of the scripts the app has loaded (see "Check the setup" above).';

export function suspectsEmptyText(status: ProfilerStatus): string {
  return (status.warnings ?? []).some((w) => w.code === 'TRACE_MODULE_UNMATCHED') ? NOTHING_TRACED : SUSPECTS_LATER;
}
