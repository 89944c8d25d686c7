/**
 * The record format of docs/design.md ("The record"): one record per snapshot, stored in the
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
  /**
   * The traced module it was found in (path relative to the app's root) or, for a
   * source-mapped script made from one source, that source's path (`src/store.ts`).
   */
  module_name: string;
  /** V8 node id of the object (stable while one CDP session lasts). Not in the 2010 format. */
  id?: number;
  /**
   * Where its retained size sits: the entry's own node, then down its dominator tree
   * always to the heaviest child while that holds at least half (heap/growth-path.ts).
   * Only for entries of 1 KB or more. Not in the 2010 format.
   */
  path?: PathStep[];
  /**
   * With `--allocation-sites`: the live objects it holds that were allocated while V8
   * tracked allocations, by the app's function that allocated them, the most bytes first;
   * absent when it holds none (heap/allocation-sites.ts). Not in the 2010 format.
   */
  allocations?: AllocationSite[];
}

/**
 * A function of the app that allocated objects an entry holds. V8 records the function,
 * not the statement: `line`/`column` are where the function starts (1-based, in
 * `filename`, source-mapped).
 */
export interface AllocationSite {
  module_name: string;
  filename: string;
  line: number;
  column: number;
  function_name: string;
  /** Live objects the entry holds that were allocated there (since tracking began). */
  count: number;
  /** Their self sizes, in bytes. */
  bytes: number;
}

/** One object on an entry's path down its dominator tree. */
export interface PathStep {
  /** V8 node id (stable while one CDP session lasts: compare within one `session`). */
  id: number;
  /**
   * How the previous step holds it: a property name (`history`), `[3]` for an element,
   * `(table)`/`(elements)` for V8's internal slots, a variable's name for a closure's
   * context; '' for the entry itself.
   */
  edge: string;
  /** V8's node type: object, array, closure, hidden, string, … */
  type: string;
  /** Constructor or V8 name: `Array`, `Map`, `EventEmitter`, `(object elements)`, a function's name. */
  name: string;
  self_size: number;
  retained_size: number;
  /**
   * What it holds: an Array's elements, a Map's or Set's entries (read from its table),
   * an object's properties (not `__proto__`), an internal array's slots.
   */
  length: number;
}

/** A source line that makes an entry grow, as the code browser marks it. */
export interface MarkedLine {
  /** 1-based line in the module's source as the code browser shows it. */
  line: number;
  /** Why, for people: `adds to MainPage.history (push)`. */
  reason: string;
  /**
   * `reference`: found in the source (a line that adds to the growing binding or
   * property); `allocation`: where the new objects were allocated (--allocation-sites).
   */
  kind: 'reference' | 'allocation';
  /** The module the line is in, when it is not the suspect's own. */
  module_name?: string;
}

/** One step of a suspect's growth path with its change per request. */
export interface GrowthStep {
  id: number;
  edge: string;
  type: string;
  name: string;
  /** Retained size and length in the last record of the comparison. */
  retained_size: number;
  length: number;
  bytes_per_request: number;
  elements_per_request: number;
}

/**
 * Where a suspect grows: its path in the latest record, from the entry down to the deepest
 * object (matched by V8 node id with an earlier record of the same session) whose growth
 * still accounts for most of the entry's. The last step is where it grows.
 */
export interface GrowthPath {
  steps: GrowthStep[];
  /** Readable: `MainPage.history → Array: +1 element, +2.6 KB per request`. */
  summary: string;
  /** `MainPage.history`: the entry's name and the property names down to the last step. */
  expression: string;
  /** The last step's growth per matching request. */
  bytes_per_request: number;
  elements_per_request: number;
  /** The records compared (indexes) and the matching requests between them. */
  from_index: number;
  to_index: number;
  requests: number;
}

/**
 * Who holds a heap-wide grower, as the code to open: `instance` of a class defined in the
 * app (`AppService.history`), `closure` created by app code, module-scope `variable` of
 * an app module, the app's `call` into a library that keeps it (`session(…) from
 * express-session`), or only a `library` object when no app code is on its path.
 */
export interface GrowerOwner {
  kind: 'instance' | 'closure' | 'variable' | 'call' | 'library';
  name: string;
}

/** One step of a grower's retaining path (the shortest from the root, as DevTools' Retainers view). */
export interface RetainerStep {
  id: number;
  /**
   * How the previous step holds it: a property name, `[3]` for an element,
   * `(context) x` for a closure's variable, `(closure context)`, `(getter)`, `(internal) x`
   * for V8's internal links; '' for the root.
   */
  edge: string;
  type: string;
  /** Constructor or V8 name; `(closure context)` for a closure's context. */
  name: string;
}

/**
 * An object anywhere in the heap that kept growing over the last snapshots of the
 * session (heap/growth-table.ts): the innermost collection that grows, named after its
 * nearest recognisable holder, placed at its nearest owner in the app
 * (heap/grower-owner.ts). Shaped as an Entry so that suspects rank both alike:
 * - `name`: `MemoryStore.sessions`, the holder's name and the property down to it;
 * - `obj_type`: the grower's constructor (`Object`, `Array`, `Map`);
 * - `dominated_size`: the grower's retained size; `id`: its node id; `path`: its growth
 *   path down its dominator tree, as for entries;
 * - `filename`/`lineno`/`module_name`: where the owner is (the class's field, the closure's
 *   function, the variable's declaration, the app's call into the library), source-mapped.
 * Once reported, a grower is reported in every later record of the session while it is
 * alive, so its history goes on when it stops growing.
 */
export interface HeapGrower extends Entry {
  /** Properties + elements, or a Map's or Set's table slots, in this record. */
  length: number;
  owner: GrowerOwner;
  /** From the root down to the grower (at most the last 24 steps). */
  retainers: RetainerStep[];
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
  /** True when the snapshot carried allocation stacks (`--allocation-sites`). */
  allocation_tracking?: boolean;
  /**
   * `pause_ms` (absent in older records): how long the target was held by the snapshot,
   * from the request until its stream ended; the pause budget's measure.
   */
  timings: { capture_ms: number; analysis_ms: number; pause_ms?: number };
  entries: Entry[];
  /**
   * Objects anywhere in the heap that keep growing (heap-wide growth, not only the traced
   * modules' entries): absent in records made before it existed and until three
   * snapshots of a session have been compared.
   */
  growers?: HeapGrower[];
  /**
   * With `--keep-snapshots N`: the file name of this record's raw snapshot
   * (`<index>.heapsnapshot` in the `snapshots` folder beside the store), while it is
   * among the newest N; downloadable at /api/records/<index>/snapshot.
   */
  snapshot?: string;
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
  /** Where it grows (growing suspects whose records carry paths), else null. */
  growth_path?: GrowthPath | null;
  /**
   * Lines that make it grow (growing suspects): `reference` ones found in the source (API
   * only), `allocation` ones where its objects were allocated (--allocation-sites).
   */
  marked_lines?: MarkedLine[];
  /** For a heap-wide grower (HeapRecord.growers): who holds it and how, from the latest record. */
  owner?: GrowerOwner;
  retainers?: RetainerStep[];
}

/**
 * A cheap reading of the target's heap after matching requests: `Runtime.getHeapUsage`
 * asks V8 for its counters, with no snapshot and no pause. Stored in the lowdb file under
 * `points` (optional) and served at `/api/heap-points?since=N`.
 */
export interface HeapPoint {
  /** Counts points from 1. */
  index: number;
  /** ISO time of the reading. */
  at: string;
  /** Matching requests reported since the previous point (signals that came together share one). */
  requests: number;
  /** The last of them. */
  request: RequestInfo | null;
  /** V8's used heap, bytes (live objects and garbage not yet collected). */
  used_size: number;
  /** V8's heap as allocated from the system, bytes. */
  total_size: number;
  /** The inspector session it was read in (as records' `session`). */
  session: string;
  /** The index of the newest record when it was read: points after record N draw after N. */
  after_record: number;
}

/** A finished matching response as the proxy reports it. */
export interface SignalledRequest extends RequestInfo {
  /** When the proxy saw the response finish (ms since epoch); the profiler's receipt time if absent. */
  at?: number;
  /** The client went away before the response finished (the target did the work all the same). */
  aborted?: boolean;
}
