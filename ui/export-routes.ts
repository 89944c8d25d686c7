import { createReadStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Hono } from 'hono';
import { AppError } from '../contract/errors.js';
import { SNAPSHOT_FILE, snapshotDir } from '../profiler/snapshot-files.js';
import type { AppDeps } from '../contract/app-deps.js';
import { recordsCsv } from './records-csv.js';

/**
 * Downloads: GET /api/records.csv (every record × entry) and
 * GET /api/records/<index>/snapshot (the raw snapshot kept with --keep-snapshots, to
 * open in Chrome DevTools' Memory panel or `apptrace-profiler analyze`).
 */
export function exportRoutes(deps: AppDeps): Hono {
  const routes = new Hono();

  routes.get('/api/records.csv', (c) => {
    c.header('Content-Type', 'text/csv; charset=utf-8');
    c.header('Content-Disposition', 'attachment; filename="apptrace-records.csv"');
    c.header('Cache-Control', 'no-store');
    return c.body(recordsCsv(deps.records(0)));
  });

  routes.get('/api/records/:index/snapshot', (c) => {
    const raw = c.req.param('index');
    const index = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(index) || index < 1) {
      throw new AppError('BAD_REQUEST', `a record index is a whole number from 1, not ${JSON.stringify(raw)}`);
    }
    const record = deps.records(index - 1)[0];
    if (record?.index !== index) throw new AppError('NOT_FOUND', `there is no record ${index}`);
    const notKept = (why: string) =>
      new AppError(
        'NOT_FOUND',
        `the snapshot of record ${index} ${why}. Start apptrace-proxy (or apptrace-profiler) with --keep-snapshots N to keep the raw snapshots of the newest N records.`,
      );
    // The name comes from the store file: only ever one of ours, never a path.
    if (record.snapshot === undefined || !SNAPSHOT_FILE.test(record.snapshot)) throw notKept('was not kept');
    const file = join(snapshotDir(deps.status().db), record.snapshot);
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      throw notKept('is no longer kept (only the newest are)');
    }
    const body = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
    return new Response(body, {
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(size),
        'Content-Disposition': `attachment; filename="apptrace-${index}.heapsnapshot"`,
        'Cache-Control': 'no-store',
      },
    });
  });

  return routes;
}
