import type { EntrySample } from './growth-compare.js';
import type { AllocationSite, MarkedLine } from './record.js';

/**
 * The `allocation` marks of a growing suspect (`--allocation-sites`): the app's functions
 * that allocated the objects it gained, per matching request, over the window. Each
 * record's `Entry.allocations` counts the live objects the entry holds by allocation site,
 * so the growth per site is its count in the last sample less its count in the first,
 * divided by the requests between them; sites that did not grow are not marked.
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
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  const requests = last.requests - first.requests;
  if (requests <= 0 || !last.entry.allocations) return [];
  const key = (site: AllocationSite) => `${site.filename}\u0000${site.line}\u0000${site.function_name}`;
  const before = new Map((first.entry.allocations ?? []).map((site) => [key(site), site]));
  const grown = last.entry.allocations
    .map((site) => {
      const earlier = before.get(key(site));
      return { site, count: site.count - (earlier?.count ?? 0), bytes: site.bytes - (earlier?.bytes ?? 0) };
    })
    .filter((g) => g.count > 0 && g.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes || b.count - a.count);
  if (grown.length === 0) return [];
  // A site that added a tenth of the top one's bytes is not where it grows.
  const floor = grown[0]!.bytes / 10;
  return grown
    .filter((g) => g.bytes >= floor)
    .slice(0, limit)
    .map(({ site, count, bytes: added }) => ({
      line: site.line,
      kind: 'allocation' as const,
      reason: `allocates ${perRequest(count / requests)} ${count === requests ? 'object' : 'objects'} (+${bytes(added / requests)}) per request in ${site.function_name}()`,
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
