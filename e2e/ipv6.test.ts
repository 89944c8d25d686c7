import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { HeapRecord } from '../contract/record.js';
import { eventually, startProcess, stopAll } from '../test/processes.js';
import { projectRoot } from './stack.js';

/**
 * IPv6 literals (issue #11, point 7) through the real processes, all on ::1: a target
 * listening on [::1] with its inspector on [::1], a profiler started on its own with
 * `--listen [::1]:0 --inspect [::1]:PORT`, and apptrace-proxy with `--listen [::1]:0
 * --target [::1]:PORT --profiler http://[::1]:PORT` sharing the signal token. A traced
 * request through the proxy becomes a record; the UI answers under Host [::1].
 */

const APP = fileURLToPath(new URL('./fixtures/leak-app.cjs', import.meta.url));
const TOKEN = 'ipv6-test-token-0123456789abcdef';

describe('IPv6 literals for --listen, --target, --inspect and --profiler', () => {
  let dir: string | undefined;

  afterAll(async () => {
    await stopAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('profiles a target on [::1] through a proxy and a profiler on [::1]', async () => {
    dir = await mkdtemp(join(tmpdir(), 'apptrace-ipv6-'));
    const target = startProcess('target', process.execPath, ['--inspect=[::1]:0', APP], {
      env: { PORT: '0', HOST: '::1' },
    });
    const [, inspectPort] = await target.waitFor(/Debugger listening on ws:\/\/\[::1\]:(\d+)\//);
    const [, appPort] = await target.waitFor(/listening on (\d+)/);
    const env = { APPTRACE_PROFILER_TOKEN: TOKEN };
    const profiler = startProcess(
      'apptrace-profiler',
      process.execPath,
      [
        join(projectRoot(), 'dist', 'profiler', 'cli.js'),
        'serve',
        '--listen',
        '[::1]:0',
        '--inspect',
        `[::1]:${inspectPort}`,
        '--db',
        join(dir, 'db.json'),
      ],
      { env, cwd: join(projectRoot(), 'e2e', 'fixtures') },
    );
    const [, profilerUrl] = await profiler.waitFor(/listening on (http:\/\/\[::1\]:\d+)\/_ah\/apptrace/, 30_000);
    const proxy = startProcess(
      'apptrace-proxy',
      process.execPath,
      [
        join(projectRoot(), 'dist', 'proxy', 'cli.js'),
        '--listen',
        '[::1]:0',
        '--target',
        `[::1]:${appPort}`,
        '--profiler',
        profilerUrl!,
      ],
      { env },
    );
    const [, proxyUrl] = await proxy.waitFor(/apptrace-proxy: listening on (http:\/\/\[::1\]:\d+)/, 30_000);
    expect(proxy.output()).not.toMatch(/at .*\.js:\d+:\d+/); // no stack trace
    await eventually(
      async () => {
        const status = (await (await fetch(`${proxyUrl}/_ah/apptrace/api/status`)).json()) as {
          inspector: { state: string; address: string };
        };
        return status.inspector.state === 'connected' ? status : undefined;
      },
      () => `the profiler to attach over [::1]\n${profiler.output()}`,
      30_000,
    );

    const page = await fetch(`${proxyUrl}/v6-request`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('leak app');
    // The proxy's signal reached the profiler over [::1], with the token: a record of that request.
    const record = await eventually(
      async () =>
        ((await (await fetch(`${proxyUrl}/_ah/apptrace/api/records`)).json()) as HeapRecord[]).find(
          (r) => r.request?.url === '/v6-request',
        ),
      () => `a record of /v6-request\n${proxy.output()}\n${profiler.output()}`,
      30_000,
    );
    expect(record.entries.some((e) => e.name === 'requestLog')).toBe(true);
    const status = (await (await fetch(`${profilerUrl}/_ah/apptrace/api/status`)).json()) as {
      inspector: { address: string };
    };
    expect(status.inspector.address).toBe(`[::1]:${inspectPort}`);
  }, 90_000);
});
