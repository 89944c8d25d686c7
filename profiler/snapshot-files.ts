import { type WriteStream, createWriteStream, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * Raw snapshots kept beside the record store (`--keep-snapshots N`), to open in Chrome
 * DevTools or re-run with `apptrace-profiler analyze`: `<store file>.snapshots/<index>.heapsnapshot`
 * (`.apptrace/db.json.snapshots/12.heapsnapshot`): one folder per store, so that two stores in
 * one folder never share (or prune) each other's snapshots.
 * Chunks are written as they stream in, to a `.partial` file renamed once the record
 * exists, so a snapshot cut off mid-stream leaves no file; only the newest N are kept.
 */
export const SNAPSHOT_FILE = /^(\d+)\.heapsnapshot$/;

/** Where the snapshots of the store at `dbPath` go: a folder beside it, named after it. */
export function snapshotDir(dbPath: string): string {
  const absolute = resolve(dbPath);
  return join(dirname(absolute), `${basename(absolute)}.snapshots`);
}

export function snapshotFileName(index: number): string {
  return `${index}.heapsnapshot`;
}

/** One snapshot being written. */
export interface SnapshotWriter {
  write(chunk: string): void;
  /** Waits for the bytes to reach the file; resolves false when writing failed. */
  finish(): Promise<boolean>;
  /** Names the file after its record; returns the file name, or undefined when it failed. */
  commit(index: number): string | undefined;
  /** Deletes what was written (cut off, failed, or stopping). */
  abort(): void;
}

export class SnapshotFiles {
  readonly dir: string;
  readonly keep: number;
  readonly #log: (line: string) => void;
  #serial = 0;

  constructor(options: { dbPath: string; keep: number; log?: (line: string) => void }) {
    this.dir = snapshotDir(options.dbPath);
    this.keep = options.keep;
    this.#log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    mkdirSync(this.dir, { recursive: true });
    // Left over from a profiler that was killed mid-snapshot.
    for (const name of readdirSync(this.dir)) {
      if (name.endsWith('.partial')) rmSync(join(this.dir, name), { force: true });
    }
  }

  begin(): SnapshotWriter {
    const partial = join(this.dir, `.${process.pid}-${++this.#serial}.heapsnapshot.partial`);
    let failed: Error | null = null;
    const stream: WriteStream = createWriteStream(partial);
    stream.on('error', (error) => {
      if (failed === null)
        this.#log(
          `apptrace-profiler: cannot keep the snapshot in ${this.dir}: ${error.message}; the record is kept without it.`,
        );
      failed = error;
    });
    let closed: Promise<boolean> | null = null;
    const close = (): Promise<boolean> =>
      (closed ??= new Promise<boolean>((done) => {
        if (stream.destroyed) return done(false);
        stream.end(() => done(failed === null));
        stream.once('error', () => done(false));
      }));
    return {
      write(chunk) {
        if (failed === null) stream.write(chunk);
      },
      finish: close,
      commit: (index) => {
        if (failed !== null || !stream.writableFinished) {
          rmSync(partial, { force: true });
          return undefined;
        }
        const name = snapshotFileName(index);
        try {
          renameSync(partial, join(this.dir, name));
        } catch (error) {
          this.#log(
            `apptrace-profiler: cannot keep the snapshot as ${join(this.dir, name)}: ${(error as Error).message}`,
          );
          rmSync(partial, { force: true });
          return undefined;
        }
        return name;
      },
      abort() {
        failed ??= new Error('aborted');
        // The file may not even be open yet: remove it once the stream has closed.
        stream.once('close', () => rmSync(partial, { force: true }));
        stream.destroy();
      },
    };
  }

  /**
   * Deletes all but the newest `keep` snapshots; returns the indexes deleted. With `isOurs`,
   * only files that a record of this store names count (and are ever deleted): a file put
   * there by hand or by something else is left alone and does not push ours out.
   */
  prune(isOurs?: (index: number) => boolean): number[] {
    const kept = isOurs ? this.indexes().filter(isOurs) : this.indexes();
    const gone = kept.slice(0, Math.max(0, kept.length - this.keep));
    for (const index of gone) rmSync(join(this.dir, snapshotFileName(index)), { force: true });
    return gone;
  }

  /** Indexes of the snapshots on disk, oldest first. */
  indexes(): number[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: number[] = [];
    for (const name of names) {
      const m = SNAPSHOT_FILE.exec(name);
      if (m) out.push(Number(m[1]));
    }
    return out.sort((a, b) => a - b);
  }
}
