import type { EntrySample } from './growth-compare.js';
import type { MarkedLine } from './record.js';

/**
 * The `allocation` marks of a growing suspect (`--allocation-sites`): the app's functions
 * that allocated the objects it gained, per matching request, over the records of the
 * window. Each record's `Entry.allocations` counts the objects new since the previous
 * snapshot, so the first sample (whose objects came before the window) is left out and
 * the rest is divided by the requests between the first and the last sample.
 *
 * V8 records functions, not statements: the line is where the allocating function starts.
 * Sites in another file than the suspect's carry `module_name` (the code browser shows one
 * file at a time).
 *
 * @example
 *   allocationMarks(samples, 'server.mjs')
 *   // [{ line: 20, kind: 'allocation', reason: 'allocates 3 objects (+2.1 KB) per request in handle()' }]
 */
export function allocationMarks(samples: readonly EntrySample[], filename: string, limit = MAX_MARKS): MarkedLine[] {
  if (samples.length < 2) return [];
  const requests = samples[samples.length - 1]!.requests - samples[0]!.requests;
  if (requests <= 0) return [];
  const sites = new Map<string, { module_name: string; filename: string; line: number; function_name: string; count: number; bytes: number }>();
  for (const { entry } of samples.slice(1)) {
    for (const site of entry.allocations ?? []) {
      const key = `${site.filename}\u0000${site.line}\u0000${site.function_name}`;
      const total = sites.get(key);
      if (total) {
        total.count += site.count;
        total.bytes += site.bytes;
      } else sites.set(key, { ...site });
    }
  }
  const ranked = [...sites.values()].sort((a, b) => b.bytes - a.bytes || b.count - a.count);
  if (ranked.length === 0) return [];
  // A site that allocated a tenth of the top one's bytes is not where it grows.
  const floor = ranked[0]!.bytes / 10;
  return ranked
    .filter((site) => site.bytes > 0 && site.bytes >= floor)
    .slice(0, limit)
    .map((site) => ({
      line: site.line,
      kind: 'allocation' as const,
      reason: `allocates ${perRequest(site.count / requests)} ${site.count === requests ? 'object' : 'objects'} (+${bytes(site.bytes / requests)}) per request in ${site.function_name}()`,
      ...(site.filename === filename ? {} : { module_name: site.module_name }),
    }));
}

const MAX_MARKS = 3;

function perRequest(n: number): string {
  return Number.isInteger(n) || n >= 10 ? String(Math.round(n)) : n.toFixed(1);
}

function bytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
