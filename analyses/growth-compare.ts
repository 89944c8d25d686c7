/**
 * Where a growing entry grows: its growth path (Entry.path, heap/growth-path.ts) in the
 * latest record, compared step by step with earlier records of the same session. Steps
 * are matched by V8 node id, which stays the same for one object while one inspector
 * session lasts (a new session gets new records: `session` differs). The growth is
 * placed at the deepest step whose own growth is most of the entry's over the same
 * records: for `MainPage.history.push(item)` per request that is the Array, which holds
 * one more element per request; its backing store is replaced as it grows, so it has a
 * new id in every record and never matches.
 */
import { formatBytes } from '../common/format-bytes.js';
import type { Entry, GrowthPath, GrowthStep, PathStep } from '../contract/record.js';

/** One record's view of one entry: its index, cumulative matching requests, the entry. */
export interface EntrySample {
  index: number;
  requests: number;
  entry: Entry;
}

/** A step must account for at least this share of the entry's growth. */
const MOST = 0.5;

/**
 * The growth path of an entry from its samples (oldest first, one session, the window
 * the verdict looked at), or null when the records carry no paths or nothing grew.
 *
 * @example
 *   compareGrowthPaths(samples)?.summary // 'MainPage.history → Array: +1 element, +2.6 KB per request'
 */
export function compareGrowthPaths(samples: readonly EntrySample[]): GrowthPath | null {
  const last = samples[samples.length - 1];
  const path = last?.entry.path;
  if (!last || !path || path.length === 0) return null;
  const matches = path.map((step) => earliestMatch(samples, last, step));
  const accepted = matches.map((m, i) => {
    if (!m) return false;
    const entryGrowth = last.entry.dominated_size - m.sample.entry.dominated_size;
    return entryGrowth > 0 && path[i]!.retained_size - m.step.retained_size >= MOST * entryGrowth;
  });
  let site = accepted.lastIndexOf(true);
  if (site < 0) return null;
  // V8's internals (a Map's table, an Array's store) are the object's own: name the object.
  while (site > 0 && path[site]!.edge.startsWith('(') && accepted[site - 1]) site--;
  // Rates are least-squares slopes over every sample of the window that holds the same
  // object: the same fit, over the same records, as the suspect's growth_per_request.
  const steps: GrowthStep[] = path.slice(0, site + 1).map((step) => {
    const held = heldOver(samples, step.id);
    return {
      id: step.id,
      edge: step.edge,
      type: step.type,
      name: step.name,
      retained_size: step.retained_size,
      length: step.length,
      bytes_per_request: round(
        slope(held, (s) => s.retained_size),
        1,
      ),
      elements_per_request: round(
        slope(held, (s) => s.length),
        2,
      ),
    };
  });
  const end = steps[site]!;
  const from = matches[site]!.sample;
  const expression = expressionOf(last.entry.name, steps);
  // The byte figure is the entry's own (the suspect's growth_per_request over these records).
  const entryRate = round(
    slope(
      samples.map((s) => ({ requests: s.requests, step: { retained_size: s.entry.dominated_size, length: 0 } })),
      (s) => s.retained_size,
    ),
    1,
  );
  return {
    steps,
    summary: `${expression} → ${typeName(end)}: ${perRequest(end, entryRate)}`,
    expression,
    bytes_per_request: end.bytes_per_request,
    elements_per_request: end.elements_per_request,
    from_index: from.index,
    to_index: last.index,
    requests: last.requests - from.requests,
  };
}

/** The earliest sample (with fewer requests than the last) whose path holds the same object. */
function earliestMatch(
  samples: readonly EntrySample[],
  last: EntrySample,
  step: PathStep,
): { sample: EntrySample; step: PathStep } | undefined {
  for (const sample of samples) {
    if (sample === last || sample.requests >= last.requests) break;
    const found = sample.entry.path?.find((s) => s.id === step.id);
    if (found) return { sample, step: found };
  }
  return undefined;
}

/** The samples whose path holds the object `id`, with that step. */
function heldOver(
  samples: readonly EntrySample[],
  id: number,
): { requests: number; step: Pick<PathStep, 'retained_size' | 'length'> }[] {
  const out: { requests: number; step: PathStep }[] = [];
  for (const sample of samples) {
    const step = sample.entry.path?.find((s) => s.id === id);
    if (step) out.push({ requests: sample.requests, step });
  }
  return out;
}

/** Least-squares slope of a step's figure over cumulative requests; 0 when requests do not vary. */
function slope(
  points: readonly { requests: number; step: Pick<PathStep, 'retained_size' | 'length'> }[],
  figure: (step: Pick<PathStep, 'retained_size' | 'length'>) => number,
): number {
  const n = points.length;
  if (n < 2) return 0;
  let mx = 0;
  let my = 0;
  for (const p of points) {
    mx += p.requests / n;
    my += figure(p.step) / n;
  }
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    sxx += (p.requests - mx) ** 2;
    sxy += (p.requests - mx) * (figure(p.step) - my);
  }
  return sxx === 0 ? 0 : sxy / sxx;
}

/** `MainPage.history`, `bus._events.request`, `cache.get("k")`: a name a developer would write. */
export function expressionOf(name: string, steps: readonly Pick<PathStep, 'edge'>[]): string {
  let text = name;
  for (let i = 1; i < steps.length; i++) {
    const edge = steps[i]!.edge;
    if (edge.startsWith('(')) {
      // Internal slots are V8's, not the program's; only the last one is worth naming.
      if (i === steps.length - 1) text += ` ${edge}`;
    } else if (edge.startsWith('[') || edge.startsWith('get(')) {
      text += edge.startsWith('get(') ? `.${edge}` : edge;
    } else if (/^[A-Za-z_$][\w$]*$/.test(edge)) {
      text += `.${edge}`;
    } else {
      text += `[${JSON.stringify(edge)}]`;
    }
  }
  return text;
}

function typeName(step: Pick<PathStep, 'type' | 'name'>): string {
  if (step.type === 'closure') return step.name === '' ? 'function' : `function ${step.name}`;
  if (step.type === 'string' || step.type === 'concatenated string' || step.type === 'sliced string') return 'string';
  return step.name === '' ? step.type : step.name;
}

/**
 * `+1 element, +2.6 KB per request`: whole elements (a fitted 0.96 is one element; less
 * than half a one per request reads `+1 element per 3 requests`), and the entry's rate.
 */
function perRequest(step: GrowthStep, bytesPerRequest: number): string {
  const parts: string[] = [];
  const n = step.elements_per_request;
  let every = '';
  if (Math.abs(n) >= 0.5) {
    const [one, many] = unit(step);
    const count = Math.round(Math.abs(n));
    parts.push(`${n > 0 ? '+' : '−'}${count} ${count === 1 ? one : many}`);
  } else if (n !== 0) {
    const [one] = unit(step);
    every = `${n > 0 ? '+' : '−'}1 ${one} per ${Math.round(1 / Math.abs(n))} requests; `;
  }
  parts.push(`${bytesPerRequest >= 0 ? '+' : '−'}${formatBytes(Math.abs(bytesPerRequest))}`);
  return `${every}${parts.join(', ')} per request`;
}

function unit(step: Pick<PathStep, 'type' | 'name'>): [string, string] {
  if (
    step.type === 'object' &&
    (step.name === 'Map' || step.name === 'Set' || step.name === 'WeakMap' || step.name === 'WeakSet')
  ) {
    return ['entry', 'entries'];
  }
  if (step.type === 'object' && step.name !== 'Array') return ['property', 'properties'];
  if (step.type === 'closure') return ['property', 'properties'];
  return ['element', 'elements'];
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
