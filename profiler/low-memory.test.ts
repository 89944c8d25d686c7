/**
 * Before a snapshot the machine would not have the memory for (about twice the target's
 * heap), the profiler skips it and says so, and the target is not paused: a real target
 * with its inspector, the real CDP session, a machine made small through `freeMemory`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAppError } from '../contract/errors.js';
import { Profiler } from './profiler.js';
import { RecordStore } from './store.js';
import { FIXTURE_DIR, killAll, startTarget, waitFor } from '../test/profiler-processes.js';

afterAll(killAll);

describe('a snapshot the machine has no memory for', () => {
  it('is skipped and said (event, status, lastError); signals wait; "Snapshot now" answers LOW_MEMORY; nothing is recorded', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'apptrace-low-memory-'));
    const target = await startTarget();
    const store = await RecordStore.open(join(dir, 'db.json'));
    let analyses = 0;
    const profiler = new Profiler({
      inspect: { host: '127.0.0.1', port: target.inspectPort },
      store,
      root: FIXTURE_DIR,
      analysis: () => {
        analyses++;
        throw new Error('a skipped snapshot must not start an analysis');
      },
      freeMemory: () => 1024 * 1024,
    });
    const skipped: string[] = [];
    profiler.capture.on('skipped', (message) => skipped.push(message));
    try {
      profiler.start();
      // The baseline on attaching is the first to be skipped.
      await waitFor(() => skipped.length > 0, 'the baseline to be skipped');
      expect(skipped[0]).toMatch(
        /^skipped a snapshot to spare the target: it needs about [\d.]+ MB free \(twice the target's [\d.]+ MB heap\) and the machine has 1\.0 MB; the target was not paused/,
      );
      profiler.signal([{ method: 'GET', url: '/leak', status: 200 }]);
      const status = profiler.status();
      expect(status.snapshot.skipped?.message).toBe(skipped[0]);
      expect(status.lastError?.message).toBe(skipped[0]);
      expect(status.snapshot.pendingSignals).toBe(1);
      // The next try is 30 s away, not now.
      expect(Date.parse(status.snapshot.nextAt!) - Date.now()).toBeGreaterThan(20_000);

      let refused: unknown;
      await profiler.snapshotNow().catch((error: unknown) => (refused = error));
      expect(isAppError(refused, 'LOW_MEMORY')).toBe(true);
      expect((refused as Error).message).toMatch(/skipped a snapshot to spare the target/);

      expect(store.size).toBe(0);
      expect(analyses).toBe(0);
      // The target was never stopped for a snapshot: it answers, and its heap was read the cheap way.
      expect(await target.get('/')).toBe(200);
      await waitFor(() => store.points().length > 0, 'a heap point for the signal');
      expect(store.points()[0]!.requests).toBe(1);
    } finally {
      await profiler.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
