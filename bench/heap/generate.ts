/**
 * Synthetic heap snapshots for the heap benchmark, cached under bench/out/: a child
 * Node process (app-heap.js) allocates an app-like heap of the requested size and
 * writes it with v8.writeHeapSnapshot.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const outDir = join(repoRoot, 'bench', 'out');

/** Measured on Node 20: a bare process writes ~4.3 MB, each unit adds ~1 kB. */
const BASE_MB = 4.3;
const UNITS_PER_MB = 1010;

export interface GeneratedSnapshot {
  path: string;
  bytes: number;
  cached: boolean;
}

/** The snapshot of about `megabytes` MB, made once and then reused. */
export function ensureSnapshot(megabytes: number): GeneratedSnapshot {
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, `app-heap-${megabytes}mb.heapsnapshot`);
  if (existsSync(path)) return { path, bytes: statSync(path).size, cached: true };
  const units = Math.max(100, Math.round((megabytes - BASE_MB) * UNITS_PER_MB));
  const partial = `${path}.partial`;
  const script = fileURLToPath(new URL('./app-heap.js', import.meta.url));
  // A big heap needs room both to live in and to be serialized.
  const heapMb = Math.max(1024, megabytes * 6);
  const child = spawnSync(process.execPath, [`--max-old-space-size=${heapMb}`, script, String(units), partial], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (child.status !== 0 || !existsSync(partial)) {
    throw new Error(`generating ${path} failed (status ${child.status}, signal ${child.signal})`);
  }
  renameSync(partial, path);
  return { path, bytes: statSync(path).size, cached: false };
}
