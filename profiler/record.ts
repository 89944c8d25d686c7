/**
 * The record format of DESIGN.md ("The record"): one record per snapshot, stored in the
 * lowdb file and served by the API. Field names of an entry follow the original
 * apptrace (2010) so that records read the same. Adding optional fields is fine;
 * renaming or removing one breaks users.
 */

/** A top-level binding of a traced module that is alive in the heap. */
export interface Entry {
  /** `class`, `function`, or the constructor name for objects (`Map`, `Array`, ...). */
  obj_type: string;
  /** The binding's name: a module-scope variable, function, class or `module.exports` key. */
  name: string;
  /** Retained size in bytes, with Chrome DevTools' semantics. */
  dominated_size: number;
  /** Where it is defined, relative to the app's root (the `.ts` file when source-mapped). */
  filename: string;
  /** 1-based line of the definition. */
  lineno: number;
  /** The traced module it was found in (path relative to the app's root). */
  module_name: string;
  /** V8 node id of the object (stable while one CDP session lasts). Not in the 2010 format. */
  id?: number;
}

export interface RequestInfo {
  method: string;
  url: string;
  status: number;
}

export interface HeapRecord {
  /** Counts records from 1. */
  index: number;
  /** ISO time the snapshot finished. */
  at: string;
  /** How many matching requests this snapshot covers (0 for a manual snapshot). */
  requests: number;
  /** The last request this snapshot covers, or null for a manual snapshot. */
  request: RequestInfo | null;
  /**
   * True for the first snapshot after the profiler attached to a target: V8 builds
   * internal caches while it takes it, so growth is measured from the next one on.
   */
  baseline?: boolean;
  /** Changes whenever the profiler (re-)attaches; node ids compare only within one. */
  session?: string;
  heap: { total_size: number; node_count: number; edge_count: number };
  timings: { capture_ms: number; analysis_ms: number };
  entries: Entry[];
}

/** The key that identifies "the same object" across records. */
export function entryKey(entry: Pick<Entry, 'module_name' | 'name'>): string {
  return `${entry.module_name}\u0000${entry.name}`;
}

export type Verdict = 'growing' | 'flat' | 'plateaued';

/** One line of `/api/suspects`: an entry ranked by growth per request over recent records. */
export interface Suspect {
  module_name: string;
  name: string;
  obj_type: string;
  filename: string;
  lineno: number;
  /** Size in the first and last record of the window the verdict looks at. */
  first_size: number;
  last_size: number;
  /** Bytes per matching request over that window (least squares over cumulative requests). */
  growth_per_request: number;
  verdict: Verdict;
  /** Every non-baseline record of the current session that holds this entry, oldest first. */
  history: { index: number; requests: number; size: number }[];
}
