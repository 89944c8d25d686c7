/**
 * One snapshot's part of heap-wide growth: its table (growth-table.ts), the growers
 * found against the previous tables of the session, each named and placed at its owner
 * in the app (grower-owner.ts), as records carry them (`HeapRecord.growers`).
 */
import type { Entry, HeapGrower } from '../../contract/record.js';
import type { AnalysisResult } from './analyze.js';
import { findGrowers, growthTable, MAX_GROWERS } from './growth-table.js';
import type { GrowerCandidate, GrowthTable } from './growth-table.js';
import { GrowerNamer, shortestRetainingPaths } from './grower-owner.js';
import type { OwnerOptions } from './grower-owner.js';
import { growthPath } from './growth-path.js';

export interface HeapGrowthInput {
  /** The session's previous tables, oldest first, and the growers reported before. */
  previous: readonly GrowthTable[];
  tracked: ReadonlySet<number>;
  /** Matching requests served in the session up to this snapshot. */
  requests: number;
  /** The module entries: a grower that is one of them, or directly held by one, is left to it. */
  entries: readonly Entry[];
  owner: OwnerOptions;
}

export interface HeapGrowthOutput {
  table: GrowthTable;
  growers: HeapGrower[];
  ms: number;
}

/** The table of this snapshot and its growers, named. */
export function heapGrowth(result: AnalysisResult, input: HeapGrowthInput): HeapGrowthOutput {
  const started = performance.now();
  const { snapshot, dominators } = result;
  const table = growthTable(snapshot, dominators, input.requests);
  const skip = new Set<number>();
  // An entry already names what it is or holds directly (`cache`, `MainPage.history`);
  // what grows deeper in it is a grower of its own (the app's `server` holds every
  // session of express-session's store ten steps down).
  for (const entry of input.entries) {
    if (entry.id !== undefined) skip.add(entry.id);
    for (const step of (entry.path ?? []).slice(0, 2)) skip.add(step.id);
  }
  const candidates = findGrowers(table, input.previous, dominators.dominator, dominators.rootOrdinal, {
    tracked: input.tracked,
    skip,
  });
  const growers = nameGrowers(result, candidates, input.owner);
  return { table, growers, ms: performance.now() - started };
}

/** Growers as records carry them: name, owner, retaining path and growth path. */
export function nameGrowers(
  result: AnalysisResult,
  candidates: readonly GrowerCandidate[],
  owner: OwnerOptions,
): HeapGrower[] {
  if (candidates.length === 0) return [];
  const { snapshot, dominators } = result;
  const nfc = snapshot.layout.nodeFieldCount;
  const paths = shortestRetainingPaths(
    snapshot,
    dominators,
    candidates.map((c) => c.ordinal),
  );
  const namer = new GrowerNamer(snapshot, dominators, owner);
  const growers: HeapGrower[] = [];
  for (const candidate of candidates) {
    const path = paths.get(candidate.ordinal);
    if (path === undefined) continue; // not reachable over the counted edges
    const described = namer.describe(path);
    const growth = growthPath(snapshot, dominators, candidate.ordinal);
    const node = candidate.ordinal * nfc;
    const typeName = snapshot.layout.nodeTypes[snapshot.nodes[node + snapshot.layout.nodeTypeOffset]!];
    const name = snapshot.stringTable.get(snapshot.nodes[node + snapshot.layout.nodeNameOffset]!);
    growers.push({
      obj_type: typeName === 'closure' ? 'function' : name === '' ? 'Object' : name,
      name: described.expression || name,
      dominated_size: dominators.retained[candidate.ordinal]!,
      filename: described.filename,
      lineno: described.lineno,
      module_name: described.filename,
      id: candidate.id,
      path: growth,
      length: growth[0]?.length ?? 0,
      owner: described.owner,
      retainers: described.retainers,
    });
  }
  return growers;
}

/**
 * Offline (`apptrace-profiler analyze --heap-wide`), with one snapshot and nothing to
 * compare: its table and the `max` collections holding the most (properties, elements,
 * entries), named and placed as growers are. The same work as a live snapshot that has
 * growers to name, so the heap benchmark times it against the entries-only analysis.
 */
export function largestCollections(result: AnalysisResult, owner: OwnerOptions, max = MAX_GROWERS): HeapGrowthOutput {
  const started = performance.now();
  const { snapshot, dominators } = result;
  const table = growthTable(snapshot, dominators, 0);
  const rows = Array.from(table.ids.keys())
    .filter((i) => table.ordinals[i] !== dominators.rootOrdinal)
    .sort((a, b) => table.lengths[b]! - table.lengths[a]! || table.retained[b]! - table.retained[a]!)
    .slice(0, max);
  const candidates = rows.map((i) => ({
    ordinal: table.ordinals[i]!,
    id: table.ids[i]!,
    bytes: 0,
    elements: 0,
    requests: 0,
  }));
  const growers = nameGrowers(result, candidates, owner);
  return { table, growers, ms: performance.now() - started };
}
