import { request } from 'node:http';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, CHROMIUM_PATH, openBrowser } from './browser.js';
import { startProcess, stopAll } from '../test/processes.js';
import { projectRoot, startStack, type Stack } from './stack.js';

/**
 * Issue #11 through the real processes: the compiled apptrace-proxy with its profiler
 * sidecar in front of a real `node --inspect` target, a real lowdb file, and headless
 * Chromium playing the attacker: a page of another origin (127.0.0.2) and a page on a
 * rebound name (evil.example resolved to 127.0.0.1, DNS rebinding). Nothing they try may
 * read records, code, snapshot or CSV, nor take a snapshot or signal the profiler.
 */

const APP = fileURLToPath(new URL('./fixtures/leak-app.cjs', import.meta.url));

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with exactly the Host (and other headers) given, as a rebound page or curl would send. */
function raw(
  base: string,
  path: string,
  options: { host?: string; method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hostname,
        port,
        path,
        method: options.method ?? 'GET',
        headers: { ...(options.host ? { host: options.host } : {}), ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Every kind of apptrace answer: pages, JSON, the event stream's neighbours, downloads, code. */
const ROUTES = [
  '/_ah/apptrace',
  '/_ah/apptrace/api/records',
  '/_ah/apptrace/api/suspects',
  '/_ah/apptrace/api/status',
  '/_ah/apptrace/api/records.csv',
  '/_ah/apptrace/api/records/1/snapshot',
  '/_ah/apptrace/code?module=leak-app.cjs&name=requestLog',
  '/_ah/apptrace/static/overview.js',
];

describe('no web page can read or drive apptrace (real proxy, profiler, Chromium)', () => {
  let dir: string;
  let stack: Stack;
  let profilerUrl: string;
  let attacker: Server;
  let attackerUrl: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'apptrace-security-'));
    stack = await startStack({
      app: APP,
      db: join(dir, 'db.json'),
      proxyArgs: ['--keep-snapshots', '3', '--url-pattern', '^/traced'],
    });
    const [, url] = await stack.proxy.waitFor(/profiler\s+(http:\/\/127\.0\.0\.1:\d+) \(sidecar/);
    profilerUrl = url!;
    // The baseline snapshot (taken on attaching) is record 1, with its raw snapshot kept.
    await stack.waitForRecords(1);
    // The attacker's site: another origin on this machine.
    attacker = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end('<!doctype html><title>attacker</title><p>hello</p>');
    });
    await new Promise<void>((done) => attacker.listen(0, '127.0.0.2', done));
    attackerUrl = `http://127.0.0.2:${(attacker.address() as { port: number }).port}/`;
  }, 90_000);

  afterAll(async () => {
    await new Promise<void>((done) => (attacker ? attacker.close(() => done()) : done()));
    await stack?.stop();
    await stopAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers a foreign Host with 403 naming --allowed-host, on the proxy and on the profiler, on every route', async () => {
    for (const base of [stack.proxyUrl, profilerUrl]) {
      for (const path of ROUTES) {
        for (const host of ['evil.example:8080', `evil.example:${new URL(base).port}`, '192.168.1.20']) {
          const res = await raw(base, path, { host });
          expect(res.status, `${base}${path} as ${host}`).toBe(403);
          expect(res.body).toContain('--allowed-host');
          expect(res.body).not.toContain('requestLog');
          expect(res.headers['x-content-type-options']).toBe('nosniff');
          expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
        }
      }
      const post = await raw(base, '/_ah/apptrace/api/snapshot', {
        host: 'evil.example',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(post.status).toBe(403);
    }
    // A WebSocket upgrade under a foreign name is refused too (the proxy forwards upgrades to /_ah/apptrace).
    const upgrade = await raw(stack.proxyUrl, '/_ah/apptrace/events', {
      host: 'evil.example',
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    });
    expect(upgrade.status).toBe(403);
    expect((await stack.status()).records).toBe(1);
  });

  it('refuses a second apptrace-proxy on the same store (two started in one folder), naming the store and the holder; the first goes on', async () => {
    const [, holder] = await stack.proxy.waitFor(/\(sidecar, pid (\d+)\)/);
    const before = await stack.status();
    const second = startProcess('second apptrace-proxy', process.execPath, [
      join(projectRoot(), 'dist', 'proxy', 'cli.js'),
      '--target',
      `127.0.0.1:${stack.appPort}`,
      '--listen',
      '127.0.0.1:0',
      '--inspect',
      `127.0.0.1:${stack.inspectPort}`,
      '--db',
      join(dir, 'db.json'),
    ]);
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain(
      `the record store ${join(dir, 'db.json')} is in use by another apptrace profiler (pid ${holder}`,
    );
    const after = await stack.status();
    expect(after.inspector.state).toBe('connected');
    expect(after.records).toBe(before.records);
    expect((await fetch(`${stack.proxyUrl}/_ah/apptrace/api/records`)).status).toBe(200);
  }, 60_000);

  it('answers localhost, 127.0.0.1, [::1] and *.localhost on both ports, and leaves the app’s own traffic alone', async () => {
    for (const base of [stack.proxyUrl, profilerUrl]) {
      const port = new URL(base).port;
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `app.localhost:${port}`]) {
        const res = await raw(base, '/_ah/apptrace/api/records', { host });
        expect(res.status, `${base} as ${host}`).toBe(200);
        expect((JSON.parse(res.body) as unknown[]).length).toBeGreaterThanOrEqual(1);
      }
    }
    // The dev server decides about its own Host names, not apptrace.
    const app = await raw(stack.proxyUrl, '/', { host: 'evil.example:3000' });
    expect(app.status).toBe(200);
    expect(app.body).toContain('leak app');
  });

  it('sends nosniff and CORP same-origin on every apptrace answer, and never a CORS grant', async () => {
    for (const base of [stack.proxyUrl, profilerUrl]) {
      for (const path of [
        ...ROUTES,
        '/_ah/apptrace/nope',
        '/_ah/apptrace/api/records?since=x',
        '/_ah/apptrace/api/records/99/snapshot',
      ]) {
        const res = await raw(base, path, { headers: { origin: 'http://evil.example' } });
        expect(res.status, path).toBeLessThan(500);
        expect(res.headers['x-content-type-options'], `${base}${path}`).toBe('nosniff');
        expect(res.headers['cross-origin-resource-policy'], `${base}${path}`).toBe('same-origin');
        expect(
          Object.keys(res.headers).filter((name) => name.startsWith('access-control-')),
          path,
        ).toEqual([]);
      }
    }
  });

  it('refuses forged signals (no token, wrong token, not JSON) on the profiler and through the proxy', async () => {
    const before = await stack.status();
    const body = JSON.stringify({
      requests: Array.from({ length: 50 }, () => ({ method: 'GET', url: '/forged', status: 200 })),
    });
    for (const base of [profilerUrl, stack.proxyUrl]) {
      const attempts: Record<string, string>[] = [
        { 'content-type': 'application/json' },
        { 'content-type': 'application/json', 'x-apptrace-token': 'a-guess-of-the-token-0123456789abcdef' },
        { 'content-type': 'text/plain' },
      ];
      for (const headers of attempts) {
        const res = await raw(base, '/_ah/apptrace/api/signal', { method: 'POST', headers, body });
        expect([403, 415], `${base} ${JSON.stringify(headers)}: ${res.body}`).toContain(res.status);
      }
    }
    await new Promise((done) => setTimeout(done, 300));
    const after = await stack.status();
    expect(after.snapshot.pendingSignals).toBe(0);
    expect(after.records).toBe(before.records);
    // The proxy's own signals still work: a traced request through it is recorded.
    expect((await fetch(`${stack.proxyUrl}/traced/1`)).status).toBe(200);
    const record = await stack.waitForRecordOf('/traced/1', before.lastIndex);
    expect(record.requests).toBe(1);
  }, 60_000);

  it('a page of another origin in Chromium can read nothing and trigger nothing', async () => {
    const before = await stack.status();
    const browser = await openBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(attackerUrl);
      const outcome = await page.evaluate(async (target) => {
        const tries: Record<string, string> = {};
        const attempt = async (name: string, run: () => Promise<string>) => {
          try {
            tries[name] = await run();
          } catch (error) {
            tries[name] = `blocked: ${(error as Error).name}`;
          }
        };
        for (const path of [
          '/api/records',
          '/api/records.csv',
          '/api/records/1/snapshot',
          '/code?module=leak-app.cjs&name=requestLog',
          '/api/status',
        ]) {
          await attempt(`read ${path}`, async () => `read ${(await (await fetch(target + path)).text()).length} bytes`);
          await attempt(`no-cors ${path}`, async () => {
            const res = await fetch(target + path, { mode: 'no-cors' });
            return `${res.type} ${(await res.text()).length} bytes`;
          });
        }
        for (const path of ['/api/snapshot', '/api/signal']) {
          const body = JSON.stringify({ requests: [{ method: 'GET', url: '/forged', status: 200 }] });
          await attempt(`text/plain POST ${path}`, async () => {
            const res = await fetch(target + path, {
              method: 'POST',
              mode: 'no-cors',
              headers: { 'content-type': 'text/plain' },
              body,
            });
            return `${res.type} ${res.status}`;
          });
          await attempt(`JSON POST ${path}`, async () => {
            const res = await fetch(target + path, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body,
            });
            return `${res.status} ${await res.text()}`;
          });
          // A form posted into a hidden frame: a navigation, not a fetch.
          await new Promise<void>((done) => {
            const frame = document.createElement('iframe');
            frame.name = `f${path.length}`;
            document.body.append(frame);
            const form = document.createElement('form');
            form.method = 'POST';
            form.enctype = 'text/plain';
            form.action = target + path;
            form.target = frame.name;
            const input = document.createElement('input');
            input.name = body.slice(0, -2);
            input.value = '"}';
            form.append(input);
            document.body.append(form);
            frame.addEventListener('load', () => done(), { once: true });
            setTimeout(done, 3000);
            form.submit();
          });
        }
        await attempt(
          'event stream',
          () =>
            new Promise<string>((resolveEvents) => {
              const events = new EventSource(target + '/events');
              events.onmessage = () => resolveEvents('read an event');
              events.addEventListener('status', () => resolveEvents('read a status event'));
              events.onerror = () => {
                events.close();
                resolveEvents('blocked: error');
              };
            }),
        );
        return tries;
      }, `${stack.proxyUrl}/_ah/apptrace`);
      for (const [name, result] of Object.entries(outcome)) {
        if (name.startsWith('no-cors')) expect(result, name).toMatch(/^(opaque 0 bytes|blocked)/);
        else if (name.startsWith('text/plain POST')) expect(result, name).toMatch(/^(opaque 0|blocked)/);
        else expect(result, name).toMatch(/^blocked/);
      }
      expect(Object.keys(outcome).length).toBe(15);
    } finally {
      await browser.close();
    }
    // Nothing was triggered: no snapshot, no signal, no record.
    await new Promise((done) => setTimeout(done, 500));
    const after = await stack.status();
    expect(after.records).toBe(before.records);
    expect(after.snapshot.pendingSignals).toBe(0);
    expect(after.snapshot.running).toBe(false);
  }, 60_000);

  it('a page on a rebound name (DNS rebinding) gets 403 for everything; the user’s own page still works', async () => {
    const before = await stack.status();
    const port = new URL(stack.proxyUrl).port;
    const browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP evil.example 127.0.0.1'],
    });
    try {
      const page = await browser.newPage();
      // The end state of a rebinding attack: a page whose origin is evil.example:PORT while
      // the name resolves to 127.0.0.1, so that its requests are same-origin to it and reach
      // the proxy. (Which document it is does not matter: the app's own page, here.)
      await page.goto(`http://evil.example:${port}/`);
      expect(await page.title()).toBe('leak app');
      const outcome = await page.evaluate(async () => {
        const out: Record<string, string> = {};
        for (const path of [
          '/api/records',
          '/api/records.csv',
          '/api/records/1/snapshot',
          '/code?module=leak-app.cjs&name=requestLog',
        ]) {
          const res = await fetch('/_ah/apptrace' + path);
          out[path] = `${res.status} ${(await res.text()).slice(0, 1000)}`;
        }
        const post = await fetch('/_ah/apptrace/api/snapshot', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        });
        out['POST /api/snapshot'] = `${post.status} ${await post.text()}`;
        return out;
      });
      for (const [path, result] of Object.entries(outcome)) {
        expect(result, path).toMatch(/^403 /);
        expect(result, path).toContain('--allowed-host');
      }

      // The real UI, same origin: "Snapshot now" (a JSON POST) still records.
      const own = await browser.newPage();
      await own.goto(`${stack.proxyUrl}/_ah/apptrace`);
      await own.click('#snapshot-now');
      await own.waitForFunction(
        (index) => document.getElementById('st-latest')?.textContent === `#${index} manual snapshot`,
        before.lastIndex + 1,
        {
          timeout: 30_000,
        },
      );
    } finally {
      await browser.close();
    }
    expect((await stack.status()).records).toBe(before.records + 1);
  }, 60_000);
});
