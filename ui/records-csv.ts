import type { HeapRecord } from '../contract/record.js';

/** The columns of /api/records.csv: one row per record × entry. */
export const CSV_COLUMNS = [
  'index',
  'at',
  'requests',
  'request_method',
  'request_url',
  'request_status',
  'baseline',
  'total_size',
  'module_name',
  'name',
  'obj_type',
  'dominated_size',
  'filename',
  'lineno',
] as const;

/**
 * One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break, quotes
 * doubled. Text that a spreadsheet would run as a formula (starting with = + - @, or a
 * tab or carriage return before one) gets a leading apostrophe, as OWASP advises for
 * CSV injection; names and URLs come from the app and from whoever sent it requests.
 * Numbers are written as they are (a negative number is not text).
 */
export function csvCell(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  let text = value;
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** All records as CSV, with a header line; a record without entries still gets a row. */
export function recordsCsv(records: readonly HeapRecord[]): string {
  const lines: string[] = [CSV_COLUMNS.join(',')];
  for (const record of records) {
    const head = [
      record.index,
      record.at,
      record.requests,
      record.request?.method,
      record.request?.url,
      record.request?.status,
      record.baseline === true,
      record.heap.total_size,
    ];
    const entries = record.entries.length > 0 ? record.entries : [null];
    for (const entry of entries) {
      const row = entry
        ? [...head, entry.module_name, entry.name, entry.obj_type, entry.dominated_size, entry.filename, entry.lineno]
        : [...head, null, null, null, null, null, null];
      lines.push(row.map(csvCell).join(','));
    }
  }
  return lines.join('\r\n') + '\r\n';
}
