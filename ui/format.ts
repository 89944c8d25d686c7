/**
 * Number formatting for the server-rendered pages. ui/client/overview.js has the same
 * rules for the charts (it is plain browser JS and cannot import this file).
 */

import { formatBytes as formatByteSize } from '../common/format-bytes.js';

/** Bytes in binary units with three significant digits: `512 B`, `1.50 KB`, `12.3 MB`. */
export function formatBytes(bytes: number): string {
  return formatByteSize(bytes, { precision: 'three-digits' });
}

/** A growth rate per request with an explicit sign: `+1.20 KB/req`, `0 B/req`. */
export function formatGrowth(bytesPerRequest: number): string {
  const rounded = Math.round(bytesPerRequest);
  return `${rounded > 0 ? '+' : ''}${formatBytes(rounded)}/req`;
}
