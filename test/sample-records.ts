import type { Entry, HeapRecord } from '../contract/record.js';

/**
 * Hand-made records for UI tests: a leak that grows by a fixed amount per request, a
 * bounded cache that fills and then stays, a flat handler, and `extra` filler objects —
 * the shapes the suspects table must tell apart. Sizes are exact functions of the record
 * number so tests can compute what they expect.
 */
export interface SampleOptions {
  count: number;
  /** Filler entries per record on top of the three named ones. */
  extra?: number;
  /** Index of the first record. */
  from?: number;
  moduleName?: string;
  /** Overrides the `url` of each record's request. */
  url?: (index: number) => string;
}

export const LEAK_STEP = 4096;
export const CACHE_LIMIT = 20;

export function sampleRecord(index: number, options: Omit<SampleOptions, 'count' | 'from'> = {}): HeapRecord {
  const moduleName = options.moduleName ?? 'server.js';
  const entry = (name: string, obj_type: string, size: number, lineno: number): Entry => ({
    obj_type,
    name,
    dominated_size: size,
    filename: moduleName,
    lineno,
    module_name: moduleName,
  });
  const entries: Entry[] = [
    entry('leakyList', 'Array', 1000 + LEAK_STEP * index, 3),
    entry('boundedCache', 'Map', 800 + 512 * Math.min(index, CACHE_LIMIT), 4),
    entry('handler', 'function', 640, 6),
  ];
  for (let i = 0; i < (options.extra ?? 0); i++) {
    entries.push({
      ...entry(`filler${i}`, 'Object', 200 + ((i * 37 + index) % 50), 10 + i),
      module_name: `lib/filler-${i % 5}.js`,
      filename: `lib/filler-${i % 5}.js`,
    });
  }
  const total = 6_000_000 + entries.reduce((sum, e) => sum + e.dominated_size, 0);
  return {
    index,
    at: new Date(Date.UTC(2026, 10, 25, 10, 0, index)).toISOString(),
    requests: 1,
    request: { method: 'GET', url: options.url ? options.url(index) : `/item/${index}`, status: 200 },
    session: 's1',
    heap: { total_size: total, node_count: 100_000 + index, edge_count: 400_000 + index },
    timings: { capture_ms: 300, analysis_ms: 40 },
    entries,
  };
}

export function sampleRecords(options: SampleOptions): HeapRecord[] {
  const from = options.from ?? 1;
  const out: HeapRecord[] = [];
  for (let i = 0; i < options.count; i++) out.push(sampleRecord(from + i, options));
  return out;
}

/** The source of `server.js` that sampleRecord's line numbers point into. */
export const SAMPLE_SOURCE = `'use strict';
// A server with a leak.
const leakyList = [];
const boundedCache = new Map();

function handler(req, res) {
  leakyList.push({ url: req.url, at: Date.now() });
  res.end(\`ok \${leakyList.length}\`);
}
module.exports = { handler, pattern: /ab+c/g, n: 0x1f };
`;
