import { EventEmitter } from 'node:events';
import { AppError, isAppError } from '../contract/errors.js';
import { formatBytes } from '../common/format-bytes.js';
import type { AttachedTarget, InspectorSession } from './cdp/session.js';
import type { AnalysisFactory } from './analysis-client.js';
import { LONG_PAUSE_MS, PauseBudget, SNAPSHOT_MEMORY_FACTOR, availableMemory, formatDuration } from './pause-budget.js';
import type { HeapRecord, RequestInfo, SignalledRequest } from '../contract/record.js';
import type { SnapshotFiles, SnapshotWriter } from './snapshot-files.js';
import type { RecordStore } from './store.js';

/** After a failed snapshot, carried-over signals wait this long before the next try. */
const RETRY_AFTER_FAILURE_MS = 1_000;
/** Event-loop turns given to signals already received before a snapshot claims them. */
const SIGNAL_TURNS = 3;
/** After a snapshot was skipped for want of memory, the next try waits this long. */
const RETRY_AFTER_LOW_MEMORY_MS = 30_000;

export interface CaptureOptions {
  session: InspectorSession;
  store: RecordStore;
  /** Starts the analysis of one snapshot (in a worker thread, see analysis-client.ts). */
  analysis: AnalysisFactory;
  /** How modules are named and which are traced, at the time of a snapshot. */
  modules: () => { root: string; patterns: string[] };
  /** Take a baseline as soon as a target is attached (default true). */
  baselineOnAttach?: boolean;
  /**
   * `--allocation-sites`: the target tracks allocations (the profiler started it, or the
   * target runs with --track-heap-objects); entries get their objects' allocation sites.
   */
  allocationSites?: boolean;
  /** `--keep-snapshots N`: where each record's raw snapshot is written as it streams. */
  snapshots?: SnapshotFiles;
  /**
   * `--max-pause-share`: at most this share of wall time the target spends paused by
   * snapshots taken for signals (default 0.1; 1: one snapshot per signal batch).
   */
  maxPauseShare?: number;
  /** Bytes the machine can spare (default: MemAvailable); a snapshot needs about twice the heap. */
  freeMemory?: () => number;
}

export interface CaptureProgress {
  /** V8's progress while it builds the snapshot, in nodes. */
  done: number;
  total: number;
  /** Bytes of the snapshot streamed so far. */
  bytes: number;
  /** When the snapshot began (ms since epoch). */
  startedAt: number;
}

export declare interface Capture {
  on(event: 'record', listener: (record: HeapRecord) => void): this;
  on(event: 'progress', listener: (progress: CaptureProgress) => void): this;
  /** Running started or stopped, pending signals changed, an error happened. */
  on(event: 'change', listener: () => void): this;
  on(event: 'failed', listener: (error: AppError) => void): this;
  /** Said once: snapshots of this heap pause the target long. */
  on(event: 'warning', listener: (message: string) => void): this;
  /** A snapshot was not taken (not enough free memory); signals wait for the next try. */
  on(event: 'skipped', listener: (message: string) => void): this;
  /** Signals wait for the pause budget: the next snapshot starts at `at` (ms since epoch). */
  on(event: 'deferred', listener: (at: number, estimatedPauseMs: number) => void): this;
}

/**
 * Takes one heap snapshot at a time, within the pause budget (pause-budget.ts): a signal
 * starts one when none runs and the budget allows, else it waits for the budget and the
 * signals that come meanwhile fold into it. A snapshot claims the signals of responses
 * that finished before the target stopped for it (each signal says when its response
 * finished), whenever they reach us; later ones go to the next: a record's `requests`
 * counts them and `request` is the last of them. "Snapshot now" and the baseline do not
 * wait for the budget. Before each snapshot the target's heap is read (no pause): a
 * machine without about twice that much free memory skips it (LOW_MEMORY), and a long
 * expected pause is warned about once. The first snapshot after attaching is a baseline (V8 builds internal
 * caches while it takes it). A snapshot that is cut off — the target died, the session
 * closed — is discarded: no record, the store untouched, `lastError` says what happened.
 *
 * @example
 *   const capture = new Capture({ session, store, analysis: () => worker.begin(), modules: () => ({ root, patterns }) });
 *   capture.signal([{ method: 'GET', url: '/', status: 200 }]);
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface above only types this class's events.
export class Capture extends EventEmitter {
  running = false;
  progress: CaptureProgress | null = null;
  /** What went wrong with the last snapshot; cleared by the next record. */
  lastError: { at: string; message: string } | null = null;
  /** The last snapshot skipped to spare the target (low memory); cleared by the next record. */
  skipped: { at: string; message: string } | null = null;
  /** Said once per profiler: this target's snapshots pause it long. */
  warning: string | null = null;
  readonly budget: PauseBudget;

  readonly #options: CaptureOptions;
  /** Signals not yet claimed by a snapshot, in order of arrival. */
  #pending: SignalledRequest[] = [];
  /** The target's used heap as last seen (bytes), for estimates. */
  #heapBytes = 0;
  /** Signals may not start a snapshot before this (a skipped snapshot's retry). */
  #retryAt = 0;
  #timer: NodeJS.Timeout | null = null;
  #waiters: { resolve: (record: HeapRecord) => void; reject: (error: unknown) => void }[] = [];
  /** Session ids that already have their baseline record. */
  #baselines = new Set<string>();
  /** Session ids whose automatic baseline has been attempted. */
  #baselineTried = new Set<string>();
  #stopped = false;
  #current: Promise<void> | null = null;
  /** The raw snapshot being written for the record #take is making (--keep-snapshots). */
  #kept: SnapshotWriter | null = null;

  constructor(options: CaptureOptions) {
    super();
    this.#options = options;
    this.budget = new PauseBudget(options.maxPauseShare);
    options.session.on('attached', () => {
      // A new target process: its predecessor's pauses do not bind it.
      this.budget.reset();
      this.#retryAt = 0;
      this.#kick();
    });
  }

  /** Signals that no snapshot has claimed yet. */
  get pendingSignals(): number {
    return this.#pending.length;
  }

  /** The target's used heap as last seen, bytes (0: not yet known). */
  get heapBytes(): number {
    return this.#heapBytes;
  }

  /** A cheap reading of the target's heap (heap-points.ts), for the estimates. */
  noteHeapUsage(usedBytes: number): void {
    this.#heapBytes = usedBytes;
  }

  /** The pause the next snapshot is expected to take, ms (null until the heap's size is known). */
  get estimatedPauseMs(): number | null {
    return this.#heapBytes > 0 ? this.budget.estimate(this.#heapBytes) : null;
  }

  /** When the next snapshot will start for the pending signals (ms since epoch), or null. */
  get nextAt(): number | null {
    if (this.running || this.#pending.length === 0) return null;
    return Math.max(this.budget.notBefore, this.#retryAt, Date.now());
  }

  /** The proxy's report of finished matching responses. Never waits. */
  signal(requests: readonly SignalledRequest[]): void {
    if (requests.length === 0 || this.#stopped) return;
    const now = Date.now();
    for (const request of requests) this.#pending.push(request.at === undefined ? { ...request, at: now } : request);
    this.emit('change');
    this.#kick();
  }

  /**
   * Takes a snapshot now, folded with pending signals. When one is already running, the
   * answer is the next one, which starts after it (and so sees the heap as it is now).
   */
  snapshotNow(): Promise<HeapRecord> {
    if (this.#stopped) return Promise.reject(new AppError('SNAPSHOT_ABORTED', 'the profiler is stopping'));
    if (!this.#options.session.current) {
      const { session } = this.#options;
      return Promise.reject(
        new AppError(
          'NO_INSPECTOR',
          `not connected to the target's inspector at ${session.address}: ${session.hint ?? session.state}`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#kick();
    });
  }

  /** Stops taking snapshots; a running one is abandoned without writing a record. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    for (const waiter of this.#waiters.splice(0))
      waiter.reject(new AppError('SNAPSHOT_ABORTED', 'the profiler is stopping'));
    await this.#current?.catch(() => undefined);
  }

  /** Starts the next snapshot if there is a reason to and nothing runs. */
  #kick(): void {
    if (this.running || this.#stopped) return;
    const target = this.#options.session.current;
    if (!target) return;
    // The baseline is taken on its own once per session; if it fails, the next signal
    // takes it (so a broken target is not snapshotted in a loop).
    const needsBaseline = this.#options.baselineOnAttach !== false && !this.#baselineTried.has(target.id);
    if (this.#pending.length === 0 && this.#waiters.length === 0 && !needsBaseline) return;
    // Signals wait for the pause budget (and after a skipped snapshot, for the retry);
    // "Snapshot now" and the baseline do not.
    if (this.#waiters.length === 0 && !needsBaseline) {
      const at = Math.max(this.budget.notBefore, this.#retryAt);
      const wait = at - Date.now();
      if (wait > 0) {
        if (this.#timer === null) {
          this.#timer = setTimeout(() => {
            this.#timer = null;
            this.#kick();
          }, wait);
          this.#timer.unref();
          this.emit('deferred', at, this.estimatedPauseMs ?? 0);
          this.emit('change');
        }
        return;
      }
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.running = true;
    this.#baselineTried.add(target.id);
    this.#current = this.#runOne(target).then((ok) => {
      this.running = false;
      this.progress = null;
      this.#current = null;
      this.emit('change');
      // Whatever arrived meanwhile goes into the next snapshot; after a failure, not at
      // once: a target that cannot be snapshotted must not be hammered.
      if (ok || this.#retryAt > Date.now()) queueMicrotask(() => this.#kick());
      else setTimeout(() => this.#kick(), RETRY_AFTER_FAILURE_MS).unref();
    });
  }

  /**
   * Names the raw snapshot of the record about to be appended after that record's index
   * (the store numbers records one after the other), or undefined when none is kept.
   */
  async #keepSnapshot(): Promise<string | undefined> {
    const kept = this.#kept;
    if (kept === null) return undefined;
    const ok = await kept.finish();
    this.#kept = null;
    if (this.#stopped || !ok) {
      kept.abort();
      if (this.#stopped) throw new AppError('SNAPSHOT_ABORTED', 'the profiler stopped during the snapshot');
      return undefined;
    }
    return kept.commit(this.#options.store.lastIndex + 1);
  }

  /** Takes one snapshot; resolves false when it failed (never rejects). */
  async #runOne(target: AttachedTarget): Promise<boolean> {
    const waiters = this.#waiters.splice(0);
    const claims: SignalledRequest[][] = [];
    // The signals this snapshot covers are those of responses that finished before the
    // target stopped for it (`began`: when its first progress event reached us; V8 holds
    // the target's main thread from then to the stream's end, so no response can finish
    // in between). Signals come in until the stream ends; later responses wait for the
    // next snapshot, so a record's `requests` is what its heap holds (issue #14, point 5).
    const claim = (began: number) => {
      const claimed = this.#pending.filter((signal) => signal.at! <= began);
      if (claimed.length > 0) this.#pending = this.#pending.filter((signal) => signal.at! > began);
      claims.push(claimed);
      this.emit('change');
      return claimed;
    };
    try {
      const record: Omit<HeapRecord, 'index'> = await this.#take(target, claim);
      if (this.#stopped) throw new AppError('SNAPSHOT_ABORTED', 'the profiler stopped during the snapshot');
      const snapshot = await this.#keepSnapshot();
      if (snapshot !== undefined) record.snapshot = snapshot;
      // Shown at once; the file is written meanwhile (a big store takes a while to write).
      const { record: stored, written } = this.#options.store.append(record);
      if (snapshot !== undefined) {
        const store = this.#options.store;
        // Only files this store's records name are counted and deleted, never foreign ones.
        for (const index of this.#options.snapshots!.prune((i) => store.hasSnapshot(i))) store.dropSnapshot(index);
      }
      this.#baselines.add(target.id);
      // The error was about an earlier snapshot; the terminal has shown it.
      this.lastError = null;
      this.skipped = null;
      this.emit('record', stored);
      // Acknowledged means durable: "Snapshot now" answers once the record is on disk.
      written.then(
        () => {
          for (const waiter of waiters) waiter.resolve(stored);
        },
        (error: unknown) => {
          const appError = error as AppError;
          this.lastError = { at: new Date().toISOString(), message: appError.message };
          this.emit('failed', appError);
          for (const waiter of waiters) waiter.reject(appError);
        },
      );
      return true;
    } catch (error) {
      this.#kept?.abort();
      this.#kept = null;
      const appError = isAppError(error)
        ? error
        : new AppError('SNAPSHOT_ABORTED', `snapshot failed: ${(error as Error)?.message ?? String(error)}`, {
            cause: error,
          });
      // The heap those requests changed is gone when the target went away, and a snapshot
      // the engine cannot read will not get better; otherwise the next one covers them.
      const targetGone = this.#options.session.current?.id !== target.id;
      if (targetGone) {
        this.#pending = [];
        this.emit('change');
      } else if (!this.#stopped && appError.code !== 'BAD_SNAPSHOT') {
        this.#pending = [...claims.flat(), ...this.#pending];
      }
      this.lastError = { at: new Date().toISOString(), message: appError.message };
      if (appError.code === 'LOW_MEMORY') {
        this.skipped = this.lastError;
        this.#retryAt = Date.now() + RETRY_AFTER_LOW_MEMORY_MS;
        this.emit('skipped', appError.message);
      }
      for (const waiter of waiters) waiter.reject(appError);
      this.emit('failed', appError);
      return false;
    }
  }

  async #take(
    target: AttachedTarget,
    claim: (began: number) => SignalledRequest[],
  ): Promise<Omit<HeapRecord, 'index'>> {
    const { session } = this.#options;
    const { client } = target;
    const baseline = !this.#baselines.has(target.id);
    await session.idle(client);
    const heapBytes = await this.#checkCost(client);

    const analysis = this.#options.analysis();
    const kept = (this.#kept = this.#options.snapshots?.begin() ?? null);
    const progress: CaptureProgress = { done: 0, total: 0, bytes: 0, startedAt: Date.now() };
    this.progress = progress;
    // When the target's first word about the snapshot reached us: it had stopped by then.
    let began = 0;
    const offChunk = client.HeapProfiler.addHeapSnapshotChunk(({ chunk }) => {
      if (began === 0) began = Date.now();
      progress.bytes += chunk.length;
      analysis.write(chunk);
      kept?.write(chunk);
      this.emit('progress', progress);
    });
    const offProgress = client.HeapProfiler.reportHeapSnapshotProgress(({ done, total }) => {
      if (began === 0) began = Date.now();
      progress.done = done;
      progress.total = total;
      this.emit('progress', progress);
    });
    const started = performance.now();
    const requestedAt = Date.now();
    try {
      await client.HeapProfiler.takeHeapSnapshot({ reportProgress: true });
    } catch (error) {
      analysis.abort();
      throw new AppError(
        'SNAPSHOT_ABORTED',
        `the snapshot was cut off after ${formatBytes(progress.bytes)} (${(error as Error)?.message ?? String(error)}); nothing was recorded`,
        { cause: error },
      );
    } finally {
      offChunk();
      offProgress();
    }
    const streamed = performance.now();
    // The pause, seen from the target's side: V8 holds its main thread from our request
    // (a garbage collection comes first, before any progress event) until it has sent the
    // last chunk, which is just before its answer.
    const endedAt = Date.now();
    const pauseMs = endedAt - requestedAt;
    this.budget.measured({ pauseMs, heapBytes, endedAt });
    // Signals that reached our sockets while the snapshot streamed may still wait to be
    // parsed: let the event loop turn a few times (no timer: requests the target serves
    // after the snapshot need a network round trip, longer than this).
    for (let i = 0; i < SIGNAL_TURNS; i++) await new Promise((resolve) => setImmediate(resolve));
    const claimed = claim(began === 0 ? endedAt : began);
    const last = claimed[claimed.length - 1];
    const requests = claimed.length;
    const request: RequestInfo | null = last ? { method: last.method, url: last.url, status: last.status } : null;
    if (session.current?.id !== target.id) {
      analysis.abort();
      throw new AppError('SNAPSHOT_ABORTED', 'the target went away while the snapshot streamed; nothing was recorded');
    }
    await session.refreshScripts();
    const { root, patterns } = this.#options.modules();
    const result = await analysis.finish({
      root,
      patterns,
      scriptUrls: [...session.scriptUrls],
      sources: [...session.sources],
      ...(this.#options.allocationSites ? { allocationSites: true } : {}),
      // Heap-wide growers are compared within the session (node ids are stable there).
      session: target.id,
      requests,
    });
    const finished = performance.now();
    return {
      at: new Date().toISOString(),
      requests,
      request,
      baseline,
      session: target.id,
      heap: { total_size: result.total_size, node_count: result.node_count, edge_count: result.edge_count },
      ...(result.allocation_tracking ? { allocation_tracking: true } : {}),
      // capture: from the request to the last chunk, parsing included (it runs while the
      // chunks arrive); analysis: what is left once the stream has ended. Together they
      // span the snapshot: it began capture_ms + analysis_ms before `at`.
      // pause: how long the target was held (the budget's measure).
      timings: {
        capture_ms: Math.round(streamed - started),
        analysis_ms: Math.round(finished - streamed),
        pause_ms: pauseMs,
      },
      entries: result.entries,
      ...(result.growers ? { growers: result.growers } : {}),
    };
  }

  /**
   * Reads the target's heap (cheap, no pause), warns once when its snapshots will pause it
   * long, and refuses one the machine has no memory for: V8 builds the snapshot beside the
   * heap, so the target needs about twice its heap meanwhile. Resolves with the used heap.
   */
  async #checkCost(client: AttachedTarget['client']): Promise<number> {
    const { usedSize } = await client.Runtime.getHeapUsage();
    this.#heapBytes = usedSize;
    const estimate = this.budget.estimate(usedSize);
    if (this.warning === null && estimate > LONG_PAUSE_MS) {
      const share = this.budget.share;
      this.warning =
        `a snapshot of the target's ${formatBytes(usedSize)} heap pauses it about ${formatDuration(estimate)} ` +
        `(V8 stops its JavaScript while it copies the heap)` +
        (share < 1
          ? `; to keep pauses within ${Math.round(share * 100)}% of the time, snapshots come about every ${formatDuration(estimate / share)}.`
          : '.') +
        ` Trade it with --max-pause-share, trace fewer URLs (--url-pattern '^/api/'), or take one when you choose ("Snapshot now").`;
      this.emit('warning', this.warning);
    }
    const free = (this.#options.freeMemory ?? availableMemory)();
    const needed = SNAPSHOT_MEMORY_FACTOR * usedSize;
    if (free < needed) {
      throw new AppError(
        'LOW_MEMORY',
        `skipped a snapshot to spare the target: it needs about ${formatBytes(needed)} free (twice the target's ${formatBytes(usedSize)} heap) ` +
          `and the machine has ${formatBytes(free)}; the target was not paused and signals wait. Free some memory (or give the machine more); ` +
          `apptrace tries again in ${RETRY_AFTER_LOW_MEMORY_MS / 1000} s.`,
      );
    }
    return usedSize;
  }
}

export type { SignalledRequest };
