/**
 * Number formatting for the UI: the server-rendered pages and the browser client
 * (ui/client/*.ts is compiled from the same file by ui/client/tsconfig.json), so a
 * figure reads the same wherever it is shown. Pure: no Node and no DOM.
 */

import { formatBytes as formatByteSize } from '../common/format-bytes.js';

/** Bytes in binary units with three significant digits: `512 B`, `1.50 KB`, `12.3 MB`; `—` for no value. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || Number.isNaN(bytes)) return '—';
  return formatByteSize(bytes, { precision: 'three-digits' });
}

/** A growth rate per request with an explicit sign: `+1.20 KB/req`, `0 B/req`. */
export function formatGrowth(bytesPerRequest: number): string {
  const rounded = Math.round(bytesPerRequest);
  return `${rounded > 0 ? '+' : ''}${formatBytes(rounded)}/req`;
}

/** The verdicts of the suspects' ranking (analyses/suspects.ts). */
export type GrowthVerdict = 'growing' | 'plateaued' | 'flat';

/**
 * The growth figure of a suspect as the table and the code page show it, so it never
 * contradicts the verdict: a growing object shows its rate (`+1.25 KB/req`); a plateaued
 * one the rate it had over the window, in the past tense (`was +512 B/req`); a flat one
 * no figure at all (`—`): its changes are V8's own noise.
 */
export function growthText(verdict: GrowthVerdict, bytesPerRequest: number): string {
  if (verdict === 'flat') return '—';
  if (verdict === 'plateaued') return `was ${formatGrowth(bytesPerRequest)}`;
  return formatGrowth(bytesPerRequest);
}

/** What a growth figure means, for a tooltip. */
export function growthTitle(verdict: GrowthVerdict): string {
  if (verdict === 'flat') return 'flat: it changed by less than V8’s own noise, so no growth figure is shown';
  if (verdict === 'plateaued') return 'plateaued: it grew earlier in the window and has stopped (a filled cache)';
  return 'bytes per matching request over the recent records (least squares)';
}

/**
 * Whole things per request: `+1 element per request`, `+3 entries per request`, and for
 * less than one per request `+1 property per 4 requests`; '' when it does not change.
 * Objects gain whole elements, so a fitted 0.96 reads as 1.
 */
export function formatCountRate(perRequest: number, one: string, many: string): string {
  if (!Number.isFinite(perRequest) || perRequest === 0) return '';
  const sign = perRequest > 0 ? '+' : '−';
  const size = Math.abs(perRequest);
  if (size >= 0.5) {
    const n = Math.round(size);
    return `${sign}${n} ${n === 1 ? one : many} per request`;
  }
  const every = Math.round(1 / size);
  return `${sign}1 ${one} per ${every} requests`;
}
