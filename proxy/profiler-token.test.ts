import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  startProfiler,
  startTarget,
  TEST_PROFILER_TOKEN,
  killAll as killProfilers,
} from '../test/profiler-processes.js';
import { eventually, killAll, request, startProxy } from '../test/proxy-support.js';

/**
 * `apptrace-proxy --profiler URL` with a real profiler: its signals count only with the
 * token that profiler was given (APPTRACE_PROFILER_TOKEN), and a wrong one is said plainly.
 */
const dir = mkdtempSync(join(tmpdir(), 'apptrace-token-'));
afterEach(async () => {
  await killAll();
  await killProfilers();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the signal token with --profiler', () => {
  it('records with the shared token; with another one, records nothing and says to give both the same token', async () => {
    const target = await startTarget();
    const profiler = await startProfiler([
      '--inspect',
      `127.0.0.1:${target.inspectPort}`,
      '--db',
      join(dir, 'db.json'),
    ]);
    const origin = new URL(profiler.base).origin;
    await eventually(async () => ((await profiler.records()).length >= 1 ? true : undefined), 'the baseline', 30_000);

    const good = await startProxy(['--target', `127.0.0.1:${target.httpPort}`, '--profiler', origin], {
      APPTRACE_PROFILER_TOKEN: TEST_PROFILER_TOKEN,
    });
    expect((await request(good.port, '/leak?good')).status).toBe(200);
    await eventually(
      async () => ((await profiler.records()).some((r) => r.request?.url === '/leak?good') ? true : undefined),
      'a record of /leak?good',
      30_000,
    );

    const bad = await startProxy(['--target', `127.0.0.1:${target.httpPort}`, '--profiler', origin], {
      APPTRACE_PROFILER_TOKEN: 'not-the-token-of-this-profiler',
    });
    const before = (await profiler.status()).lastIndex;
    expect((await request(bad.port, '/leak?bad')).status).toBe(200);
    await eventually(
      () => (bad.stderr().includes('refused the signal token') ? true : undefined),
      'the hint about the token',
      10_000,
    );
    expect(bad.stderr()).toContain('APPTRACE_PROFILER_TOKEN');
    const status = await profiler.status();
    expect(status.snapshot.pendingSignals).toBe(0);
    expect((await profiler.records(before)).some((r) => r.request?.url === '/leak?bad')).toBe(false);
  }, 90_000);
});
