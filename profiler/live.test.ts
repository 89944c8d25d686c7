import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Entry, HeapRecord, Suspect } from '../contract/record.js';
import type { ProfilerProcess, Target } from '../test/profiler-processes.js';
import { FIXTURE_DIR, kill, killAll, startProfiler, startTarget, waitFor } from '../test/profiler-processes.js';

/** The 1-based line of the first line of `file` that matches `re` (read from the fixture, not from a record). */
function lineOf(file: string, re: RegExp): number {
  const lines = readFileSync(join(FIXTURE_DIR, file), 'utf8').split('\n');
  const i = lines.findIndex((line) => re.test(line));
  if (i < 0) throw new Error(`${re} not in ${file}`);
  return i + 1;
}

function entry(record: HeapRecord, module: string, name: string): Entry | undefined {
  return record.entries.find((e) => e.module_name === module && e.name === name);
}

async function recordsAtLeast(profiler: ProfilerProcess, count: number): Promise<HeapRecord[]> {
  return waitFor(async () => {
    const records = await profiler.records();
    return records.length >= count ? records : undefined;
  }, `${count} records`);
}

/** Waits until nothing runs and nothing is pending. */
async function settled(profiler: ProfilerProcess): Promise<void> {
  await waitFor(async () => {
    const { snapshot } = await profiler.status();
    return !snapshot.running && snapshot.pendingSignals === 0;
  }, 'the profiler to settle');
}

describe('apptrace-profiler serve against a live target', () => {
  let dir: string;
  let db: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'apptrace-live-'));
    db = join(dir, 'db.json');
  });
  afterEach(async () => {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(
    env?: Record<string, string>,
    options: { cwd?: string } = {},
  ): Promise<{ target: Target; profiler: ProfilerProcess }> {
    const target = await startTarget(env ? { env } : {});
    const profiler = await startProfiler(
      ['--inspect', `127.0.0.1:${target.inspectPort}`, '--db', db, '--target', `127.0.0.1:${target.httpPort}`],
      options,
    );
    return { target, profiler };
  }

  it("records the traced modules' bindings; the leak grows after the baseline, the others stay flat", async () => {
    const { target, profiler } = await start();
    const [baseline] = await recordsAtLeast(profiler, 1);
    expect(baseline!.baseline).toBe(true);
    expect(baseline!.requests).toBe(0);

    const rounds = 5;
    for (let i = 1; i <= rounds; i++) {
      expect(await target.get('/leak')).toBe(200);
      expect(await profiler.signal(1, '/leak')).toBe(202);
      await recordsAtLeast(profiler, 1 + i);
    }
    const records = await profiler.records();
    expect(records.map((r) => r.index)).toEqual([1, 2, 3, 4, 5, 6]);
    const after = records.slice(1);
    expect(after.every((r) => r.baseline === false && r.session === baseline!.session && r.requests === 1)).toBe(true);
    expect(after.every((r) => r.request?.url === '/leak' && r.request.status === 200)).toBe(true);

    // Each top-level binding with the right type, name, file and line.
    const last = records[records.length - 1]!;
    const expected: [string, string, string, RegExp][] = [
      ['server.mjs', 'messages', 'Array', /^export const messages/],
      ['server.mjs', 'config', 'Object', /^const config/],
      ['server.mjs', 'Page', 'class', /^export class Page/],
      ['store.cjs', 'cache', 'Map', /^const cache/],
      ['store.cjs', 'counters', 'Object', /^const counters/],
      ['store.cjs', 'remember', 'function', /^function remember/],
    ];
    for (const [module, name, objType, re] of expected) {
      expect(entry(last, module, name), `${module} ${name}`).toMatchObject({
        obj_type: objType,
        filename: module,
        module_name: module,
        lineno: lineOf(module, re),
      });
    }
    // Nothing from node_modules or node: internals.
    expect(last.entries.every((e) => e.module_name === 'server.mjs' || e.module_name === 'store.cjs')).toBe(true);

    // The leak grows in every record after the baseline (a 256-slot array per request).
    const leak = after.map((r) => entry(r, 'server.mjs', 'messages')!.dominated_size);
    for (let i = 1; i < leak.length; i++) expect(leak[i]! - leak[i - 1]!).toBeGreaterThanOrEqual(2048);
    // The others stay flat.
    for (const name of ['config', 'Page']) {
      const sizes = new Set(after.map((r) => entry(r, 'server.mjs', name)!.dominated_size));
      expect(sizes.size, name).toBe(1);
    }
    for (const name of ['cache', 'counters']) {
      const sizes = new Set(after.map((r) => entry(r, 'store.cjs', name)!.dominated_size));
      expect(sizes.size, name).toBe(1);
    }

    const suspects = (await (await fetch(`${profiler.base}/api/suspects`)).json()) as Suspect[];
    expect(suspects[0]).toMatchObject({ module_name: 'server.mjs', name: 'messages', verdict: 'growing' });
    expect(suspects[0]!.growth_per_request).toBeGreaterThanOrEqual(2048);
    expect(suspects.filter((s) => s.verdict === 'growing').map((s) => s.name)).toEqual(['messages']);

    // The store on disk holds the same records.
    const onDisk = await waitFor(() => {
      const data = JSON.parse(readFileSync(db, 'utf8')) as { version: number; records: HeapRecord[] };
      return data.records.length === 6 ? data : undefined;
    }, 'the file to hold 6 records');
    expect(onDisk.version).toBe(1);
    expect(onDisk.records).toEqual(records);
    // The terminal line follows once the record is on disk.
    await waitFor(() => /#6 +1 request .* server\.mjs · messages/.test(profiler.output.stdout), 'the record line');
  });

  it('folds signals that arrive during a snapshot; requests add up and snapshots never overlap', async () => {
    const { profiler } = await start();
    await recordsAtLeast(profiler, 1);
    const count = 40;
    const urls = Array.from({ length: count }, (_, i) => `/leak?n=${i}`);
    const answers = await Promise.all(urls.map((url) => profiler.signal(1, url)));
    expect(answers.every((status) => status === 202)).toBe(true);
    await settled(profiler);

    const records = (await profiler.records()).slice(1);
    expect(records.reduce((sum, r) => sum + r.requests, 0)).toBe(count);
    // Folding happened: fewer snapshots than signals.
    expect(records.length).toBeLessThan(count);
    expect(records.every((r) => r.request !== null && urls.includes(r.request.url))).toBe(true);
    // Each snapshot spans [at - capture_ms - analysis_ms, at]; rounding allows 2 ms.
    const spans = records.map((r) => ({
      start: Date.parse(r.at) - r.timings.capture_ms - r.timings.analysis_ms,
      end: Date.parse(r.at),
    }));
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.start).toBeGreaterThanOrEqual(spans[i - 1]!.end - 2);
  });

  it('with traffic that does not wait for snapshots, every record grows and the requests add up', async () => {
    const { target, profiler } = await start();
    await recordsAtLeast(profiler, 1);
    await settled(profiler);
    // A client that, like the proxy, signals right after each response.
    const count = 16;
    for (let i = 0; i < count; i++) {
      expect(await target.get('/leak')).toBe(200);
      expect(await profiler.signal(1)).toBe(202);
    }
    await settled(profiler);
    const records = await profiler.records();
    const after = records.slice(1);
    expect(after.reduce((sum, r) => sum + r.requests, 0)).toBe(count);
    // A record starts only on a signal of a request served after the previous snapshot
    // (V8 blocks the target while it takes one, and the signal follows the response),
    // so no record after the baseline repeats the previous one's heap.
    const sizes = records.map((r) => entry(r, 'server.mjs', 'messages')!.dominated_size);
    for (let i = 1; i < sizes.length; i++) {
      expect(sizes[i]! - sizes[i - 1]!, `record ${records[i]!.index}`).toBeGreaterThanOrEqual(2048);
    }
    // Each /leak request keeps one 256-slot array (a bit over 2 KB); the list's own
    // backing store grows by less than one such array over these requests.
    const total = sizes[sizes.length - 1]! - sizes[0]!;
    expect(total).toBeGreaterThanOrEqual(count * 2048);
    expect(total).toBeLessThan((count + 1) * 2048 + 1024);
  });

  it("takes a snapshot on POST /api/snapshot; without --root, names modules relative to the target's own directory", async () => {
    // The profiler runs elsewhere (as in compose): the target's working directory is the root.
    const { profiler } = await start(undefined, { cwd: dir });
    await recordsAtLeast(profiler, 1);
    await settled(profiler);
    // An open event stream gets the new record.
    const controller = new AbortController();
    const events = await fetch(`${profiler.base}/events`, { signal: controller.signal });
    const reader = events.body!.getReader();
    let text = '';
    const streamed = (async () => {
      const decoder = new TextDecoder();
      while (!/event: record\n(data: .*\n)+id: 2\n/.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value);
      }
    })();
    const manual = await profiler.snapshot();
    await streamed;
    controller.abort();
    expect(text.startsWith('event: status\n')).toBe(true);
    expect(text).toMatch(/event: record\ndata: \{"index":2,/);
    expect(manual.status).toBe(201);
    const record = manual.body as HeapRecord;
    expect(record).toMatchObject({ index: 2, requests: 0, request: null, baseline: false });
    expect(entry(record, 'server.mjs', 'messages')).toMatchObject({ filename: 'server.mjs', obj_type: 'Array' });
    expect(entry(record, 'store.cjs', 'cache')).toMatchObject({ filename: 'store.cjs', obj_type: 'Map' });
    expect((await profiler.status()).traceModules.join(' ')).toContain(FIXTURE_DIR.replace(/\/$/, ''));
  });

  it('re-attaches when the target restarts: records resume with a new baseline', async () => {
    const { target, profiler } = await start();
    const [first] = await recordsAtLeast(profiler, 1);
    await kill(target.child);
    await waitFor(async () => (await profiler.status()).inspector.state !== 'connected', 'the profiler to notice');

    // Same inspector port, as node --watch or nodemon would do.
    const again = await startTarget({ inspectPort: target.inspectPort });
    const records = await recordsAtLeast(profiler, 2);
    const second = records[1]!;
    expect(second.baseline).toBe(true);
    expect(second.session).not.toBe(first!.session);
    expect((await profiler.status()).inspector.state).toBe('connected');

    await again.get('/leak');
    await profiler.signal(1);
    const [, , third] = await recordsAtLeast(profiler, 3);
    expect(third).toMatchObject({ baseline: false, session: second.session, requests: 1 });
    expect(profiler.output.stdout).toMatch(/inspector 127\.0\.0\.1:\d+: (disconnected|unreachable)/);
  });

  it('discards a snapshot cut off when the target dies mid-stream: no partial record, the store intact', async () => {
    // A larger heap, so that the snapshot streams for a while.
    const { target, profiler } = await start({ BALLAST: '100000' });
    await recordsAtLeast(profiler, 1);
    await settled(profiler);
    await profiler.signal(1);
    // Streaming has begun: V8 is done building and bytes have arrived.
    await waitFor(
      async () => {
        const { snapshot } = await profiler.status();
        return (
          snapshot.running && snapshot.progress !== null && snapshot.progress.total === 0 && snapshot.progress.done > 0
        );
      },
      'the snapshot to stream',
      40_000,
    );
    await kill(target.child);

    const status = await waitFor(async () => {
      const s = await profiler.status();
      return !s.snapshot.running && s.lastError !== null ? s : undefined;
    }, 'the snapshot to be discarded');
    expect(status.lastError!.message).toMatch(/cut off|went away/);
    expect(status.records).toBe(1);
    expect((await profiler.records()).map((r) => r.index)).toEqual([1]);
    const onDisk = JSON.parse(readFileSync(db, 'utf8')) as { records: HeapRecord[] };
    expect(onDisk.records.map((r) => r.index)).toEqual([1]);
    await waitFor(() => profiler.output.stdout.includes('snapshot discarded'), 'the discard line');
  });

  it('on SIGTERM during a snapshot, abandons it without a record and leaves the target running', async () => {
    const { target, profiler } = await start({ BALLAST: '100000' });
    await recordsAtLeast(profiler, 1);
    await settled(profiler);
    await profiler.signal(1);
    await waitFor(async () => (await profiler.status()).snapshot.running, 'a snapshot to run', 40_000);
    profiler.child.kill('SIGTERM');
    expect(await profiler.exited).toBe(0);
    const onDisk = JSON.parse(readFileSync(db, 'utf8')) as { records: HeapRecord[] };
    expect(onDisk.records.map((r) => r.index)).toEqual([1]);
    // The target finishes its snapshot for nobody and goes on serving.
    expect(await target.get('/leak')).toBe(200);
  });
});
