import { formatBytes } from '../common/format-bytes.js';
import type { EntrySample } from './growth-compare.js';
import type { AllocationSite, MarkedLine } from '../contract/record.js';
import { median } from '../common/median.js';

/**
 * The `allocation` marks of a growing suspect (`--allocation-sites`): the app's functions
 * that allocated the objects it gained, per matching request, over the window. Each
 * record's `Entry.allocations` counts the live objects the entry holds by allocation site;
 * a site's growth per request is the median, over consecutive samples, of its change
 * divided by the requests in between. The median, because V8 now and then loses the
 * allocation stacks of objects that survive a garbage collection (seen in Node 20: every
 * old object of a record suddenly without a stack): that record's step down, and nothing
 * else, is ignored. Sites whose median growth is not positive are not marked (a bounded
 * cache's).
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
  if (samples.length < 2 || !samples.some((s) => s.entry.allocations)) return [];
  const key = (site: AllocationSite) => `${site.filename}\u0000${site.line}\u0000${site.function_name}`;
  const sites = new Map<string, AllocationSite>();
  const bySample = samples.map((sample) => {
    const here = new Map<string, AllocationSite>();
    for (const site of sample.entry.allocations ?? []) {
      here.set(key(site), site);
      sites.set(key(site), site);
    }
    return here;
  });
  const grown: { site: AllocationSite; count: number; bytes: number }[] = [];
  for (const [k, site] of sites) {
    const counts: number[] = [];
    const bytes: number[] = [];
    for (let i = 1; i < samples.length; i++) {
      const requests = samples[i]!.requests - samples[i - 1]!.requests;
      if (requests <= 0) continue;
      const now = bySample[i]!.get(k);
      const before = bySample[i - 1]!.get(k);
      counts.push(((now?.count ?? 0) - (before?.count ?? 0)) / requests);
      bytes.push(((now?.bytes ?? 0) - (before?.bytes ?? 0)) / requests);
    }
    const count = median(counts);
    const added = median(bytes);
    if (count > 0 && added > 0) grown.push({ site, count, bytes: added });
  }
  if (grown.length === 0) return [];
  grown.sort((a, b) => b.bytes - a.bytes || b.count - a.count);
  // A site that adds a tenth of the top one's bytes is not where it grows.
  const floor = grown[0]!.bytes / 10;
  return grown
    .filter((g) => g.bytes >= floor)
    .slice(0, limit)
    .map(({ site, count, bytes: added }) => ({
      line: site.line,
      kind: 'allocation' as const,
      reason: `allocates ${perRequest(count)} ${count === 1 ? 'object' : 'objects'} (+${formatBytes(added)}) per request in ${site.function_name}()`,
      ...(site.filename === filename ? {} : { module_name: site.module_name }),
    }));
}

const MAX_MARKS = 3;

function perRequest(n: number): string {
  return Number.isInteger(n) || n >= 10 ? String(Math.round(n)) : n.toFixed(1);
}
