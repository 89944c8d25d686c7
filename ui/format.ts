/**
 * Number formatting for the server-rendered pages. ui/client/overview.js has the same
 * rules for the charts (it is plain browser JS and cannot import this file).
 */

const UNITS = ['B', 'KB', 'MB', 'GB'];

/** Bytes in binary units with three significant digits: `512 B`, `1.5 KB`, `12.3 MB`. */
export function formatBytes(bytes: number): string {
  const sign = bytes < 0 ? '-' : '';
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${sign}${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** A growth rate per request with an explicit sign: `+1.20 KB/req`, `0 B/req`. */
export function formatGrowth(bytesPerRequest: number): string {
  const rounded = Math.round(bytesPerRequest);
  return `${rounded > 0 ? '+' : ''}${formatBytes(rounded)}/req`;
}
