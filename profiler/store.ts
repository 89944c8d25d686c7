import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Low } from 'lowdb';
import { AppError } from '../contract/errors.js';
import { DurableJSONFile } from './durable-file.js';
import type { HeapPoint } from './heap-points.js';
import type { HeapRecord } from '../contract/record.js';
import { recordProblem } from './record-check.js';
import { type StoreLock, lockStore } from './store-lock.js';

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
 * The record store: a lowdb JSON file with one writer (a lock beside it names the
 * profiler that holds it), written so that what was acknowledged is on disk: a temporary
 * file, fsync'd, renamed over the old one (DurableJSONFile), so a crash mid-write leaves
 * the previous file intact. A file that exists but is not ours, is read-only or holds a
 * malformed record is never touched: `open` refuses with STORE_UNREADABLE naming the file
 * and the record, and the user decides what to do with it.
 *
 * @example
 *   const store = await RecordStore.open('.apptrace/db.json');
 *   const { record, written } = store.append({ at, requests: 1, request, heap, timings, entries });
 *   await written; // on disk
 *   const loss = await store.close(); // a message when records could not be written
 */
export class RecordStore {
  readonly path: string;
  readonly #db: Low<StoreData>;
  readonly #lock: StoreLock;
  #queue: Promise<unknown> = Promise.resolve();
  /** The write queued but not started yet: later appends share it. */
  #next: Promise<void> | null = null;
  /** The highest index known to be on disk, and why the last write failed. */
  #onDisk = 0;
  #lastFailure: Error | null = null;
  #pointWrite: NodeJS.Timeout | null = null;

  private constructor(path: string, db: Low<StoreData>, lock: StoreLock) {
    this.path = path;
    this.#db = db;
    this.#lock = lock;
  }

  static async open(path: string): Promise<RecordStore> {
    const absolute = resolve(path);
    try {
      await mkdir(dirname(absolute), { recursive: true });
    } catch (error) {
      throw new AppError(
        'STORE_UNREADABLE',
        `cannot create the folder of the record store ${absolute}: ${(error as Error).message}; pass --db a writable path.`,
        {
          cause: error,
        },
      );
    }
    const lock = await lockStore(absolute);
    try {
      return await RecordStore.#openLocked(absolute, lock);
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  static async #openLocked(absolute: string, lock: StoreLock): Promise<RecordStore> {
    const adapter = new DurableJSONFile<StoreData>(absolute);
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
      // Replacing it by a rename would make a read-only file writable (and root can write
      // anything): its mode says what its owner wants.
      if ((statSync(absolute).mode & 0o200) === 0) {
        throw new AppError(
          'STORE_UNREADABLE',
          `the record store ${absolute} is read-only; it was left untouched. Make it writable (chmod u+w) to record into it, or pass --db another path.`,
        );
      }
      db.data = existing;
    }
    const store = new RecordStore(absolute, db, lock);
    try {
      // Write once now, so an unwritable place fails at start, not at the first record.
      await db.write();
    } catch (error) {
      throw new AppError(
        'STORE_UNREADABLE',
        `cannot write the record store ${absolute}: ${(error as Error).message}; pass --db a writable path`,
        { cause: error },
      );
    }
    store.#onDisk = store.lastIndex;
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
   * `since` at once; `written` settles when it is on disk (fsync'd). Writes are serialized,
   * and appends that arrive while one runs share the next: the file on disk always holds
   * a prefix of the records, in order.
   */
  append(record: NewRecord): { record: HeapRecord; written: Promise<void> } {
    const stored: HeapRecord = { index: this.lastIndex + 1, ...record };
    this.#db.data.records.push(stored);
    const written = this.#write().catch((error: unknown) => {
      throw new AppError(
        'STORE_UNREADABLE',
        `cannot write the record store ${this.path}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    });
    return { record: stored, written };
  }

  /** True when record `index` names a kept snapshot (its file is this store's). */
  hasSnapshot(index: number): boolean {
    const record = this.since(index - 1)[0];
    return record?.index === index && record.snapshot !== undefined;
  }

  /**
   * Forgets that record `index` has a kept snapshot (its file was deleted to keep the
   * newest N). Saved with the next write; the record itself is unchanged otherwise.
   */
  dropSnapshot(index: number): void {
    const record = this.since(index - 1)[0];
    if (record?.index !== index || record.snapshot === undefined) return;
    delete record.snapshot;
    this.#write().catch(() => undefined);
  }

  /**
   * Deletes every record ("Clear records" in the UI, `apptrace-profiler clear`): the file
   * is rewritten empty, and the next record is numbered 1 again. Resolves with how many
   * records were deleted once the empty store is on disk.
   */
  async clear(): Promise<number> {
    const count = this.#db.data.records.length;
    this.#db.data.records = [];
    const write = this.#queue.then(() => this.#db.write());
    this.#queue = write.catch(() => undefined);
    try {
      await write;
    } catch (error) {
      throw new AppError(
        'STORE_UNREADABLE',
        `cannot write the record store ${this.path}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    return count;
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

  /**
   * Writes what is not on disk yet (one more try after a failed write), releases the lock,
   * and resolves with a message naming the records that could not be written, if any.
   * The store is not used afterwards.
   */
  async close(): Promise<string | undefined> {
    await this.flush();
    let loss: string | undefined;
    if (this.#onDisk < this.lastIndex || this.#lastFailure !== null) {
      try {
        await this.#write();
      } catch {
        // Said below.
      }
      if (this.#onDisk < this.lastIndex) {
        const first = this.#onDisk + 1;
        const last = this.lastIndex;
        loss =
          `${last - first + 1} record(s) (${first === last ? `#${first}` : `#${first}–#${last}`}) could not be written to ${this.path}: ` +
          `${this.#lastFailure?.message ?? 'unknown error'}. They are lost; free disk space or fix the file's permissions before the next run.`;
      }
    }
    this.#lock.release();
    return loss;
  }

  /** Queues a write of the whole store; appends made before it starts share it. */
  #write(): Promise<void> {
    if (this.#next !== null) return this.#next;
    const next = this.#queue.then(async () => {
      this.#next = null;
      const upTo = this.lastIndex;
      try {
        await this.#db.write();
      } catch (error) {
        // (DurableJSONFile has removed its temporary file: a full disk is not kept full.)
        this.#lastFailure = error as Error;
        throw error;
      }
      this.#lastFailure = null;
      this.#onDisk = Math.max(this.#onDisk, upTo);
    });
    this.#next = next;
    this.#queue = next.catch(() => undefined);
    return next;
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
  for (let i = 0; i < records.length; i++) {
    const record: unknown = records[i];
    const index = (record as Partial<HeapRecord> | null)?.index;
    const name =
      typeof index === 'number'
        ? `record ${index} (the ${ordinal(i + 1)} in "records")`
        : `the ${ordinal(i + 1)} record in "records"`;
    const why = recordProblem(record);
    if (why) return `${name} is malformed: ${why}`;
    if (index! <= last) return `${name} does not follow record ${last} ("index" must increase)`;
    last = index!;
  }
  return undefined;
}

function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}
