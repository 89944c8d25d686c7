/**
 * Live snapshots of objects this test allocates (`v8.writeHeapSnapshot` of the test's
 * own process), found by their unique class names.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeFile, nodeInfo } from './analyze.js';
import type { AnalysisResult } from './analyze.js';

const COUNT = 300;
const LENGTH = 2000;

class ApptraceLiveMapOwner {
  readonly map = new Map<number, string>();
  constructor() {
    // Distinct flat strings (padEnd or + would share parts), LENGTH one-byte characters each.
    for (let i = 0; i < COUNT; i++) this.map.set(i, randomBytes(LENGTH / 2).toString('hex'));
  }
}
class ApptraceLiveShared {
  readonly payload = Array.from({ length: 500 }, (_, i) => ({ i }));
}
class ApptraceLiveOwnerA {
  constructor(readonly shared: ApptraceLiveShared) {}
}
class ApptraceLiveOwnerB {
  constructor(readonly shared: ApptraceLiveShared) {}
}

let dir: string;
let result: AnalysisResult;

function ordinalsNamed(name: string): number[] {
  const { nodes, layout, strings, nodeCount } = result.snapshot;
  const found: number[] = [];
  for (let o = 0; o < nodeCount; o++) {
    const base = o * layout.nodeFieldCount;
    if (
      nodes[base + layout.nodeTypeOffset] === layout.nodeType.object &&
      strings[nodes[base + layout.nodeNameOffset]!] === name
    ) {
      found.push(o);
    }
  }
  return found;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'apptrace-live-'));
  const shared = new ApptraceLiveShared();
  const keep = {
    owner: new ApptraceLiveMapOwner(),
    a: new ApptraceLiveOwnerA(shared),
    b: new ApptraceLiveOwnerB(shared),
  };
  (globalThis as Record<string, unknown>).__apptraceLiveTest = keep;
  const path = writeHeapSnapshot(join(dir, 'live.heapsnapshot'));
  delete (globalThis as Record<string, unknown>).__apptraceLiveTest;
  result = await analyzeFile(path);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('retained sizes of live objects', () => {
  it('a Map of N strings of known length retains at least their bytes', () => {
    const [owner] = ordinalsNamed('ApptraceLiveMapOwner');
    expect(owner).toBeDefined();
    expect(result.retained[owner!]).toBeGreaterThanOrEqual(COUNT * LENGTH);
    const [map] = ordinalsNamed('Map').filter((o) => result.dominator[o] === owner);
    expect(map).toBeDefined();
    expect(result.retained[map!]).toBeGreaterThanOrEqual(COUNT * LENGTH);
    expect(result.retained[owner!]).toBeGreaterThan(result.retained[map!]!);
  });

  it('an object shared by two owners is dominated by neither', () => {
    const [shared] = ordinalsNamed('ApptraceLiveShared');
    const [a] = ordinalsNamed('ApptraceLiveOwnerA');
    const [b] = ordinalsNamed('ApptraceLiveOwnerB');
    expect(shared).toBeDefined();
    expect(result.dominator[shared!]).not.toBe(a);
    expect(result.dominator[shared!]).not.toBe(b);
    // Neither owner retains the 500 objects of the payload.
    expect(result.retained[a!]).toBeLessThan(1000);
    expect(result.retained[b!]).toBeLessThan(1000);
    expect(result.retained[shared!]).toBeGreaterThan(500 * 16);
    // The dominator found by --node agrees.
    const { nodes, layout } = result.snapshot;
    const id = nodes[shared! * layout.nodeFieldCount + layout.nodeIdOffset]!;
    const info = nodeInfo(result, id)!;
    expect(info.retained_size).toBe(result.retained[shared!]);
    expect(info.dominator_id).toBe(nodes[result.dominator[shared!]! * layout.nodeFieldCount + layout.nodeIdOffset]);
  });

  it('the root retains every byte', () => {
    const { nodes, layout, nodeCount } = result.snapshot;
    let total = 0;
    for (let o = 0; o < nodeCount; o++) total += nodes[o * layout.nodeFieldCount + layout.nodeSelfSizeOffset]!;
    expect(result.root_retained_size).toBe(total);
    expect(result.total_size).toBe(total);
    // Every node but the root has a dominator that comes before it in the tree.
    let bad = 0;
    for (let o = 1; o < nodeCount; o++) if (result.retained[result.dominator[o]!]! < result.retained[o]!) bad++;
    expect(bad).toBe(0);
  });
});
