/**
 * `apptrace-proxy check` on slow and per-key leaks (issue 10, point 6), against a real app
 * (proxy/fixtures/check-keys) with its inspector on, through the compiled CLI:
 * - a 300 B/request leak through a function's closure fails with the default rounds;
 * - `{i}` in the path, a header or the body makes each round ask for a new key, so a
 *   per-key cache grows and fails, while the same key every round passes;
 * - what grows below the threshold is listed, not hidden behind "passed".
 * The app's state carries over between the checks: each uses its own key prefix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CheckRun, runCheck } from '../test/check-run.js';
import { type Started, eventually, fixture, killAll, startNode } from '../test/proxy-support.js';

function check(args: string[]): Promise<CheckRun> {
  return runCheck({ appPort: app.port, inspectPort }, args, 110_000);
}

let app: Started;
let inspectPort: number;

beforeAll(async () => {
  app = await startNode(fixture('check-keys/server.mjs'), [], {
    nodeArgs: ['--inspect=127.0.0.1:0'],
    env: { PORT: '0' },
    ready: /listening on (\d+)/,
    cwd: fixture('check-keys'),
  });
  inspectPort = await eventually(() => {
    const m = /Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(app.stderr());
    return m ? Number(m[1]) : undefined;
  }, 'the inspector port');
});

afterAll(async () => {
  await killAll();
});

describe('apptrace-proxy check on slow and per-key leaks', () => {
  it('fails a 300 B/request leak through a function entry within the default 16 rounds', {
    timeout: 120_000,
  }, async () => {
    const run = await check(['--request', '/slow']);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stderr).toMatch(/round 16\/16: 16 requests/);
    expect(run.stdout).toContain('remember (function) at server.mjs:12');
    expect(run.stdout).toMatch(/growth path: remember\.visits → Array: \+1 element/);
  });

  it('{i} in the path: a new user per round fails, the same user every round passes', {
    timeout: 120_000,
  }, async () => {
    const same = await check(['--request', '/users/same', '--requests', '8']);
    expect(same.code, same.stdout + same.stderr).toBe(0);
    const unique = await check(['--request', 'GET /users/p{i}', '--requests', '8']);
    expect(unique.code, unique.stdout + unique.stderr).toBe(1);
    expect(unique.stdout).toContain('users (Map) at server.mjs:18');
    expect(unique.stdout).toMatch(/over 8 × GET \/users\/p\{i\} \(8 requests\)/);
  });

  it('{i} in a header and in a body', { timeout: 120_000 }, async () => {
    const byHeader = await check(['--request', '/by-header', '--header', 'x-user: h{i}', '--requests', '8']);
    expect(byHeader.code, byHeader.stdout + byHeader.stderr).toBe(1);
    expect(byHeader.stdout).toContain('users (Map) at server.mjs:18');
    const byBody = await check(['--request', 'POST /by-body', '--body', '{"user":"b{i}"}', '--requests', '8']);
    expect(byBody.code, byBody.stdout + byBody.stderr).toBe(1);
    expect(byBody.stdout).toContain('users (Map) at server.mjs:18');
  });

  it('lists an object that grows below the threshold instead of a bare "passed"', { timeout: 120_000 }, async () => {
    // Each new user costs about 0.5 KB: under a 2 KB threshold, growing in every round.
    const run = await check(['--request', '/users/t{i}', '--requests', '8', '--threshold', '2kb', '--json']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as {
      passed: boolean;
      suspects: unknown[];
      below_threshold: { name: string; growth_per_request: number }[];
    };
    expect(report.passed).toBe(true);
    expect(report.suspects).toEqual([]);
    expect(report.below_threshold.map((s) => s.name)).toEqual(['users']);
    expect(report.below_threshold[0]!.growth_per_request).toBeGreaterThan(200);
    expect(report.below_threshold[0]!.growth_per_request).toBeLessThan(2048);
  });

  it('a header without a colon exits 2 naming it', async () => {
    const run = await check(['--request', '/users/x', '--header', 'x-user']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--header "x-user": expected a header such as "x-user: \{i\}"/);
  });
});
