/**
 * The one byte formatter of the server side (the terminal, `check`, `analyze`, the
 * pages, the growth summaries): binary units (B, KB, MB, GB; powers of 1024), whole
 * bytes below 1 KB, and one rounding rule above — `toFixed` of the value in its unit,
 * to a number of decimals the caller's `precision` gives:
 *   - `tenths` (the default): one decimal, `1.5 KB`, `12.0 MB` — reports read in a terminal;
 *   - `three-digits`: three significant digits, `1.50 KB`, `12.3 MB`, `123 KB` — the pages,
 *     where numbers sit in columns and charts.
 * `kilo` spells the kilobyte (`analyze` prints `kB`).
 *
 * @example
 *   formatBytes(1536) === '1.5 KB'; formatBytes(1536, { precision: 'three-digits' }) === '1.50 KB'
 */
export interface BytesFormat {
  precision?: 'tenths' | 'three-digits';
  kilo?: 'KB' | 'kB';
}

export function formatBytes(bytes: number, { precision = 'tenths', kilo = 'KB' }: BytesFormat = {}): string {
  const sign = bytes < 0 ? '-' : '';
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    unit++;
  }
  const decimals = unit === 0 ? 0 : precision === 'tenths' ? 1 : value >= 100 ? 0 : value >= 10 ? 1 : 2;
  const name = unit === 0 ? 'B' : unit === 1 ? kilo : unit === 2 ? 'MB' : 'GB';
  return `${sign}${value.toFixed(decimals)} ${name}`;
}
