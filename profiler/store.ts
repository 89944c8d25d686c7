import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import { AppError } from '../common/errors.js';
import type { HeapPoint } from './heap-points.js';
import type { HeapRecord } from './record.js';

/** The newest this many heap points are kept (older ones are dropped first; ~150 bytes each). */
const MAX_POINTS = 50_000;
/** Points are cheap and frequent: the file is written for them at most this often. */
const POINT_WRITE_DELAY_MS = 1_000;

/** What the lowdb file holds. `version` changes only when the record format breaks. */
export interface StoreData {
  version: 1;
  records: HeapRecord[];
  /**
   * Optional (absent in older files): the cheap per-request heap figures, one per signal
   * batch (heap-points.ts), oldest first, at most the newest 50,000.
   */
  points?: HeapPoint[];
}

export type NewRecord = Omit<HeapRecord, 'index'>;

/**
 * The record store: a lowdb JSON file written atomically (lowdb's steno writes a
 * temporary file and renames it over the old one), so a crash mid-write leaves the
 * previous file intact. A file that exists but is not ours is never touched: `open`
 * refuses with STORE_UNREADABLE and the user decides what to do with it.
 *
 * @example
 *   const store = await RecordStore.open('.apptrace/db.json');
 *   const { record, written } = store.append({ at, requests: 1, request, heap, timings, entries });
 */
export class RecordStore {
  readonly path: string;
  readonly #db: Low<StoreData>;
  #queue: Promise<unknown> = Promise.resolve();
  #pointWrite: NodeJS.Timeout | null = null;

  private constructor(path: string, db: Low<StoreData>) {
    this.path = path;
    this.#db = db;
  }

  static async open(path: string): Promise<RecordStore> {
    const absolute = resolve(path);
    const adapter = new JSONFile<StoreData>(absolute);
    const db = new Low<StoreData>(adapter, { version: 1, records: [] });
    // Read through the adapter, not db.read(): Low ignores a falsy value (`null`, `0`)
    // and would then overwrite that file with an empty store.
    let existing: StoreData | null;
    try {
      existing = await adapter.read();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EISDIR') throw notOurs(absolute, 'it is a directory', error);
      if (error instanceof SyntaxError) throw notOurs(absolute, `not valid JSON (${error.message})`, error);
      throw new AppError('STORE_UNREADABLE', `cannot read the record store ${absolute}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (existing === null && existsSync(absolute)) throw notOurs(absolute, 'it holds null');
    if (existing !== null) {
      const why = shapeProblem(existing);
      if (why) throw notOurs(absolute, why);
      db.data = existing;
    }
    const store = new RecordStore(absolute, db);
    try {
      await mkdir(dirname(absolute), { recursive: true });
      // Write once now, so an unwritable place fails at start, not at the first record.
      await db.write();
    } catch (error) {
      throw new AppError(
        'STORE_UNREADABLE',
        `cannot write the record store ${absolute}: ${(error as Error).message}; pass --db a writable path`,
        { cause: error },
      );
    }
    return store;
  }

  get size(): number {
    return this.#db.data.records.length;
  }

  get lastIndex(): number {
    const records = this.#db.data.records;
    return records.length === 0 ? 0 : records[records.length - 1]!.index;
  }

  /** Records with index > since, oldest first (a copy of the list; records are shared). */
  since(since = 0): HeapRecord[] {
    const records = this.#db.data.records;
    if (since <= 0) return records.slice();
    // Indexes increase by one; search from the end, new records are what callers want.
    let i = records.length;
    while (i > 0 && records[i - 1]!.index > since) i--;
    return records.slice(i);
  }

  /**
   * Numbers a record, keeps it and starts writing the file. The record is visible to
   * `since` at once; `written` settles when it is on disk. Writes are serialized (and
   * steno coalesces the queued ones): the file on disk always holds a prefix of the
   * records, in order.
   */
  append(record: NewRecord): { record: HeapRecord; written: Promise<void> } {
    const stored: HeapRecord = { index: this.lastIndex + 1, ...record };
    this.#db.data.records.push(stored);
    const write = this.#queue.then(() => this.#db.write());
    this.#queue = write.catch(() => undefined);
    const written = write.catch((error: unknown) => {
      throw new AppError('STORE_UNREADABLE', `cannot write the record store ${this.path}: ${(error as Error).message}`, {
        cause: error,
      });
    });
    return { record: stored, written };
  }

  /**
   * Forgets that record `index` has a kept snapshot (its file was deleted to keep the
   * newest N). Saved with the next write; the record itself is unchanged otherwise.
   */
  dropSnapshot(index: number): void {
    const record = this.since(index - 1)[0];
    if (record?.index !== index || record.snapshot === undefined) return;
    delete record.snapshot;
    const write = this.#queue.then(() => this.#db.write());
    this.#queue = write.catch(() => undefined);
  }

  /** Points with index > since, oldest first. */
  points(since = 0): HeapPoint[] {
    const points = this.#db.data.points ?? [];
    let i = points.length;
    while (i > 0 && points[i - 1]!.index > since) i--;
    return points.slice(i);
  }

  /** Numbers and keeps a heap point; the file is written within a second (with records sooner). */
  addPoint(point: Omit<HeapPoint, 'index'>): HeapPoint {
    const points = (this.#db.data.points ??= []);
    const stored: HeapPoint = { index: (points[points.length - 1]?.index ?? 0) + 1, ...point };
    points.push(stored);
    if (points.length > MAX_POINTS) points.splice(0, points.length - MAX_POINTS);
    if (this.#pointWrite === null) {
      this.#pointWrite = setTimeout(() => {
        this.#pointWrite = null;
        const write = this.#queue.then(() => this.#db.write());
        this.#queue = write.catch(() => undefined);
      }, POINT_WRITE_DELAY_MS);
      this.#pointWrite.unref();
    }
    return stored;
  }

  /** Resolves when every write started so far has finished (points waiting to be written included). */
  async flush(): Promise<void> {
    if (this.#pointWrite !== null) {
      clearTimeout(this.#pointWrite);
      this.#pointWrite = null;
      const write = this.#queue.then(() => this.#db.write());
      this.#queue = write.catch(() => undefined);
    }
    await this.#queue;
  }
}

function notOurs(path: string, why: string, cause?: unknown): AppError {
  return new AppError(
    'STORE_UNREADABLE',
    `${path} is not an apptrace store: ${why}. It was left untouched; move it away or pass --db another path.`,
    { cause },
  );
}

/** Why `data` is not a store of ours, or undefined when it is. */
function shapeProblem(data: unknown): string | undefined {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return 'it does not hold a JSON object';
  const { version, records } = data as Partial<StoreData>;
  if (version !== 1) return `its "version" is ${JSON.stringify(version)}, expected 1`;
  if (!Array.isArray(records)) return 'it has no "records" list';
  let last = 0;
  for (const record of records) {
    const index = (record as Partial<HeapRecord> | null)?.index;
    if (typeof index !== 'number' || !Number.isInteger(index) || index <= last)
      return `record ${last + 1} has no increasing "index"`;
    if (!Array.isArray((record as HeapRecord).entries)) return `record ${index} has no "entries" list`;
    last = index;
  }
  return undefined;
}
