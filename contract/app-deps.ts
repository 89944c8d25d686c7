import type { HeapPoint } from './record.js';
import type { HeapRecord, RequestInfo } from './record.js';

/**
 * What the Hono app (UI + API) needs from the profiler. The profiler builds one of these
 * from its live parts; route tests build one from a store of hand-made records.
 */
export interface AppDeps {
  /** Records with index > since, oldest first. */
  records(since?: number): HeapRecord[];
  status(): ProfilerStatus;
  /** Calls `listener` for each new record and each status change; returns an unsubscribe. */
  subscribe(listener: (event: AppEvent) => void): () => void;
  /** Takes a snapshot now (folded with any pending signals); resolves with its record. */
  snapshotNow(): Promise<HeapRecord>;
  /** The proxy's report that matching responses have finished. Must not wait for a snapshot. */
  signal(requests: RequestInfo[]): void;
  /**
   * The source of a traced module *as the target loaded it* (Debugger.getScriptSource),
   * or, for a module named after a source-mapped script's original (`src/store.ts`), that
   * original's text; undefined when the target has loaded no such script. Never reads an
   * arbitrary path.
   */
  moduleSource(moduleName: string): Promise<ModuleSource | undefined>;
  /**
   * Deletes every record and its kept snapshot (RecordStore.clear); resolves with how
   * many records were deleted once the empty store is on disk. Open pages start over.
   */
  clearRecords(): Promise<number>;
  /** The cheap per-request heap readings with index > since (none when absent). */
  heapPoints?(since?: number): HeapPoint[];
}

/** A module's text for the code browser. */
export interface ModuleSource {
  url: string;
  source: string;
  /** When `source` is an original from a source map: the script it was found through (`dist/store.js`). */
  generatedFrom?: string;
  /**
   * The loaded text of that script when it has the module's own name: under tsx (or
   * another loader) the script's URL is the `.ts` file and its text the JavaScript.
   */
  generatedSource?: string;
}

export type AppEvent = { type: 'record'; record: HeapRecord } | { type: 'status'; status: ProfilerStatus };

export type InspectorState = 'connecting' | 'connected' | 'unreachable' | 'disconnected';

export interface ProfilerStatus {
  /** The dev server behind the proxy, e.g. `localhost:3000`, when known. */
  target: string | null;
  inspector: {
    /** host:port of the target's inspector. */
    address: string;
    state: InspectorState;
    /** What to do when not connected, e.g. "start the target with node --inspect=127.0.0.1:9229 server.js". */
    hint: string | null;
  };
  snapshot: {
    running: boolean;
    /** While running: bytes or nodes done / total as V8 reports them. */
    progress: { done: number; total: number } | null;
    /** Signals that arrived since the running (or last) snapshot began. */
    pendingSignals: number;
    /** `--max-pause-share`: the share of wall time snapshots may hold the target. */
    maxPauseShare?: number;
    /** When the next snapshot starts for the pending signals (ISO time); null when none waits. */
    nextAt?: string | null;
    /** How long the next snapshot is expected to pause the target, ms (null: heap not yet read). */
    estimatedPauseMs?: number | null;
    /** How long the last snapshot paused the target, ms, measured. */
    lastPauseMs?: number | null;
    /** A snapshot skipped to spare the target (not enough free memory); cleared by the next record. */
    skipped?: { at: string; message: string } | null;
    /** Said once: this target's snapshots pause it long, and how to trade it. */
    warning?: string | null;
  };
  records: number;
  lastIndex: number;
  lastError: { at: string; message: string } | null;
  /** The --url-pattern regexes, as sources. */
  urlPatterns: string[];
  /** The --trace-module patterns, or a description of the default. */
  traceModules: string[];
  db: string;
  /** Problems with the setup that the user should fix; profiling goes on (absent: none). */
  warnings?: StatusWarning[];
}

/**
 * `TARGET_UNVERIFIED`: it could not be verified that the inspected process serves --target
 * (a process proven to be another one is refused instead: inspector state and hint).
 * `TRACE_MODULE_UNMATCHED`: no loaded script matches --trace-module; the message lists
 * some that could.
 */
export interface StatusWarning {
  code: 'TARGET_UNVERIFIED' | 'TRACE_MODULE_UNMATCHED';
  message: string;
}
