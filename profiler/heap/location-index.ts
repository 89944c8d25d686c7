import type { HeapSnapshot } from './snapshot.js';

/**
 * Finds a node's row in the snapshot's `locations` (object_index, script_id, line,
 * column; 0-based line and column). V8 writes them in node order, so a binary search
 * works; a map is the fallback for snapshots that do not.
 */
export class LocationIndex {
  private readonly rows: Uint32Array;
  private readonly width: number;
  private readonly objectField: number;
  private readonly scriptField: number;
  private readonly lineField: number;
  private readonly columnField: number;
  private readonly count: number;
  private readonly byNode: Map<number, number> | undefined;

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
    // One tight pass over the object column (no method call per row).
    const rows = this.rows;
    const width = this.width;
    let sorted = true;
    for (let i = this.objectField + width, end = this.count * width, previous = rows[this.objectField] ?? 0; i < end; i += width) {
      const object = rows[i]!;
      if (object < previous) {
        sorted = false;
        break;
      }
      previous = object;
    }
    if (!sorted) {
      this.byNode = new Map();
      for (let row = 0; row < this.count; row++) this.byNode.set(this.object(row), row);
    }
  }

  private object(row: number): number {
    return this.rows[row * this.width + this.objectField]!;
  }

  /** The row of a node offset, or -1. */
  find(node: number): number {
    if (this.byNode !== undefined) return this.byNode.get(node) ?? -1;
    let low = 0;
    let high = this.count - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const object = this.object(mid);
      if (object === node) return mid;
      if (object < node) low = mid + 1;
      else high = mid - 1;
    }
    return -1;
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
}
