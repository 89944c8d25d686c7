import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HeapRecord } from '../contract/record.js';
import { createApp } from './app.js';
import { MemoryDeps } from '../test/memory-deps.js';
import { CSV_COLUMNS, csvCell, recordsCsv } from './records-csv.js';

const base = 'http://localhost/_ah/apptrace';
const dir = mkdtempSync(join(tmpdir(), 'apptrace-export-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function record(index: number, options: Partial<HeapRecord> = {}): HeapRecord {
  return {
    index,
    at: `2026-11-25T10:00:0${index}.000Z`,
    requests: 1,
    request: { method: 'GET', url: `/r${index}`, status: 200 },
    baseline: index === 1,
    session: 's',
    heap: { total_size: 1000 + index, node_count: 10, edge_count: 30 },
    timings: { capture_ms: 1, analysis_ms: 1 },
    entries: [
      {
        obj_type: 'Array',
        name: 'messages',
        dominated_size: 100 * index,
        filename: 'app.mjs',
        lineno: 4,
        module_name: 'app.mjs',
      },
      {
        obj_type: 'Object',
        name: 'config',
        dominated_size: 80,
        filename: 'app.mjs',
        lineno: 2,
        module_name: 'app.mjs',
      },
    ],
    ...options,
  };
}

/** Splits our CSV (RFC 4180, CRLF rows) into cells, honouring quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += ch;
  }
  return rows;
}

describe('records as CSV', () => {
  it('quotes cells with commas, quotes and line breaks, and disarms spreadsheet formulas', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    for (const start of ['=', '+', '-', '@', '\t', '\r'])
      expect(
        csvCell(`${start}SUM(A1)`).startsWith(`'${start}`) || csvCell(`${start}SUM(A1)`).startsWith(`"'${start}`),
      ).toBe(true);
    expect(csvCell('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(csvCell(-5)).toBe('-5');
    expect(csvCell(null)).toBe('');
  });

  it('has one row per record × entry, with the record columns repeated', () => {
    const records = [
      record(1),
      record(2, { request: { method: 'POST', url: '/a,b?x="1"', status: 201 } }),
      record(3, { request: null, requests: 0, entries: [] }),
    ];
    const rows = parseCsv(recordsCsv(records));
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    expect(rows).toHaveLength(1 + 2 + 2 + 1);
    const col = (name: (typeof CSV_COLUMNS)[number]) => CSV_COLUMNS.indexOf(name);
    const second = rows.filter((r) => r[col('index')] === '2');
    expect(second.map((r) => r[col('name')])).toEqual(['messages', 'config']);
    expect(second[0]![col('request_url')]).toBe('/a,b?x="1"');
    expect(second[0]![col('request_method')]).toBe('POST');
    expect(second[0]![col('dominated_size')]).toBe('200');
    expect(second[0]![col('total_size')]).toBe('1002');
    expect(rows[1]![col('baseline')]).toBe('true');
    // A record without entries (or a manual snapshot) still shows.
    const third = rows.filter((r) => r[col('index')] === '3');
    expect(third).toHaveLength(1);
    expect(third[0]![col('request_url')]).toBe('');
    expect(third[0]![col('name')]).toBe('');
  });

  it('GET /api/records.csv downloads every record, formula-like names disarmed', async () => {
    const deps = new MemoryDeps();
    deps.add(record(1));
    deps.add(
      record(2, {
        entries: [
          { obj_type: 'Map', name: '=cmd|calc', dominated_size: 5, filename: 'x.cjs', lineno: 1, module_name: 'x.cjs' },
        ],
      }),
    );
    const res = await createApp(deps).request(`${base}/api/records.csv`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="apptrace-records.csv"');
    const rows = parseCsv(await res.text());
    expect(rows).toHaveLength(1 + 2 + 1);
    expect(rows[3]![CSV_COLUMNS.indexOf('name')]).toBe("'=cmd|calc");
  });
});

describe('GET /api/records/<index>/snapshot', () => {
  const db = join(dir, 'db.json');
  mkdirSync(join(dir, 'db.json.snapshots'), { recursive: true });
  const content = '{"snapshot":{"meta":{}},"nodes":[],"edges":[],"strings":[]}';
  writeFileSync(join(dir, 'db.json.snapshots', '3.heapsnapshot'), content);
  const deps = new MemoryDeps({ db });
  deps.add(record(1));
  deps.add(record(2));
  deps.add(record(3, { snapshot: '3.heapsnapshot' }));
  deps.add(record(4, { snapshot: '4.heapsnapshot' }));
  deps.add(record(5, { snapshot: '../db.json' }));
  const app = createApp(deps);

  it('downloads a kept snapshot as apptrace-<index>.heapsnapshot', async () => {
    const res = await app.request(`${base}/api/records/3/snapshot`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="apptrace-3.heapsnapshot"');
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(content)));
    expect(await res.text()).toBe(content);
  });

  it('answers 404 saying how to keep snapshots when a record has none', async () => {
    const res = await app.request(`${base}/api/records/2/snapshot`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toMatch(/record 2 was not kept.*--keep-snapshots N/);
  });

  it('answers 404 when the file was deleted to keep the newest N', async () => {
    const res = await app.request(`${base}/api/records/4/snapshot`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toMatch(/record 4 is no longer kept/);
  });

  it('never serves a name that is not one of its snapshot files', async () => {
    const res = await app.request(`${base}/api/records/5/snapshot`);
    expect(res.status).toBe(404);
  });

  it('answers 404 for a record that does not exist and 400 for a bad index', async () => {
    expect((await app.request(`${base}/api/records/99/snapshot`)).status).toBe(404);
    expect((await app.request(`${base}/api/records/x1/snapshot`)).status).toBe(400);
    expect((await app.request(`${base}/api/records/0/snapshot`)).status).toBe(400);
  });

  it('the overview page links the CSV and has a place for kept snapshots', async () => {
    const html = await (await app.request(base)).text();
    expect(html).toContain(`href="/_ah/apptrace/api/records.csv"`);
    expect(html).toMatch(/<section id="kept" hidden>/);
  });
});
