import { rmSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type CDP from 'chrome-remote-interface';
import { parseHostPort } from '../common/options.js';
import type { AppDeps, AppEvent, ModuleSource, ProfilerStatus, StatusWarning } from '../contract/app-deps.js';
import type { AnalysisFactory } from './analysis-client.js';
import { Capture } from './capture.js';
import type { SignalledRequest } from './capture.js';
import { type HeapPoint, HeapPoints } from './heap-points.js';
import { InspectorSession } from './cdp/session.js';
import type { ModuleMatcher } from './heap/module-match.js';
import { createModuleMatcher } from './heap/module-match.js';
import { moduleSourceOf } from './heap/source-maps.js';
import type { HeapRecord } from '../contract/record.js';
import { snapshotFileName, type SnapshotFiles } from './snapshot-files.js';
import type { RecordStore } from './store.js';
import { unmatchedTraceModules } from './trace-module-check.js';

export interface ProfilerOptions {
  inspect: { host: string; port: number };
  store: RecordStore;
  /**
   * The app root module names are relative to. Without it, the target's own working
   * directory (asked on every attach; in compose the target's paths are not ours), and
   * the profiler's until the target answers.
   */
  root?: string | null;
  /** `--trace-module` patterns; none: the app's own scripts. */
  patterns?: string[];
  analysis: AnalysisFactory;
  /** Shown in the status: the dev server behind the proxy, when known. */
  target?: string | null;
  urlPatterns?: string[];
  /** How the target is started, for hints (`server.js`). */
  targetHint?: string;
  retry?: { minMs: number; maxMs: number };
  /**
   * `--allocation-sites`: track allocation stacks in the target from every attach on
   * (costly for the target: see bench/allocation-sites) and record where entries' new
   * objects were allocated.
   */
  allocationSites?: boolean;
  /** `--keep-snapshots N`: keeps the newest raw snapshots beside the store. */
  snapshots?: SnapshotFiles;
  /** `--max-pause-share` (default 0.1): the share of wall time snapshots may pause the target. */
  maxPauseShare?: number;
  /** Bytes the machine can spare (default: MemAvailable); tests stand in a small machine. */
  freeMemory?: () => number;
  /** Called once capture and session have stopped (e.g. to end the analysis worker). */
  onStop?: () => Promise<void>;
}

/**
 * The live profiler: one inspector session, the capture queue and the store, put
 * together behind the `AppDeps` the Hono app serves. Listeners get every record and
 * every status change (progress at most every 200 ms).
 *
 * @example
 *   const profiler = new Profiler({ inspect, store, modules, analysis });
 *   profiler.start();
 *   serve({ fetch: createApp(profiler).fetch, port: 9300 });
 */
export class Profiler implements AppDeps {
  readonly session: InspectorSession;
  readonly capture: Capture;
  readonly points: HeapPoints;
  readonly #options: ProfilerOptions;
  readonly #listeners = new Set<(event: AppEvent) => void>();
  #modules: ModuleMatcher;
  /** False while the root is the profiler's own directory standing in for the target's. */
  #rootSettled: boolean;
  #lastProgressEvent = 0;
  #progressTimer: NodeJS.Timeout | null = null;
  /** Whether this session started allocation tracking (not the target's own --track-heap-objects). */
  #startedTracking = false;
  /** The inspector session that made the latest record: its scripts are all reported by then. */
  #recordedSession: string | null = null;
  #unmatched: { key: string; message: string | null } = { key: '', message: null };

  constructor(options: ProfilerOptions) {
    this.#options = options;
    this.#modules = this.#matcher(options.root ?? process.cwd());
    this.#rootSettled = Boolean(options.root);
    this.session = new InspectorSession({
      host: options.inspect.host,
      port: options.inspect.port,
      moduleName: (url) => this.#modules.traced(url),
      beforeAttach: options.root && !options.allocationSites ? undefined : (client) => this.#beforeAttach(client),
      ...(options.targetHint ? { targetHint: options.targetHint } : {}),
      ...(options.retry ? { retry: options.retry } : {}),
      target: targetAddress(options.target),
    });
    this.capture = new Capture({
      session: this.session,
      store: options.store,
      analysis: options.analysis,
      modules: () => ({ root: this.#modules.root, patterns: this.#options.patterns ?? [] }),
      allocationSites: options.allocationSites === true,
      ...(options.snapshots ? { snapshots: options.snapshots } : {}),
      ...(options.maxPauseShare !== undefined ? { maxPauseShare: options.maxPauseShare } : {}),
      ...(options.freeMemory ? { freeMemory: options.freeMemory } : {}),
    });
    this.points = new HeapPoints({
      session: this.session,
      store: options.store,
      onPoint: (point) => this.capture.noteHeapUsage(point.used_size),
    });
    this.session.on('state', () => this.#emitStatus());
    this.session.on('warning', () => this.#emitStatus());
    this.capture.on('change', () => this.#emitStatus());
    this.capture.on('failed', () => this.#emitStatus());
    this.capture.on('deferred', () => this.#emitStatus());
    this.capture.on('warning', () => this.#emitStatus());
    this.capture.on('progress', () => this.#emitProgress());
    this.capture.on('record', (record) => {
      this.#recordedSession = this.session.current?.id ?? null;
      this.#emit({ type: 'record', record });
    });
  }

  /** The root module names are relative to (the target's working directory by default). */
  get root(): string {
    return this.#modules.root;
  }

  /** The --trace-module patterns, or a description of the default. */
  get traceModules(): string[] {
    const patterns = this.#options.patterns ?? [];
    if (patterns.length > 0) return patterns;
    const where = this.#rootSettled ? this.root : `the target's working directory (${this.root} until it says)`;
    return [`the app's own scripts under ${where} (not node_modules, not node:)`];
  }

  start(): void {
    this.session.start();
  }

  /** Abandons a running snapshot (no partial record), closes CDP, waits for the store. */
  async stop(): Promise<void> {
    if (this.#progressTimer) clearTimeout(this.#progressTimer);
    const stopping = this.capture.stop();
    const reading = this.points.stop();
    await this.#stopTracking();
    await this.session.close();
    await stopping;
    await reading;
    await this.#options.onStop?.();
    await this.#options.store.flush();
  }

  records(since = 0): HeapRecord[] {
    return this.#options.store.since(since);
  }

  status(): ProfilerStatus {
    const { session, capture } = this;
    const store = this.#options.store;
    const progress = capture.progress;
    return {
      target: this.#options.target ?? null,
      inspector: { address: session.address, state: session.state, hint: session.hint },
      snapshot: {
        running: capture.running,
        progress: progress ? progressOf(progress) : null,
        pendingSignals: capture.pendingSignals,
        maxPauseShare: capture.budget.share,
        nextAt: capture.nextAt === null ? null : new Date(capture.nextAt).toISOString(),
        estimatedPauseMs: capture.estimatedPauseMs,
        lastPauseMs: capture.budget.last?.pauseMs ?? null,
        skipped: capture.skipped,
        warning: capture.warning,
      },
      records: store.size,
      lastIndex: store.lastIndex,
      lastError: capture.lastError,
      urlPatterns: this.#options.urlPatterns ?? [],
      traceModules: this.traceModules,
      db: store.path,
      warnings: this.warnings(),
    };
  }

  /** What the user should fix in the setup: shown in the terminal, the status API and the page. */
  warnings(): StatusWarning[] {
    const warnings: StatusWarning[] = [];
    if (this.session.state === 'connected' && this.session.targetWarning) {
      warnings.push({ code: 'TARGET_UNVERIFIED', message: this.session.targetWarning });
    }
    const unmatched = this.#unmatchedTraceModules();
    if (unmatched) warnings.push({ code: 'TRACE_MODULE_UNMATCHED', message: unmatched });
    return warnings;
  }

  /** Looked at once this session has made a record (its scripts are known by then), again as scripts load. */
  #unmatchedTraceModules(): string | null {
    const id = this.session.current?.id;
    if (!id || id !== this.#recordedSession) return null;
    const urls = this.session.scriptUrls;
    const key = `${id}:${urls.size}:${this.session.sources.size}:${this.#modules.root}`;
    if (key !== this.#unmatched.key) {
      this.#unmatched = {
        key,
        message: unmatchedTraceModules(this.#options.patterns ?? [], urls.values(), this.#modules),
      };
    }
    return this.#unmatched.message;
  }

  subscribe(listener: (event: AppEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  snapshotNow(): Promise<HeapRecord> {
    return this.capture.snapshotNow();
  }

  signal(requests: SignalledRequest[]): void {
    this.capture.signal(requests);
    this.points.add(requests);
  }

  heapPoints(since = 0): HeapPoint[] {
    return this.#options.store.points(since);
  }

  /** "Clear records": empties the store and deletes the kept snapshots; open pages start over. */
  async clearRecords(): Promise<number> {
    const count = await this.#options.store.clear();
    const snapshots = this.#options.snapshots;
    if (snapshots)
      for (const index of snapshots.indexes()) rmSync(join(snapshots.dir, snapshotFileName(index)), { force: true });
    this.#emitStatus();
    return count;
  }

  /**
   * The code browser's text of a module: the traced script of that name as the target
   * loaded it, or the original source (`src/store.ts`) of a source-mapped script made
   * from it (heap/source-maps.ts, moduleSourceOf). Reads only what the inspector says and
   * the sources those scripts' maps name.
   */
  async moduleSource(moduleName: string): Promise<ModuleSource | undefined> {
    const modules = this.#modules;
    const scripts = [...new Set(this.session.scriptUrls.values())].map((url) => ({
      url,
      moduleName: modules.traced(url),
    }));
    const found = await moduleSourceOf(moduleName, scripts, (url) => this.session.scriptSource(url), modules.root);
    if (found === undefined) return undefined;
    const { generated, ...shown } = found;
    if (generated === undefined) return shown;
    const generatedFrom = generated.moduleName ?? modules.filename(generated.url);
    // tsx: the script is named after its .ts original; growth-lines needs its JavaScript.
    const generatedSource = generatedFrom === moduleName ? await this.session.scriptSource(generated.url) : undefined;
    return generatedSource === undefined ? { ...shown, generatedFrom } : { ...shown, generatedFrom, generatedSource };
  }

  async #beforeAttach(client: CDP.Client): Promise<void> {
    if (!this.#options.root) await this.#adoptTargetRoot(client);
    this.#startedTracking = false;
    if (!this.#options.allocationSites) return;
    // A target started with `node --track-heap-objects` records allocation stacks from its
    // start, and its snapshots carry them: nothing to start. startTrackingHeapObjects also
    // starts the inspector's 50 ms timer that updates V8's object ids (a full garbage
    // collection and a heap walk each time): about 8x slower against 60x in
    // bench/allocation-sites, so that is worth avoiding.
    const { result } = await client.Runtime.evaluate({
      expression: TRACKS_ALLOCATIONS,
      returnByValue: true,
      silent: true,
    });
    if (result.value === true) return;
    // On every attach: a new inspector session starts without it. Only objects allocated
    // from now on carry a stack, which is all allocation-sites.ts looks at.
    await client.HeapProfiler.enable();
    await client.HeapProfiler.startTrackingHeapObjects({ trackAllocations: true });
    this.#startedTracking = true;
  }

  /**
   * Leaves the target as it was. HeapProfiler.disable stops the tracking without what
   * stopTrackingHeapObjects does first (take and stream a whole snapshot). V8 also stops it
   * when the inspector session closes; this covers a target that keeps the socket open
   * a while. Bounded: a target busy with a snapshot must not hold up the stop.
   */
  async #stopTracking(): Promise<void> {
    const client = this.session.current?.client;
    // Tracking the target was started with is its own: stopping it would end it for good.
    if (!this.#startedTracking || !client) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.HeapProfiler.disable().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 1_000);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Names modules relative to the target's working directory, before its scripts are listed. */
  async #adoptTargetRoot(client: CDP.Client): Promise<void> {
    const { result } = await client.Runtime.evaluate({
      expression: 'process.cwd()',
      returnByValue: true,
      silent: true,
    });
    const cwd: unknown = result.value;
    this.#rootSettled = true;
    if (typeof cwd !== 'string' || !isAbsolute(cwd) || cwd === this.#modules.root) return;
    this.#modules = this.#matcher(cwd);
  }

  /**
   * Module naming for `root`. A pattern may name a script's original source: the
   * matcher then reads the script's text, the inspector's copy first (in compose the
   * target's files are not on this machine).
   */
  #matcher(root: string): ModuleMatcher {
    return createModuleMatcher({
      root,
      patterns: this.#options.patterns ?? [],
      source: (url) => this.session?.source(url),
    });
  }

  #emit(event: AppEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // One broken listener (a closed SSE stream) must not stop the others.
      }
    }
  }

  #emitStatus(): void {
    this.#lastProgressEvent = Date.now();
    this.#emit({ type: 'status', status: this.status() });
  }

  /** Progress arrives per chunk; pass it on at most every 200 ms. */
  #emitProgress(): void {
    if (this.#progressTimer) return;
    const wait = Math.max(0, this.#lastProgressEvent + 200 - Date.now());
    this.#progressTimer = setTimeout(() => {
      this.#progressTimer = null;
      if (this.capture.running) this.#emitStatus();
    }, wait);
  }
}

/** `host:port` of --target, or null when it is unknown or not of that form. */
function targetAddress(target: string | null | undefined): { host: string; port: number } | null {
  if (!target) return null;
  try {
    const address = parseHostPort(target);
    return address.port > 0 ? address : null;
  } catch {
    return null;
  }
}

/** Evaluated in the target: was it started with --track-heap-objects? */
const TRACKS_ALLOCATIONS = `[...process.execArgv, ...String(process.env.NODE_OPTIONS ?? '').split(/\\s+/)].some((a) => /^--track[-_]heap[-_]objects$/.test(a))`;

/**
 * V8 reports progress in nodes while it builds the snapshot, then streams it; the status
 * shows the first as done/total and, once V8 is done, the bytes streamed so far.
 */
function progressOf(progress: { done: number; total: number; bytes: number }): { done: number; total: number } {
  if (progress.total > 0 && progress.done < progress.total) return { done: progress.done, total: progress.total };
  return { done: progress.bytes, total: 0 };
}
