import { type FileHandle, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Adapter } from 'lowdb';

/**
 * A lowdb adapter for a JSON file that is on disk when `write` resolves: the text goes to
 * a temporary file beside it, which is fsync'd, renamed over the file, and the folder
 * fsync'd so that the rename itself survives a crash or power cut (lowdb's own JSONFile,
 * through steno, renames without fsync: a record acknowledged just before a kill could be
 * lost). The file keeps its permissions; a failed write removes its temporary file, so a
 * full disk is not kept full by it.
 *
 * @example
 *   const db = new Low(new DurableJSONFile<StoreData>('.apptrace/db.json'), { version: 1, records: [] });
 */
export class DurableJSONFile<T> implements Adapter<T> {
  readonly path: string;
  readonly tempPath: string;

  constructor(path: string) {
    this.path = path;
    this.tempPath = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  }

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    return JSON.parse(text) as T;
  }

  async write(data: T): Promise<void> {
    const text = JSON.stringify(data, null, 2);
    let mode = 0o644;
    try {
      mode = (await stat(this.path)).mode & 0o777;
    } catch {
      // A new file.
    }
    try {
      const file = await open(this.tempPath, 'w', mode);
      try {
        await file.writeFile(text, 'utf8');
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(this.tempPath, this.path);
    } catch (error) {
      await rm(this.tempPath, { force: true }).catch(() => undefined);
      throw error;
    }
    await syncFolder(dirname(this.path));
  }
}

async function syncFolder(path: string): Promise<void> {
  let folder: FileHandle | undefined;
  try {
    folder = await open(path, 'r');
    await folder.sync();
  } catch {
    // Some file systems cannot fsync a folder (EINVAL, EISDIR on a few): the file itself is synced.
  } finally {
    await folder?.close();
  }
}
