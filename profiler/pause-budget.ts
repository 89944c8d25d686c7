import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';

/** The default `--max-pause-share`: the target spends at most 10% of wall time paused. */
export const DEFAULT_MAX_PAUSE_SHARE = 0.1;
/**
 * Before any snapshot of a session has been measured: V8 needs about 3–12 s per 100 MB of
 * heap on a small machine (issue #14); the estimate takes the middle of that.
 */
const PRIOR_MS_PER_BYTE = 60 / (1024 * 1024);
/** A snapshot expected to pause the target longer than this is worth a warning (once). */
export const LONG_PAUSE_MS = 5_000;
/** A snapshot makes the target's memory grow by about its heap again (V8 builds a copy). */
export const SNAPSHOT_MEMORY_FACTOR = 2;

/** One measured pause of the target. */
export interface MeasuredPause {
  /** How long the target's main thread was held, ms (from the request to the stream's end). */
  pauseMs: number;
  /** The target's used heap just before, bytes. */
  heapBytes: number;
  /** When the pause ended (ms since epoch). */
  endedAt: number;
}

/**
 * The pause budget of issue #14: after a snapshot that paused the target D ms, the next
 * one waits so that, over the cycle, paused / wall ≤ share:
 *
 *     D / (D + wait) ≤ share   ⇔   wait ≥ D · (1 / share − 1)
 *
 * With share 1 there is no wait (one snapshot per signal, as before). The rate of the last
 * pause (ms per byte of heap) estimates the next from the heap's size now.
 *
 * @example
 *   const budget = new PauseBudget(0.1);
 *   budget.measured({ pauseMs: 2_000, heapBytes: 20e6, endedAt: Date.now() });
 *   budget.notBefore; // 18 s after the pause ended
 */
export class PauseBudget {
  readonly share: number;
  #last: MeasuredPause | null = null;

  constructor(share = DEFAULT_MAX_PAUSE_SHARE) {
    if (!(share > 0 && share <= 1)) throw new RangeError(`the pause share must be in (0, 1], not ${share}`);
    this.share = share;
  }

  get last(): MeasuredPause | null {
    return this.#last;
  }

  /** The earliest time (ms since epoch) the next budgeted snapshot may start. */
  get notBefore(): number {
    const last = this.#last;
    if (last === null) return 0;
    return last.endedAt + last.pauseMs * (1 / this.share - 1);
  }

  measured(pause: MeasuredPause): void {
    this.#last = pause;
  }

  /** A new target (restart): its past pauses say nothing about the wait. */
  reset(): void {
    this.#last = null;
  }

  /** The pause a snapshot of a heap of `heapBytes` is expected to take, ms. */
  estimate(heapBytes: number, previous: MeasuredPause | null = this.#last): number {
    const rate = previous && previous.heapBytes > 0 ? previous.pauseMs / previous.heapBytes : PRIOR_MS_PER_BYTE;
    return Math.round(heapBytes * rate);
  }
}

/**
 * Memory the machine can give without swapping, bytes: Linux's MemAvailable (page cache
 * that can be dropped counts), else `os.freemem()`.
 */
export function availableMemory(): number {
  try {
    const match = /^MemAvailable:\s+(\d+)\s*kB/m.exec(readFileSync('/proc/meminfo', 'latin1'));
    if (match) return Number(match[1]) * 1024;
  } catch {
    // Not Linux: fall through.
  }
  return freemem();
}

/** "3 s", "850 ms", "1.5 min": a pause or a wait, for people. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${ms < 10_000 ? (ms / 1000).toFixed(1).replace(/\.0$/, '') : Math.round(ms / 1000)} s`;
  return `${(ms / 60_000).toFixed(1).replace(/\.0$/, '')} min`;
}

/** Checks a `--max-pause-share` value: a number in (0, 1]. */
export function checkPauseShare(value: string): string {
  const share = Number(value);
  if (value.trim() === '' || !Number.isFinite(share) || share <= 0 || share > 1) {
    throw new Error('expected a share of wall time between 0 and 1, such as 0.1 (10%) or 1 (a snapshot per request)');
  }
  return String(share);
}
