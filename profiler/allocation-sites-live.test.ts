import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HeapRecord, Suspect } from './record.js';
import type { ProfilerProcess } from './test-processes.js';
import { FIXTURE_DIR, kill, killAll, startProfiler, startTarget, waitFor } from './test-processes.js';

/** The 1-based line of the first line of `file` that matches `re` (from the fixture's text). */
function lineOf(file: string, re: RegExp): number {
  const lines = readFileSync(join(FIXTURE_DIR, file), 'utf8').split('\n');
  const i = lines.findIndex((line) => re.test(line));
  if (i < 0) throw new Error(`${re} not in ${file}`);
  return i + 1;
}

async function recordsAtLeast(profiler: ProfilerProcess, count: number): Promise<HeapRecord[]> {
  return waitFor(async () => {
    const records = await profiler.records();
    return records.length >= count ? records : undefined;
  }, `${count} records`);
}

describe('apptrace-profiler serve --allocation-sites against a live target', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'apptrace-alloc-'));
  });
  afterEach(async () => {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['the profiler starts the tracking', {}],
    ['the target tracks from its start (node --track-heap-objects)', { NODE_OPTIONS: '--track-heap-objects' }],
  ])('attributes the leaked objects to the function that allocates them, and marks its line: %s', async (_, env: Record<string, string>) => {
    const target = await startTarget({ env });
    const profiler = await startProfiler(['--inspect', `127.0.0.1:${target.inspectPort}`, '--db', join(dir, 'db.json'), '--allocation-sites']);
    await recordsAtLeast(profiler, 1);
    const perSnapshot = 3;
    const rounds = 4;
    for (let i = 1; i <= rounds; i++) {
      for (let k = 0; k < perSnapshot; k++) expect(await target.get('/leak')).toBe(200);
      await profiler.signal(perSnapshot, '/leak');
      await recordsAtLeast(profiler, 1 + i);
    }
    const records = await profiler.records();
    const handleLine = lineOf('server.mjs', /^function handle\(/);
    const later = records.filter((r) => !r.baseline);
    expect(later.length).toBeGreaterThanOrEqual(rounds);
    let requests = 0;
    let previous = 0;
    for (const record of later) {
      requests += record.requests;
      expect(record.allocation_tracking).toBe(true);
      // An ES module export can show twice (its Cell and a context slot); the larger one holds the array.
      const messages = record.entries
        .filter((e) => e.module_name === 'server.mjs' && e.name === 'messages')
        .sort((a, b) => b.dominated_size - a.dominated_size)[0];
      const site = messages?.allocations?.find((s) => s.function_name === 'handle');
      expect(site, `record ${record.index} (${record.requests} requests): ${JSON.stringify(record.entries.filter((e) => e.allocations || e.name === 'messages'))}`).toBeDefined();
      expect(site!.module_name).toBe('server.mjs');
      expect(site!.filename).toBe('server.mjs');
      expect(site!.line).toBe(handleLine);
      // Each /leak request keeps one message object and its 256-element array: at least
      // two live objects per request so far, all from handle(), and more every record.
      expect(site!.count).toBeGreaterThanOrEqual(2 * requests);
      expect(site!.bytes).toBeGreaterThanOrEqual(256 * 4 * requests);
      expect(site!.count).toBeGreaterThan(previous);
      previous = site!.count;
    }
    // The config object never changes: whatever of it was allocated while tracked stays as it was.
    const configSites = later.map((r) => JSON.stringify(r.entries.find((e) => e.name === 'config')?.allocations ?? []));
    expect(new Set(configSites).size).toBe(1);

    const suspects = (await (await fetch(`${profiler.base}/api/suspects`)).json()) as Suspect[];
    const leak = suspects.find((s) => s.module_name === 'server.mjs' && s.name === 'messages');
    expect(leak?.verdict).toBe('growing');
    const marks = (leak!.marked_lines ?? []).filter((m) => m.kind === 'allocation');
    const mark = marks.find((m) => m.line === handleLine);
    expect(mark, JSON.stringify(leak!.marked_lines)).toBeDefined();
    expect(mark!.reason).toMatch(/^allocates [\d.]+ objects? \(\+[\d.]+ (B|KB|MB)\) per request in handle\(\)/);
    expect(mark!.module_name).toBeUndefined();
  });

  it('tracks again after the target restarts (a new inspector session starts without it)', async () => {
    const first = await startTarget();
    const profiler = await startProfiler(['--inspect', `127.0.0.1:${first.inspectPort}`, '--db', join(dir, 'db.json'), '--allocation-sites']);
    await recordsAtLeast(profiler, 1);
    await kill(first.child);
    await waitFor(async () => (await profiler.status()).inspector.state !== 'connected', 'the profiler to notice');
    // Same inspector port, as node --watch or nodemon would do.
    const again = await startTarget({ inspectPort: first.inspectPort });
    const [, baseline] = await recordsAtLeast(profiler, 2);
    expect(baseline!.baseline).toBe(true);
    for (let i = 1; i <= 2; i++) {
      for (let k = 0; k < 2; k++) expect(await again.get('/leak')).toBe(200);
      await profiler.signal(2, '/leak');
      await recordsAtLeast(profiler, 2 + i);
    }
    const records = (await profiler.records()).filter((r) => r.session === baseline!.session && !r.baseline);
    expect(records.length).toBeGreaterThanOrEqual(2);
    const handleLine = lineOf('server.mjs', /^function handle\(/);
    for (const record of records) {
      expect(record.allocation_tracking).toBe(true);
      const sites = record.entries.filter((e) => e.name === 'messages').flatMap((e) => e.allocations ?? []);
      expect(sites.some((s) => s.function_name === 'handle' && s.line === handleLine)).toBe(true);
    }
  });

  it('without the flag, snapshots carry no allocation stacks and records no sites', async () => {
    const target = await startTarget();
    const profiler = await startProfiler(['--inspect', `127.0.0.1:${target.inspectPort}`, '--db', join(dir, 'db.json')]);
    await recordsAtLeast(profiler, 1);
    expect(await target.get('/leak')).toBe(200);
    await profiler.signal(1, '/leak');
    const records = await recordsAtLeast(profiler, 2);
    expect(records.every((r) => r.allocation_tracking === undefined)).toBe(true);
    expect(records.every((r) => r.entries.every((e) => e.allocations === undefined))).toBe(true);
  });
});
