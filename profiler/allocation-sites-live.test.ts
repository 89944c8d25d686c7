import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HeapRecord, Suspect } from '../contract/record.js';
import type { ProfilerProcess } from '../test/profiler-processes.js';
import { FIXTURE_DIR, kill, killAll, startProfiler, startTarget, waitFor } from '../test/profiler-processes.js';

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
  ])(
    'attributes the leaked objects to the function that allocates them, and marks its line: %s',
    async (_, env: Record<string, string>) => {
      const target = await startTarget({ env });
      const profiler = await startProfiler([
        '--inspect',
        `127.0.0.1:${target.inspectPort}`,
        '--db',
        join(dir, 'db.json'),
        '--allocation-sites',
      ]);
      await recordsAtLeast(profiler, 1);
      const perSnapshot = 3;
      const rounds = 5;
      for (let i = 1; i <= rounds; i++) {
        for (let k = 0; k < perSnapshot; k++) expect(await target.get('/leak')).toBe(200);
        await profiler.signal(perSnapshot, '/leak');
        await recordsAtLeast(profiler, 1 + i);
      }
      const records = await profiler.records();
      const handleLine = lineOf('server.mjs', /^function handle\(/);
      const later = records.filter((r) => !r.baseline);
      expect(later.length).toBeGreaterThanOrEqual(rounds);
      let withSite = 0;
      for (const record of later) {
        expect(record.allocation_tracking).toBe(true);
        // An ES module export can show twice (its Cell and a context slot); the larger one holds the array.
        const messages = record.entries
          .filter((e) => e.module_name === 'server.mjs' && e.name === 'messages')
          .sort((a, b) => b.dominated_size - a.dominated_size)[0];
        const sites = (messages?.allocations ?? []).filter((s) => s.function_name === 'handle');
        for (const site of sites) {
          expect(site).toMatchObject({ module_name: 'server.mjs', filename: 'server.mjs', line: handleLine });
          // One message object and its 256-element array per /leak request so far.
          expect(site.bytes).toBeGreaterThanOrEqual(256 * 4);
        }
        if (sites.length > 0) withSite++;
      }
      // V8 now and then drops the allocation stacks of older objects (a record without
      // them); most records have them.
      expect(withSite, JSON.stringify(later.map((r) => r.entries.filter((e) => e.allocations)))).toBeGreaterThanOrEqual(
        Math.ceil(later.length / 2),
      );
      // The config object never changes: whatever of it was allocated while tracked stays as it was.
      const configSites = later.map((r) =>
        JSON.stringify(r.entries.find((e) => e.name === 'config')?.allocations ?? []),
      );
      expect(new Set(configSites).size).toBe(1);

      const suspects = (await (await fetch(`${profiler.base}/api/suspects`)).json()) as Suspect[];
      const leak = suspects.find((s) => s.module_name === 'server.mjs' && s.name === 'messages');
      expect(leak?.verdict).toBe('growing');
      const marks = (leak!.marked_lines ?? []).filter((m) => m.kind === 'allocation');
      const mark = marks.find((m) => m.line === handleLine);
      expect(mark, JSON.stringify(leak!.marked_lines)).toBeDefined();
      const figures = /^allocates ([\d.]+) objects? \(\+([\d.]+) (B|KB|MB)\) per request in handle\(\)$/.exec(
        mark!.reason,
      );
      expect(figures, mark!.reason).not.toBeNull();
      // Per /leak request: the message object and its array, 256 elements of at least 4 bytes.
      expect(Number(figures![1])).toBeGreaterThanOrEqual(2);
      expect(
        Number(figures![2]) * { B: 1, KB: 1024, MB: 1024 * 1024 }[figures![3] as 'B' | 'KB' | 'MB'],
      ).toBeGreaterThanOrEqual(1024);
      expect(mark!.module_name).toBeUndefined();

      // The code browser marks that line and says it is an allocation site.
      const page = await (await fetch(`${profiler.base}/code?module=server.mjs&name=messages`)).text();
      const line = new RegExp(`<div class="line" id="L${handleLine}"[^>]*>`).exec(page)?.[0] ?? '';
      expect(line).toMatch(/data-marked/);
      expect(/data-mark-kind="([^"]*)"/.exec(line)?.[1]?.split(' ')).toContain('allocation');
      expect(page).toContain('allocation site');
    },
  );

  it('tracks again after the target restarts (a new inspector session starts without it)', async () => {
    const first = await startTarget();
    const profiler = await startProfiler([
      '--inspect',
      `127.0.0.1:${first.inspectPort}`,
      '--db',
      join(dir, 'db.json'),
      '--allocation-sites',
    ]);
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
    expect(records.every((r) => r.allocation_tracking === true)).toBe(true);
    const sites = records.flatMap((r) =>
      r.entries.filter((e) => e.name === 'messages').flatMap((e) => e.allocations ?? []),
    );
    expect(sites.some((s) => s.function_name === 'handle' && s.line === handleLine)).toBe(true);
  });

  it('without the flag, snapshots carry no allocation stacks and records no sites', async () => {
    const target = await startTarget();
    const profiler = await startProfiler([
      '--inspect',
      `127.0.0.1:${target.inspectPort}`,
      '--db',
      join(dir, 'db.json'),
    ]);
    await recordsAtLeast(profiler, 1);
    expect(await target.get('/leak')).toBe(200);
    await profiler.signal(1, '/leak');
    const records = await recordsAtLeast(profiler, 2);
    expect(records.every((r) => r.allocation_tracking === undefined)).toBe(true);
    expect(records.every((r) => r.entries.every((e) => e.allocations === undefined))).toBe(true);
  });
});
