/**
 * Allocation sites (`--allocation-sites`): which functions of the app allocated the
 * objects a growing entry holds.
 *
 * With allocation tracking on (`HeapProfiler.startTrackingHeapObjects({ trackAllocations:
 * true })`, or a target started with `node --track-heap-objects`) V8 records, for every
 * object allocated from then on, the JavaScript stack it was allocated on, and a snapshot
 * carries it: a node's `trace_node_id` names a node of `trace_tree` (a call tree; loader.ts
 * keeps it as rows with their parent's row), whose function info gives the function's
 * name, script and position. V8 records functions, not statements: the position is where
 * the allocating function starts (1-based line and column).
 *
 * Every tracked object still alive is attributed to the entry whose object dominates it
 * (the nearest, walking up the dominator tree) and to the first frame of its stack, from
 * the top, that is the app's own code: frames in `node:` internals and `node_modules` are
 * skipped, so `arr.push({...})` inside a library call still lands on the app's caller.
 * The counts are of live objects, so comparing the records of a session says which site
 * the entry's growth came from (allocation-marks.ts). V8 now and then loses the stacks of
 * objects that survive a garbage collection (Node 20: a record in which the older objects
 * carry none, while newer ones do again), so one record's counts can drop. Counting "objects newer than the
 * previous snapshot" by node id does not work: V8 reuses the id of a dead object for a new
 * one allocated at its address until its id map is next updated, so new objects can carry
 * old ids.
 *
 * @example
 *   const found = findAllocationSites(snapshot, { dominator, selfSize, entries, appFrame });
 *   found.byEntry.get(entry.id) // [{ function_name: 'remember', line: 3, count: 20, bytes: 1280, ... }]
 */
import type { AllocationSite, Entry } from '../../contract/record.js';
import { TRACE_ROOT_PARENT } from './loader.js';
import { createModuleMatcher } from './module-match.js';
import { originalName, scriptSourceMap, singleOriginalSource } from './source-maps.js';
import type { ScriptSourceMap } from './source-maps.js';
import type { HeapSnapshot } from './snapshot.js';

export interface AppFrame {
  module_name: string;
  filename: string;
  /** 1-based line in `filename`. */
  line: number;
  /** 1-based column in `filename`. */
  column: number;
}

export interface AllocationSiteOptions {
  /** Immediate dominator's ordinal by node ordinal (the root dominates itself). */
  dominator: Uint32Array;
  /** Self size by node ordinal, as DevTools shows it. */
  selfSize: ArrayLike<number>;
  /** The entries of this snapshot; those with an `id` get sites. */
  entries: readonly Entry[];
  /**
   * Where a frame is when it is the app's own code (module name, file and position,
   * source-mapped), or undefined for `node:` internals, `node_modules` and other code.
   * `url` is the script's URL or path; line and column are 1-based, as V8 writes them.
   */
  appFrame(url: string, line: number, column: number): AppFrame | undefined;
  /** scriptId → URL (live); without it the function info's script name is used. */
  scriptUrls?: ReadonlyMap<number, string>;
  /** Sites kept per entry, the most bytes first. */
  limit?: number;
}

export interface AllocationSitesResult {
  /** Whether the snapshot carries allocation stacks at all (tracking was on). */
  tracked: boolean;
  /** Entry id → its sites, the most bytes first. */
  byEntry: Map<number, AllocationSite[]>;
}

const DEFAULT_LIMIT = 8;
/** siteOfRow: not computed yet / no app frame on the stack. */
const UNKNOWN = -2;
const NO_SITE = -1;

export function findAllocationSites(snapshot: HeapSnapshot, options: AllocationSiteOptions): AllocationSitesResult {
  const byEntry = new Map<number, AllocationSite[]>();
  const { nodes, layout, traceTree, traceFunctionInfos, meta } = snapshot;
  const traceOffset = layout.nodeTraceNodeIdOffset;
  if (
    !traceTree ||
    !traceFunctionInfos ||
    traceOffset < 0 ||
    !meta.trace_node_fields ||
    !meta.trace_function_info_fields
  ) {
    return { tracked: false, byEntry };
  }
  const nfc = layout.nodeFieldCount;
  const idOffset = layout.nodeIdOffset;

  // Entry objects by ordinal.
  const entryIds = new Map<number, number>();
  options.entries.forEach((entry, index) => {
    if (entry.id !== undefined) entryIds.set(entry.id, index);
  });
  const entryOfOrdinal = new Map<number, number>();
  const tracked: number[] = [];
  for (let o = 0, base = 0; base < nodes.length; o++, base += nfc) {
    const entry = entryIds.get(nodes[base + idOffset]!);
    if (entry !== undefined) entryOfOrdinal.set(o, entry);
    if (nodes[base + traceOffset] !== 0) tracked.push(o);
  }
  if (tracked.length === 0 || entryOfOrdinal.size === 0) return { tracked: true, byEntry };

  const stacks = new TraceStacks(snapshot, options);
  const owner = new EntryOwner(options.dominator, entryOfOrdinal);
  // entry index → site index → totals
  const totals = new Map<number, Map<number, { count: number; bytes: number }>>();
  for (const o of tracked) {
    const entry = owner.of(o);
    if (entry < 0) continue;
    const site = stacks.siteOf(nodes[o * nfc + traceOffset]!);
    if (site < 0) continue;
    let sites = totals.get(entry);
    if (!sites) totals.set(entry, (sites = new Map()));
    let total = sites.get(site);
    if (!total) sites.set(site, (total = { count: 0, bytes: 0 }));
    total.count++;
    total.bytes += options.selfSize[o]!;
  }
  const limit = options.limit ?? DEFAULT_LIMIT;
  for (const [entryIndex, sites] of totals) {
    const list: AllocationSite[] = [];
    for (const [site, total] of sites) list.push({ ...stacks.sites[site]!, count: total.count, bytes: total.bytes });
    list.sort((a, b) => b.bytes - a.bytes || b.count - a.count || a.line - b.line);
    byEntry.set(options.entries[entryIndex]!.id!, list.slice(0, limit));
  }
  return { tracked: true, byEntry };
}

/** Maps trace tree nodes to the first app frame on their stack, memoised per row. */
class TraceStacks {
  readonly sites: Omit<AllocationSite, 'count' | 'bytes'>[] = [];
  readonly #tree: Uint32Array;
  readonly #infos: Uint32Array;
  readonly #rowWidth: number;
  readonly #idField: number;
  readonly #functionField: number;
  readonly #infoWidth: number;
  readonly #info: { name: number; scriptName: number; scriptId: number; line: number; column: number };
  /** trace node id → row + 1 (0: no such node); V8 numbers trace nodes densely from 1. */
  readonly #rowOfId: Int32Array;
  readonly #siteOfRow: Int32Array;
  /** Function info index → site index, NO_SITE, or UNKNOWN. */
  readonly #siteOfFunction: Int32Array;
  readonly #siteKeys = new Map<string, number>();

  constructor(
    private readonly snapshot: HeapSnapshot,
    private readonly options: AllocationSiteOptions,
  ) {
    const nodeFields = snapshot.meta.trace_node_fields!.filter((f) => f !== 'children');
    const infoFields = snapshot.meta.trace_function_info_fields!;
    this.#tree = snapshot.traceTree!;
    this.#infos = snapshot.traceFunctionInfos!;
    this.#rowWidth = nodeFields.length + 1;
    this.#idField = nodeFields.indexOf('id');
    this.#functionField = nodeFields.indexOf('function_info_index');
    this.#infoWidth = infoFields.length;
    this.#info = {
      name: infoFields.indexOf('name'),
      scriptName: infoFields.indexOf('script_name'),
      scriptId: infoFields.indexOf('script_id'),
      line: infoFields.indexOf('line'),
      column: infoFields.indexOf('column'),
    };
    const rows = Math.floor(this.#tree.length / this.#rowWidth);
    let maxId = 0;
    for (let r = 0; r < rows; r++) maxId = Math.max(maxId, this.#tree[r * this.#rowWidth + this.#idField]!);
    // Dense in practice; a sparse or odd tree falls back to no lookup beyond a sane size.
    this.#rowOfId = new Int32Array(Math.min(maxId, rows * 4 + 16) + 1);
    for (let r = 0; r < rows; r++) {
      const id = this.#tree[r * this.#rowWidth + this.#idField]!;
      if (id < this.#rowOfId.length) this.#rowOfId[id] = r + 1;
    }
    this.#siteOfRow = new Int32Array(rows).fill(UNKNOWN);
    this.#siteOfFunction = new Int32Array(Math.floor(this.#infos.length / Math.max(1, this.#infoWidth))).fill(UNKNOWN);
  }

  /** The site of a trace node id, or a negative number when its stack has no app frame. */
  siteOf(traceNodeId: number): number {
    const start = traceNodeId < this.#rowOfId.length ? this.#rowOfId[traceNodeId]! - 1 : -1;
    if (start < 0 || this.#idField < 0 || this.#functionField < 0) return NO_SITE;
    const walked: number[] = [];
    let site = NO_SITE;
    for (let row = start, steps = 0; row !== TRACE_ROOT_PARENT && steps < this.#siteOfRow.length; steps++) {
      const known = this.#siteOfRow[row]!;
      if (known !== UNKNOWN) {
        site = known;
        break;
      }
      walked.push(row);
      const frame = this.#functionSite(this.#tree[row * this.#rowWidth + this.#functionField]!);
      if (frame >= 0) {
        site = frame;
        break;
      }
      row = this.#tree[row * this.#rowWidth + this.#rowWidth - 1]!;
    }
    for (const row of walked) this.#siteOfRow[row] = site;
    return site;
  }

  #functionSite(index: number): number {
    if (index >= this.#siteOfFunction.length) return NO_SITE;
    const cached = this.#siteOfFunction[index]!;
    if (cached !== UNKNOWN) return cached;
    const site = this.#resolve(index);
    this.#siteOfFunction[index] = site;
    return site;
  }

  #resolve(index: number): number {
    const infos = this.#infos;
    const base = index * this.#infoWidth;
    const field = (i: number) => (i < 0 ? 0 : infos[base + i]!);
    const strings = this.snapshot.stringTable;
    const line = field(this.#info.line);
    if (line === 0) return NO_SITE; // (root), (program), builtins: no position
    const scriptId = field(this.#info.scriptId);
    const url = this.options.scriptUrls?.get(scriptId) ?? strings.get(field(this.#info.scriptName));
    if (url === '') return NO_SITE;
    const frame = this.options.appFrame(url, line, Math.max(1, field(this.#info.column)));
    if (!frame) return NO_SITE;
    const functionName = (this.#info.name < 0 ? '' : strings.get(field(this.#info.name))) || '(anonymous)';
    const key = `${frame.filename}\u0000${frame.line}\u0000${frame.column}\u0000${functionName}`;
    let site = this.#siteKeys.get(key);
    if (site === undefined) {
      site = this.sites.length;
      this.sites.push({
        module_name: frame.module_name,
        filename: frame.filename,
        line: frame.line,
        column: frame.column,
        function_name: functionName,
      });
      this.#siteKeys.set(key, site);
    }
    return site;
  }
}

/** The entry that dominates a node (nearest up the dominator tree), memoised along the way. */
class EntryOwner {
  /** ordinal → entry index + 1, or -1 for "no entry above", 0 for not known yet. */
  readonly #memo: Int32Array;
  constructor(
    private readonly dominator: Uint32Array,
    private readonly entryOfOrdinal: Map<number, number>,
  ) {
    this.#memo = new Int32Array(dominator.length);
  }

  of(ordinal: number): number {
    const walked: number[] = [];
    let owner = -1;
    for (let o = ordinal, steps = 0; steps < this.dominator.length; steps++) {
      const entry = this.entryOfOrdinal.get(o);
      if (entry !== undefined) {
        owner = entry;
        break;
      }
      const memo = this.#memo[o]!;
      if (memo !== 0) {
        owner = memo > 0 ? memo - 1 : -1;
        break;
      }
      walked.push(o);
      const up = this.dominator[o]!;
      if (up === o) break; // the root
      o = up;
    }
    for (const o of walked) this.#memo[o] = owner >= 0 ? owner + 1 : -1;
    return owner;
  }
}

export interface AppFrameOptions {
  /** The app's root: module names are relative to it. */
  root: string;
  /** The traced module name of a script (--trace-module), or undefined. */
  traced(url: string): string | undefined;
  /** The script's source as the target loaded it, for its source map; may be undefined. */
  source?(url: string): string | undefined;
}

/**
 * `appFrame` for findAllocationSites: a frame is the app's when its script is traced or
 * is one of the app's own files (under the root, not in `node_modules`, not `node:`).
 * Positions of a source-mapped script become the original source's (`src/store.ts`).
 */
export function appFrameResolver(options: AppFrameOptions): AllocationSiteOptions['appFrame'] {
  const own = createModuleMatcher({ root: options.root });
  const scripts = new Map<string, { module_name: string; map: ScriptSourceMap | undefined } | null>();
  const script = (url: string) => {
    let known = scripts.get(url);
    if (known === undefined) {
      const name = options.traced(url) ?? own.traced(url);
      const source = name === undefined ? undefined : options.source?.(url);
      known =
        name === undefined
          ? null
          : { module_name: name, map: source === undefined ? undefined : scriptSourceMap(url, source) };
      scripts.set(url, known);
    }
    return known;
  };
  return (url, line, column) => {
    const known = script(url);
    if (!known) return undefined;
    if (known.map) {
      const original = known.map.originalPosition(line, column - 1);
      if (original) {
        const single = singleOriginalSource(known.map);
        return {
          module_name: single === undefined ? known.module_name : originalName(single, options.root),
          filename: originalName(original.url, options.root),
          line: original.line,
          column: original.column + 1,
        };
      }
    }
    return { module_name: known.module_name, filename: known.module_name, line, column };
  };
}
