import type { HeapSnapshot } from './snapshot.js';

/** Lookups answered by a plain scan before an index is built (most analyses make a few). */
const SCANS_BEFORE_INDEX = 16;
/** Rows are packed as object × ROW_LIMIT + row in a sorted Float64Array (exact below 2^53). */
const ROW_LIMIT = 2 ** 21;

/**
 * Finds a node's row in the snapshot's `locations` (object_index, script_id, line,
 * column; 0-based line and column). The first lookups scan the rows (a snapshot has
 * about one row per ten nodes, and an analysis looks up a handful of closures); after
 * that an index is built once: a binary search over the rows when V8 wrote them in
 * node order, else over sorted packed keys (V8 does not always keep node order).
 */
export class LocationIndex {
  private readonly rows: Uint32Array;
  private readonly width: number;
  private readonly objectField: number;
  private readonly scriptField: number;
  private readonly lineField: number;
  private readonly columnField: number;
  private readonly count: number;
  private lookups = 0;
  /** null until built; 'rows' when the rows themselves are sorted. */
  private index: 'rows' | Float64Array | Map<number, number> | null = null;

  constructor(snapshot: HeapSnapshot) {
    const fields = snapshot.meta.location_fields ?? ['object_index', 'script_id', 'line', 'column'];
    const at = (name: string, fallback: number) => (fields.includes(name) ? fields.indexOf(name) : fallback);
    this.rows = snapshot.locations;
    this.width = snapshot.layout.locationFieldCount || fields.length;
    this.objectField = at('object_index', 0);
    this.scriptField = at('script_id', 1);
    this.lineField = at('line', 2);
    this.columnField = at('column', 3);
    this.count = this.width > 0 ? Math.floor(this.rows.length / this.width) : 0;
  }

  private object(row: number): number {
    return this.rows[row * this.width + this.objectField]!;
  }

  /** The row of a node offset, or -1. */
  find(node: number): number {
    if (this.index === null) {
      if (this.lookups++ < SCANS_BEFORE_INDEX) return this.scan(node);
      this.index = this.buildIndex();
    }
    const index = this.index;
    if (index instanceof Map) return index.get(node) ?? -1;
    if (index === 'rows')
      return this.search(
        node,
        this.count,
        (row) => this.object(row),
        (row) => row,
      );
    return this.search(
      node,
      index.length,
      (i) => Math.floor(index[i]! / ROW_LIMIT),
      (i) => index[i]! % ROW_LIMIT,
    );
  }

  scriptId(row: number): number {
    return this.rows[row * this.width + this.scriptField]!;
  }

  line(row: number): number {
    return this.rows[row * this.width + this.lineField]!;
  }

  column(row: number): number {
    return this.rows[row * this.width + this.columnField]!;
  }

  private scan(node: number): number {
    const rows = this.rows;
    const width = this.width;
    for (let i = this.objectField, row = 0; row < this.count; row++, i += width) if (rows[i] === node) return row;
    return -1;
  }

  private search(node: number, length: number, objectAt: (i: number) => number, rowAt: (i: number) => number): number {
    let low = 0;
    let high = length - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const object = objectAt(mid);
      if (object === node) return rowAt(mid);
      if (object < node) low = mid + 1;
      else high = mid - 1;
    }
    return -1;
  }

  private buildIndex(): 'rows' | Float64Array | Map<number, number> {
    const rows = this.rows;
    const width = this.width;
    let sorted = true;
    for (
      let i = this.objectField + width, end = this.count * width, previous = rows[this.objectField] ?? 0;
      i < end;
      i += width
    ) {
      const object = rows[i]!;
      if (object < previous) {
        sorted = false;
        break;
      }
      previous = object;
    }
    if (sorted) return 'rows';
    if (this.count < ROW_LIMIT) {
      const keys = new Float64Array(this.count);
      for (let row = 0; row < this.count; row++) keys[row] = this.object(row) * ROW_LIMIT + row;
      return keys.sort();
    }
    const byNode = new Map<number, number>();
    for (let row = 0; row < this.count; row++) byNode.set(this.object(row), row);
    return byNode;
  }
}
