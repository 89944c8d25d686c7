/**
 * The sidecar: without --profiler, apptrace-proxy starts the profiler as a child process
 * and stops it on exit. APPTRACE_PROFILER_SCRIPT points it at fixtures/fake-profiler.js, a
 * real process that speaks the profiler's IPC contract.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Started,
  eventually,
  fixture,
  isAlive,
  killAll,
  request,
  runProxyToExit,
  startNode,
  startProxy,
} from '../test/proxy-support.js';

const env = { APPTRACE_PROFILER_SCRIPT: fixture('fake-profiler.js') };
let target: Started;

beforeAll(async () => {
  target = await startNode(fixture('target-server.js'), []);
});
afterAll(killAll);

async function whoami(port: number): Promise<{ pid: number; argv: string[]; token?: string }> {
  const res = await request(port, '/_ah/apptrace/whoami');
  expect(res.status).toBe(200);
  return JSON.parse(res.body) as { pid: number; argv: string[]; token?: string };
}

describe('the sidecar profiler', () => {
  it('is started with the proxy’s settings, reached through /_ah/apptrace, and gone after Ctrl-C', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'apptrace-sidecar-')), 'db.json');
    const proxy = await startProxy(
      [
        '--target',
        `127.0.0.1:${target.port}`,
        '--inspect',
        '127.0.0.1:9555',
        '--db',
        db,
        '--trace-module',
        'src/**',
        '--url-pattern',
        '^/api/',
      ],
      env,
    );
    const profiler = await whoami(proxy.port);
    expect(profiler.argv).toEqual([
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--inspect',
      '127.0.0.1:9555',
      '--db',
      db,
      '--target',
      `127.0.0.1:${target.port}`,
      '--trace-module',
      'src/**',
      '--url-pattern',
      '^/api/',
      // The names the proxy answers, which it forwards as they are: its listen address here.
      '--allowed-host',
      '127.0.0.1',
      // The proxy's pause budget (its default) goes on to the profiler that applies it.
      '--max-pause-share',
      '0.1',
    ]);
    // The signal token goes in the environment (ps shows argv), a fresh random one.
    expect(profiler.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(proxy.stdout()).toContain(`(sidecar, pid ${profiler.pid})`);
    expect(proxy.stdout()).toContain('fake-profiler: ready'); // its terminal lines show in ours
    expect(isAlive(profiler.pid)).toBe(true);
    expect((await request(proxy.port, '/echo')).status).toBe(200);

    proxy.child.kill('SIGINT');
    expect((await proxy.exited).code).toBe(0);
    expect(isAlive(profiler.pid)).toBe(false);
  });

  it('is stopped on SIGTERM too', async () => {
    const proxy = await startProxy(['--target', `127.0.0.1:${target.port}`], env);
    const { pid } = await whoami(proxy.port);
    proxy.child.kill('SIGTERM');
    await proxy.exited;
    expect(isAlive(pid)).toBe(false);
  });

  it('exits by itself when the proxy is killed outright (the IPC channel closes)', async () => {
    const proxy = await startProxy(['--target', `127.0.0.1:${target.port}`], env);
    const { pid } = await whoami(proxy.port);
    proxy.child.kill('SIGKILL');
    await proxy.exited;
    await eventually(() => (isAlive(pid) ? undefined : true), `profiler pid ${pid} to exit`);
  });

  it('failing at start: the proxy prints its reason and exits with its status', async () => {
    const run = await runProxyToExit(['--target', `127.0.0.1:${target.port}`, '--listen', '127.0.0.1:0'], {
      ...env,
      FAKE_PROFILER_FAIL: '3',
    });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('fake-profiler: cannot open the store');
    expect(run.stderr).toContain('the profiler exited with status 3 before it was ready');
  });

  it('dying later: the app is still served and /_ah/apptrace says the profiler is gone', async () => {
    const proxy = await startProxy(['--target', `127.0.0.1:${target.port}`], env);
    const { pid } = await whoami(proxy.port);
    process.kill(pid, 'SIGKILL');
    await eventually(
      () => (proxy.stderr().includes('the profiler was killed by SIGKILL') ? true : undefined),
      'the report',
    );
    expect((await request(proxy.port, '/echo')).status).toBe(200);
    const page = await request(proxy.port, '/_ah/apptrace', { headers: { accept: 'application/json' } });
    expect(page.status).toBe(502);
    expect(JSON.parse(page.body).hint).toContain('restart apptrace-proxy');
  });
});

describe('the real profiler as the sidecar', () => {
  it('attaches, records a traced request, streams its events through the proxy, and stops with the proxy', async () => {
    const app = await startNode(fixture('target-server.js'), [], { nodeArgs: ['--inspect=127.0.0.1:0'] });
    const inspectPort = await eventually(
      () => /Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)/.exec(app.stderr())?.[1],
      'the inspector port',
    );
    const dir = mkdtempSync(join(tmpdir(), 'apptrace-sidecar-real-'));
    const proxy = await startProxy(
      [
        '--target',
        `127.0.0.1:${app.port}`,
        '--inspect',
        `127.0.0.1:${inspectPort}`,
        '--db',
        join(dir, 'db.json'),
        '--url-pattern',
        '^/traced/',
        '--max-pause-share',
        '1',
      ],
      {},
      dir,
    );
    const pid = Number(/\(sidecar, pid (\d+)\)/.exec(proxy.stdout())![1]);

    await eventually(async () => {
      const status = JSON.parse((await request(proxy.port, '/_ah/apptrace/api/status')).body);
      return status.inspector.state === 'connected' ? status : undefined;
    }, 'the profiler to attach');

    // Open the profiler's event stream through the proxy, then trace a request: its record
    // must arrive as a server-sent event while the stream stays open.
    const recordEvent = new Promise<string>((resolve, reject) => {
      void import('node:http').then(({ request: httpRequest }) => {
        httpRequest({ host: '127.0.0.1', port: proxy.port, path: '/_ah/apptrace/events', agent: false }, (res) => {
          expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
            // The profiler's first record after attaching is the baseline (no request).
            for (const match of text.matchAll(/event: record\n(?:id: .*\n)?data: (.*)\n/g)) {
              if (JSON.parse(match[1]!).request?.url === '/traced/echo?n=1') {
                resolve(match[1]!);
                res.destroy();
              }
            }
          });
          res.on('error', () => undefined);
        })
          .on('error', reject)
          .end();
      });
    });
    await new Promise((r) => setTimeout(r, 200)); // let the event stream subscribe
    expect((await request(proxy.port, '/traced/echo?n=1')).status).toBe(200);
    const record = JSON.parse(await recordEvent);
    expect(record.requests).toBeGreaterThanOrEqual(1);
    expect(record.request).toEqual({ method: 'GET', url: '/traced/echo?n=1', status: 200 });

    proxy.child.kill('SIGINT');
    expect((await proxy.exited).code).toBe(0);
    expect(isAlive(pid)).toBe(false);
  });
});
