/**
 * Heap-wide growth (issue #10): which objects keep growing request after request,
 * wherever they are held, found cheaply by comparing compact per-snapshot tables.
 *
 * V8's node ids stay stable while one inspector session lasts, so "the same object"
 * across snapshots is "the same id". Each snapshot leaves a table of its objects above
 * a size floor — id, retained size, length (properties + elements, a Map's or Set's
 * table slots) — sorted by id: a few hundred KB for a 100 MB heap, built in one pass
 * over those objects' edges. The next snapshots look their own objects up in it by
 * binary search; no snapshot is kept.
 *
 * An object is a grower when it is in the current table and in the two before it (with
 * requests served between them) and its length rose at both steps, its retained size
 * with it. (Retained size alone is not a sign: functions, prototypes and contexts keep
 * gaining compiled code and feedback over many requests.) Every owner of a growing collection grows too (up to the root), so growers are
 * collapsed along the dominator tree: one that dominates another grower is dropped, and
 * what is left is the innermost object that grows (`MemoryStore.sessions`, not the
 * store, the middleware's closure or the app). Whether that growth is a leak, a filling
 * cache or V8's noise is the verdict's job (suspects.ts), over many more records.
 */
import type { HeapSnapshot } from './snapshot.js';

/** One snapshot's objects above the floor, sorted by id. */
export interface GrowthTable {
  ids: Uint32Array;
  retained: Float64Array;
  lengths: Uint32Array;
  /** Node ordinals in the snapshot the table was made from (only meaningful there). */
  ordinals: Uint32Array;
  /** Matching requests served in this session up to this snapshot. */
  requests: number;
}

/** Objects retaining less than this are left out of the table: nothing to point at yet. */
export const TABLE_FLOOR_BYTES = 512;
/** At most this many rows (the largest objects first would need a sort: rows are simply cut). */
const MAX_ROWS = (1 << 21) - 1;

interface TableTree {
  retained: Float64Array;
  firstEdge: Uint32Array;
}

/**
 * The table of `snapshot`'s objects (JS objects and closures) retaining at least `floor`
 * bytes.
 *
 * @example
 *   const table = growthTable(snapshot, dominators, cumulativeRequests);
 */
export function growthTable(
  snapshot: HeapSnapshot,
  tree: TableTree,
  requests: number,
  floor = TABLE_FLOOR_BYTES,
): GrowthTable {
  const { nodes, edges, layout, nodeCount, stringTable } = snapshot;
  const nfc = layout.nodeFieldCount;
  const efc = layout.edgeFieldCount;
  const { retained, firstEdge } = tree;
  const typeOffset = layout.nodeTypeOffset;
  const idOffset = layout.nodeIdOffset;
  const edgeTypeOffset = layout.edgeTypeOffset;
  const edgeNameOffset = layout.edgeNameOffset;
  const edgeToOffset = layout.edgeToNodeOffset;
  const { object, closure } = layout.nodeType;
  const { property, element, internal } = layout.edgeType;
  // A Map's or Set's entries are slots of its `table` (an internal edge).
  const tableName = stringTable.indexOf('table');
  const found: number[] = [];
  for (let o = 0; o < nodeCount && found.length < MAX_ROWS; o++) {
    if (retained[o]! < floor) continue;
    const type = nodes[o * nfc + typeOffset];
    if (type === object || type === closure) found.push(o);
  }
  const count = found.length;
  // Sorted by id through packed keys (id × 2^21 + row stays below 2^53).
  const keys = new Float64Array(count);
  for (let row = 0; row < count; row++) keys[row] = nodes[found[row]! * nfc + idOffset]! * (MAX_ROWS + 1) + row;
  keys.sort();
  const ids = new Uint32Array(count);
  const sizes = new Float64Array(count);
  const lengths = new Uint32Array(count);
  const ordinals = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const row = keys[i]! % (MAX_ROWS + 1);
    const o = found[row]!;
    ids[i] = nodes[o * nfc + idOffset]!;
    sizes[i] = retained[o]!;
    ordinals[i] = o;
    let length = 0;
    for (let e = firstEdge[o]!, end = firstEdge[o + 1]!; e < end; e += efc) {
      const type = edges[e + edgeTypeOffset];
      if (type === property || type === element) length++;
      else if (type === internal && edges[e + edgeNameOffset] === tableName) {
        const to = edges[e + edgeToOffset]! / nfc;
        length += (firstEdge[to + 1]! - firstEdge[to]!) / efc;
      }
    }
    lengths[i] = length;
  }
  return { ids, retained: sizes, lengths, ordinals, requests };
}

/** The row of `id` in `table`, or -1. */
export function rowOf(table: Pick<GrowthTable, 'ids'>, id: number): number {
  const ids = table.ids;
  let low = 0;
  let high = ids.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const at = ids[mid]!;
    if (at === id) return mid;
    if (at < id) low = mid + 1;
    else high = mid - 1;
  }
  return -1;
}

/** An object that kept growing over the compared snapshots. */
export interface GrowerCandidate {
  ordinal: number;
  id: number;
  /** Retained bytes and length gained since the oldest compared table. */
  bytes: number;
  elements: number;
  /** Matching requests served since the oldest compared table. */
  requests: number;
}

/** How many growers a snapshot reports at most (the ones that gained most bytes). */
export const MAX_GROWERS = 12;

/**
 * The growers of `current` against `previous` (oldest first; the last two count), after
 * collapsing nested ones along the dominator tree: the `max` that gained most bytes, and
 * every grower reported before (`tracked`) while it is in the table, so their history goes on when they stop
 * growing; ids in `skip` (covered by the module entries) are left out.
 */
export function findGrowers(
  current: GrowthTable,
  previous: readonly GrowthTable[],
  dominator: Uint32Array,
  rootOrdinal: number,
  options: { tracked?: ReadonlySet<number>; skip?: ReadonlySet<number>; max?: number } = {},
): GrowerCandidate[] {
  const tracked = options.tracked ?? new Set<number>();
  const skip = options.skip ?? new Set<number>();
  const max = options.max ?? MAX_GROWERS;
  if (previous.length < 2) return trackedOnly(current, previous, tracked, skip);
  const older = previous[previous.length - 2]!;
  const newer = previous[previous.length - 1]!;
  const candidates: GrowerCandidate[] = [];
  for (let i = 0; i < current.ids.length; i++) {
    const id = current.ids[i]!;
    const b = rowOf(newer, id);
    if (b < 0) continue;
    const a = rowOf(older, id);
    if (a < 0) continue;
    const la = older.lengths[a]!;
    const lb = newer.lengths[b]!;
    const lc = current.lengths[i]!;
    const ra = older.retained[a]!;
    const rc = current.retained[i]!;
    // Growth in bytes alone is not enough: functions, prototypes and closure contexts
    // gain compiled code and feedback for many requests (V8's, not the app's data).
    const byLength = la < lb && lb < lc && ra < rc;
    if (!byLength && !tracked.has(id)) continue;
    candidates.push({
      ordinal: current.ordinals[i]!,
      id,
      bytes: rc - ra,
      elements: lc - la,
      requests: current.requests - older.requests,
    });
  }
  // Collapse: walk up from each candidate; a candidate met on the way has a grower
  // inside it. Nodes already walked are not walked again (their owners are marked).
  const isCandidate = new Map<number, number>();
  for (const [k, c] of candidates.entries()) isCandidate.set(c.ordinal, k);
  const outer = new Uint8Array(candidates.length);
  const walked = new Set<number>();
  for (const c of candidates) {
    let o = dominator[c.ordinal]!;
    while (o !== rootOrdinal && !walked.has(o)) {
      walked.add(o);
      const k = isCandidate.get(o);
      if (k !== undefined) outer[k] = 1;
      o = dominator[o]!;
    }
  }
  const kept = candidates.filter((c, k) => (outer[k] === 0 || tracked.has(c.id)) && !skip.has(c.id));
  // Growers reported before, then up to `max` new ones, those that gained most first.
  const result = kept.filter((c) => tracked.has(c.id));
  const fresh = kept.filter((c) => !tracked.has(c.id)).sort((x, y) => y.bytes - x.bytes);
  return result.concat(fresh.slice(0, max));
}

function trackedOnly(
  current: GrowthTable,
  previous: readonly GrowthTable[],
  tracked: ReadonlySet<number>,
  skip: ReadonlySet<number>,
): GrowerCandidate[] {
  const result: GrowerCandidate[] = [];
  const before = previous[previous.length - 1];
  for (const id of tracked) {
    if (skip.has(id)) continue;
    const i = rowOf(current, id);
    if (i < 0) continue;
    const b = before ? rowOf(before, id) : -1;
    result.push({
      ordinal: current.ordinals[i]!,
      id,
      bytes: b < 0 ? 0 : current.retained[i]! - before!.retained[b]!,
      elements: b < 0 ? 0 : current.lengths[i]! - before!.lengths[b]!,
      requests: before ? current.requests - before.requests : 0,
    });
  }
  return result;
}

/**
 * The tables of one inspector session and the growers reported so far, kept between
 * snapshots by whoever runs the analyses (the analysis worker). A new session starts
 * over: node ids mean nothing across sessions.
 */
export class GrowthTracker {
  #session: string | undefined;
  #tables: GrowthTable[] = [];
  #tracked = new Set<number>();

  /**
   * The previous tables (oldest first), tracked ids and the requests served before, for
   * a snapshot of `session`.
   */
  begin(session: string): { previous: readonly GrowthTable[]; tracked: ReadonlySet<number>; requestsBefore: number } {
    if (session !== this.#session) {
      this.#session = session;
      this.#tables = [];
      this.#tracked = new Set();
    }
    return {
      previous: [...this.#tables],
      tracked: new Set(this.#tracked),
      requestsBefore: this.#tables[this.#tables.length - 1]?.requests ?? 0,
    };
  }

  /**
   * Keeps `table` (the last three count); a table with no request since the previous
   * one replaces it, so that each comparison step spans requests.
   */
  remember(table: GrowthTable, growers: readonly number[]): void {
    const last = this.#tables[this.#tables.length - 1];
    if (last && last.requests === table.requests) this.#tables.pop();
    this.#tables.push({ ...table, ordinals: new Uint32Array(0) });
    if (this.#tables.length > 3) this.#tables.shift();
    for (const id of growers) if (this.#tracked.size < MAX_TRACKED) this.#tracked.add(id);
  }
}

/** Growers followed per session at most. */
const MAX_TRACKED = 48;
