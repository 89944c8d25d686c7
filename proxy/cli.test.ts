/** Bad input and start-up of the compiled apptrace-proxy, each a real process. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, killAll, request, runProxyToExit, startNode, startProxy } from '../test/proxy-support.js';

afterAll(killAll);

describe.concurrent('apptrace-proxy bad input', () => {
  it('an invalid regex exits 2 naming the flag and the regex', async () => {
    const run = await runProxyToExit(['--target', '127.0.0.1:3000', '--url-pattern', '^/api/(unclosed']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--url-pattern "^/api/(unclosed"');
    expect(run.stderr).toContain('not a valid regular expression');
  });

  it('an invalid regex from the environment exits 2 naming the variable', async () => {
    const run = await runProxyToExit(['--target', '127.0.0.1:3000'], { APPTRACE_URL_PATTERN: '^/ok,[z-a]' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('APPTRACE_URL_PATTERN');
    expect(run.stderr).toContain('[z-a]');
  });

  it('an unknown flag exits 2 naming it', async () => {
    const run = await runProxyToExit(['--target', '127.0.0.1:3000', '--trace-modules', 'src/**']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown flag --trace-modules');
    expect(run.stderr).toContain('--help');
  });

  it('a missing --target exits 2 saying what to give', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'apptrace-proxy-cli-'));
    const run = await runProxyToExit([], { APPTRACE_TARGET: '' }, cwd);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--target is required');
    expect(run.stderr).toContain('--target localhost:3000');
  });

  it('a port already in use says which port and what to do, exit 1', async () => {
    const busy = await startNode(fixture('target-server.js'), []);
    const run = await runProxyToExit([
      '--target',
      '127.0.0.1:3000',
      '--listen',
      `127.0.0.1:${busy.port}`,
      '--profiler',
      'http://127.0.0.1:9',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`port ${busy.port} on 127.0.0.1 is already in use`);
    expect(run.stderr).toContain(`--listen 127.0.0.1:${busy.port + 1}`);
  });

  it('--help lists the flags and exits 0, even with other flags wrong', async () => {
    const run = await runProxyToExit(['--help', '--nonsense']);
    expect(run.code).toBe(0);
    for (const flag of ['--target', '--listen', '--inspect', '--url-pattern', '--trace-module', '--db', '--profiler']) {
      expect(run.stdout).toContain(flag);
    }
  });
});

describe('apptrace-proxy start-up', () => {
  it('says where to browse, the target, what is traced and the profiler', async () => {
    const target = await startNode(fixture('target-server.js'), []);
    const proxy = await startProxy([
      '--target',
      `127.0.0.1:${target.port}`,
      '--profiler',
      'http://127.0.0.1:9',
      '--url-pattern',
      '^/api/',
    ]);
    const out = proxy.stdout();
    expect(out).toContain(`http://127.0.0.1:${proxy.port}/`);
    expect(out).toContain(`http://127.0.0.1:${proxy.port}/_ah/apptrace`);
    expect(out).toContain(`127.0.0.1:${target.port}`);
    expect(out).toContain('/^/api//');
    expect(out).toContain('http://127.0.0.1:9 (given with --profiler)');
    expect((await request(proxy.port, '/anything')).status).toBe(200);
  });

  it('takes its target from apptrace.config.json, overridden by the environment', async () => {
    const target = await startNode(fixture('target-server.js'), []);
    const cwd = mkdtempSync(join(tmpdir(), 'apptrace-proxy-cli-'));
    writeFileSync(
      join(cwd, 'apptrace.config.json'),
      JSON.stringify({ target: '127.0.0.1:1', urlPattern: ['^/from-config'] }),
    );
    const proxy = await startProxy(
      ['--profiler', 'http://127.0.0.1:9'],
      { APPTRACE_TARGET: `127.0.0.1:${target.port}` },
      cwd,
    );
    expect(proxy.stdout()).toMatch(new RegExp(`target +127\\.0\\.0\\.1:${target.port}\\n`));
    expect(proxy.stdout()).toContain('/^/from-config/');
    const res = await request(proxy.port, '/echo');
    expect(JSON.parse(res.body).method).toBe('GET');
  });

  it('warns when it listens on a non-loopback address', async () => {
    const proxy = await startProxy([
      '--target',
      '127.0.0.1:1',
      '--profiler',
      'http://127.0.0.1:9',
      '--listen',
      '0.0.0.0:0',
    ]);
    expect(proxy.stderr()).toContain('warning: listening on 0.0.0.0, not loopback');
  });
});
