/** Option resolution, hop-by-hop filtering and the 502's content negotiation: pure functions. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAppError } from '../contract/errors.js';
import { parseProxyConfig } from './config.js';
import { prefersJson } from './error-page.js';
import { endToEndRawHeaders, stripRequestHopByHop } from './hop-by-hop.js';
import { createUrlMatcher } from './url-match.js';

function dirWithConfig(config: object): string {
  const dir = mkdtempSync(join(tmpdir(), 'apptrace-proxy-config-'));
  writeFileSync(join(dir, 'apptrace.config.json'), JSON.stringify(config));
  return dir;
}

describe('parseProxyConfig', () => {
  it('takes flag over environment over apptrace.config.json over default', () => {
    const cwd = dirWithConfig({ target: 'config-host:1', listen: '9001', db: 'from-config.json', urlPattern: ['^/c'] });
    const env = { APPTRACE_TARGET: 'env-host:2', APPTRACE_LISTEN: '9002' };
    const config = parseProxyConfig(['--target', 'flag-host:3'], { env, cwd });
    expect(config.target).toEqual({ host: 'flag-host', port: 3 });
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 9002 });
    expect(config.db).toBe('from-config.json');
    expect(config.urlPatterns).toEqual(['^/c']);
    expect(config.inspect).toBe('flag-host:9229');
    expect(config.profiler).toBeUndefined();
  });

  it('defaults: listen on loopback 8080, inspector on the target host, store in .apptrace', () => {
    const config = parseProxyConfig(['--target', 'localhost:3000'], { env: {}, cwd: tmpdir() });
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(config.inspect).toBe('localhost:9229');
    expect(config.db).toBe('.apptrace/db.json');
    expect(config.urlPatterns).toEqual([]);
    expect(config.traceModules).toEqual([]);
  });

  it('repeats --url-pattern and --trace-module, and takes a --profiler URL', () => {
    const config = parseProxyConfig(
      [
        '--target',
        '3000',
        '--url-pattern',
        '^/a',
        '--url-pattern',
        '^/b',
        '--trace-module',
        'src/**',
        '--profiler',
        'http://127.0.0.1:9300/',
      ],
      { env: {}, cwd: tmpdir() },
    );
    expect(config.target).toEqual({ host: '127.0.0.1', port: 3000 });
    expect(config.urlPatterns).toEqual(['^/a', '^/b']);
    expect(config.traceModules).toEqual(['src/**']);
    expect(config.profiler).toBe('http://127.0.0.1:9300');
  });

  it.each([
    [['--target', 'localhost:3000', '--url-pattern', '(('], '--url-pattern "(("'],
    [['--target', 'localhost:3000', '--bogus'], 'unknown flag --bogus'],
    [['--target', 'localhost:99999'], '--target "localhost:99999"'],
    [['--target', 'https://localhost:3000'], 'only plain http targets'],
    [['--target', 'localhost:3000', '--profiler', 'not a url'], '--profiler "not a url"'],
    [['--target', 'localhost:3000', 'stray'], 'unexpected argument "stray"'],
  ])('rejects %j naming the culprit (BAD_FLAG, exit 2)', (argv, message) => {
    try {
      parseProxyConfig(argv, { env: {}, cwd: tmpdir() });
      expect.unreachable();
    } catch (error) {
      expect(isAppError(error, 'BAD_FLAG')).toBe(true);
      expect((error as Error).message).toContain(message);
    }
  });
});

describe('hop-by-hop headers (RFC 9110 §7.6.1)', () => {
  it('drops them from a response, with the fields Connection names, keeping order and repeats', () => {
    const raw = [
      'Content-Type',
      'text/html',
      'Connection',
      'keep-alive, X-Conn-Only',
      'Keep-Alive',
      'timeout=5',
      'Set-Cookie',
      'a=1',
      'Transfer-Encoding',
      'chunked',
      'X-Conn-Only',
      'v',
      'Set-Cookie',
      'b=2',
      'TE',
      'trailers',
      'Upgrade',
      'h2c',
      'Proxy-Connection',
      'x',
    ];
    const headers = { connection: 'keep-alive, X-Conn-Only' };
    expect(endToEndRawHeaders(raw, headers)).toEqual([
      'Content-Type',
      'text/html',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
    ]);
  });

  it('drops them from a request but keeps what an upgrade asks for, and transfer-encoding', () => {
    const plain: Record<string, string> = {
      host: 'h',
      connection: 'close, x-a',
      'x-a': '1',
      'keep-alive': '5',
      te: 'trailers',
      'transfer-encoding': 'chunked',
      upgrade: 'h2c',
    };
    stripRequestHopByHop(plain, false);
    expect(plain).toEqual({ host: 'h', 'transfer-encoding': 'chunked' });
    const ws: Record<string, string> = {
      host: 'h',
      connection: 'Upgrade',
      upgrade: 'websocket',
      'proxy-connection': 'x',
    };
    stripRequestHopByHop(ws, true);
    expect(ws).toEqual({ host: 'h', connection: 'Upgrade', upgrade: 'websocket' });
  });
});

describe('prefersJson', () => {
  it.each([
    ['application/json', true],
    ['application/json, text/plain, */*', true],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', false],
    ['*/*', false],
    [undefined, false],
    ['text/html;q=0.5, application/json', true],
    ['application/problem+json', true],
  ])('%s → %s', (accept, json) => {
    expect(prefersJson(accept)).toBe(json);
  });
});

describe('createUrlMatcher', () => {
  it('matches every path but /_ah/apptrace* by default', () => {
    const traced = createUrlMatcher([]);
    expect(traced('/')).toBe(true);
    expect(traced('/api/x?y=1')).toBe(true);
    expect(traced('/_ah/apptrace/api/records')).toBe(false);
  });

  it('matches any of the patterns against path and query, never /_ah/apptrace*', () => {
    const traced = createUrlMatcher(['^/api/', 'debug=1']);
    expect(traced('/api/items')).toBe(true);
    expect(traced('/page?debug=1')).toBe(true);
    expect(traced('/page')).toBe(false);
    expect(createUrlMatcher(['apptrace'])('/_ah/apptrace')).toBe(false);
  });
});
