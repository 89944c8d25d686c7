import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../contract/errors.js';

/**
 * One writer per store: `<store>.lock` beside the store file holds the pid of the profiler
 * that writes it. A second profiler on the same store refuses to start, naming the store
 * and that pid; a lock whose process is gone (killed, crashed) is taken over.
 *
 * The lock is created with O_EXCL, so of two profilers starting together exactly one gets
 * it. Taking over a stale lock renames it away first (only one rename of a given file
 * succeeds) and then creates a fresh one with O_EXCL again, so two profilers that both
 * found the same stale lock still end with one holder.
 *
 * @example
 *   const lock = await lockStore('/app/.apptrace/db.json');
 *   ...
 *   lock.release();
 */
export interface StoreLock {
  readonly path: string;
  release(): void;
}

interface Holder {
  pid: number;
  since?: string;
}

/** An unreadable or empty lock younger than this may be one being written right now. */
const FRESH_MS = 2_000;

export function lockPath(storePath: string): string {
  return `${storePath}.lock`;
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is someone else's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(path: string): Holder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder> | null;
    return typeof parsed?.pid === 'number' && Number.isInteger(parsed.pid) && parsed.pid > 0
      ? (parsed as Holder)
      : undefined;
  } catch {
    return undefined;
  }
}

function inUse(storePath: string, path: string, holder: Holder | undefined): AppError {
  const who = holder
    ? `pid ${holder.pid}${holder.since ? `, since ${holder.since}` : ''}`
    : 'a process that is writing its lock';
  return new AppError(
    'STORE_LOCKED',
    `the record store ${storePath} is in use by another apptrace profiler (${who}; lock ${path}). ` +
      'Stop that one, or pass --db another path. ' +
      (holder ? `If no apptrace runs as pid ${holder.pid}, delete ${path}.` : ''),
  );
}

export async function lockStore(storePath: string): Promise<StoreLock> {
  const path = lockPath(storePath);
  const me: Holder = { pid: process.pid, since: new Date().toISOString() };
  for (let attempt = 0; attempt < 50; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new AppError(
          'STORE_UNREADABLE',
          `cannot create the store's lock ${path}: ${(error as Error).message}; pass --db a writable path.`,
          {
            cause: error,
          },
        );
      }
      const holder = readHolder(path);
      if (holder === undefined) {
        // Empty or half-written: its writer may be between open and write. Wait a little.
        let age = Infinity;
        try {
          age = Date.now() - statSync(path).mtimeMs;
        } catch {
          continue; // gone meanwhile: try again
        }
        if (age < FRESH_MS) {
          await sleep(100);
          continue;
        }
      } else if (holder.pid === process.pid || isProcessAlive(holder.pid)) {
        throw inUse(storePath, path, holder);
      }
      // Stale: move it away (only one of several contenders succeeds), check that what was
      // moved is the stale lock that was judged, then compete for a fresh one.
      const moved = `${path}.stale-${process.pid}`;
      try {
        renameSync(path, moved);
      } catch {
        continue;
      }
      const movedHolder = readHolder(moved);
      if (movedHolder !== undefined && movedHolder.pid !== holder?.pid && isProcessAlive(movedHolder.pid)) {
        // Another profiler took it over between our read and our rename: give it back.
        try {
          renameSync(moved, path);
        } catch {
          rmSync(moved, { force: true });
        }
        throw inUse(storePath, path, movedHolder);
      }
      rmSync(moved, { force: true });
      continue;
    }
    try {
      writeSync(fd, `${JSON.stringify(me)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    let released = false;
    // Even a process.exit() (a second Ctrl-C) leaves no lock behind; a SIGKILL does, and
    // the next profiler takes that one over.
    const onExit = (): void => release();
    const release = (): void => {
      if (released) return;
      released = true;
      process.off('exit', onExit);
      if (readHolder(path)?.pid === process.pid) rmSync(path, { force: true });
    };
    process.on('exit', onExit);
    return { path, release };
  }
  throw inUse(storePath, path, readHolder(path));
}
