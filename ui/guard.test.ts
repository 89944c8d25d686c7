/**
 * The guard of the UI and API (ui/guard.ts), route by route through `app.request()`; the
 * same rules through the real processes and a real browser are in e2e/security.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { HeapRecord } from '../contract/record.js';
import { createApp } from './app.js';
import { MemoryDeps } from '../test/memory-deps.js';

const base = 'http://127.0.0.1:9300/_ah/apptrace';
const TOKEN = 'guard-test-token-0123456789abcdef';

function record(index: number): HeapRecord {
  return {
    index,
    at: new Date(Date.UTC(2026, 10, 25, 10, 0, index)).toISOString(),
    requests: 1,
    request: { method: 'GET', url: '/', status: 200 },
    heap: { total_size: 1000 + index, node_count: 10, edge_count: 20 },
    timings: { capture_ms: 1, analysis_ms: 1 },
    entries: [
      { obj_type: 'Array', name: 'log', dominated_size: 100 * index, filename: 'a.js', lineno: 1, module_name: 'a.js' },
    ],
  };
}

function setup(allowedHosts: string[] = []) {
  const deps = new MemoryDeps();
  deps.store.push(record(1), record(2));
  let snapshots = 0;
  deps.snapshotNow = async () => {
    snapshots++;
    return record(3);
  };
  const app = createApp(deps, { allowedHosts, profilerToken: TOKEN });
  return { deps, app, snapshots: () => snapshots };
}

const GET_ROUTES = [
  '',
  '/api/records',
  '/api/suspects',
  '/api/status',
  '/api/records.csv',
  '/code?module=a.js&name=log',
  '/static/overview.js',
];

describe('Host allowlist', () => {
  for (const host of [
    'evil.example:8080',
    'evil.example',
    '127.0.0.1.evil.example',
    'localhost.evil.example',
    '10.0.0.1:9300',
  ]) {
    it(`answers 403 naming --allowed-host for Host ${host}, on every route`, async () => {
      const { app, snapshots } = setup();
      for (const path of GET_ROUTES) {
        const res = await app.request(`${base}${path}`, { headers: { host } });
        expect(res.status, path).toBe(403);
        const body = (await res.json()) as { error: string; code: string };
        expect(body.code).toBe('FORBIDDEN_HOST');
        expect(body.error).toContain('--allowed-host');
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin');
      }
      const post = await app.request(`${base}/api/snapshot`, {
        method: 'POST',
        headers: { host, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(post.status).toBe(403);
      expect(snapshots()).toBe(0);
    });
  }

  for (const host of [
    'localhost:8080',
    '127.0.0.1:9300',
    '127.1.2.3',
    '[::1]:8080',
    'app.localhost:8080',
    'LOCALHOST.:80',
  ]) {
    it(`answers Host ${host}`, async () => {
      const res = await setup().app.request(`${base}/api/records`, { headers: { host } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as HeapRecord[]).length).toBe(2);
    });
  }

  it('answers the names given with --allowed-host (any port), and only those', async () => {
    const { app } = setup(['profiler', 'apptrace.test']);
    expect((await app.request(`${base}/api/status`, { headers: { host: 'profiler:9300' } })).status).toBe(200);
    expect((await app.request(`${base}/api/status`, { headers: { host: 'apptrace.test' } })).status).toBe(200);
    expect((await app.request(`${base}/api/status`, { headers: { host: 'proxy:8080' } })).status).toBe(403);
  });
});

describe('no cross-site writes', () => {
  it('takes a same-origin JSON POST', async () => {
    const { app, snapshots } = setup();
    const res = await app.request(`${base}/api/snapshot`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://127.0.0.1:9300', 'sec-fetch-site': 'same-origin' },
      body: '{}',
    });
    expect(res.status).toBe(201);
    expect(snapshots()).toBe(1);
  });

  for (const type of [
    undefined,
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/jsonx',
  ]) {
    it(`refuses a POST with Content-Type ${type ?? '(none)'} (415)`, async () => {
      const { app, snapshots } = setup();
      const res = await app.request(`${base}/api/snapshot`, {
        method: 'POST',
        headers: type ? { 'content-type': type } : {},
        body: '{}',
      });
      expect(res.status).toBe(415);
      expect(((await res.json()) as { error: string }).error).toContain('application/json');
      expect(snapshots()).toBe(0);
    });
  }

  it('takes its own origin however the Host spells it (case, default port)', async () => {
    const { app, snapshots } = setup();
    const res = await app.request('http://LOCALHOST:80/_ah/apptrace/api/snapshot', {
      method: 'POST',
      headers: { host: 'LOCALHOST:80', 'content-type': 'application/json', origin: 'http://localhost' },
      body: '{}',
    });
    expect(res.status).toBe(201);
    expect(snapshots()).toBe(1);
  });

  for (const origin of [
    'http://evil.example',
    'http://127.0.0.2:9300',
    'http://127.0.0.1:8081',
    'https://127.0.0.1:9300',
    'null',
  ]) {
    it(`refuses a JSON POST from Origin ${origin}`, async () => {
      const { app, snapshots } = setup();
      const res = await app.request(`${base}/api/snapshot`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin },
        body: '{}',
      });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { code: string }).code).toBe('CROSS_ORIGIN');
      expect(snapshots()).toBe(0);
    });
  }

  it('refuses Sec-Fetch-Site: cross-site for writes and reads, but lets a link open the page', async () => {
    const { app, snapshots } = setup();
    const post = await app.request(`${base}/api/snapshot`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' },
      body: '{}',
    });
    expect(post.status).toBe(403);
    expect(snapshots()).toBe(0);
    const read = await app.request(`${base}/api/records`, {
      headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' },
    });
    expect(read.status).toBe(403);
    const page = await app.request(base, {
      headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' },
    });
    expect(page.status).toBe(200);
    const framed = await app.request(base, {
      headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe' },
    });
    expect(framed.status).toBe(403);
  });

  it('never grants a CORS preflight', async () => {
    const res = await setup().app.request(`${base}/api/snapshot`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://evil.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(res.status).toBe(403);
    expect([...res.headers.keys()].filter((name) => name.startsWith('access-control-'))).toEqual([]);
  });
});

describe('the signal route takes only the proxy', () => {
  const body = JSON.stringify({ requests: [{ method: 'GET', url: '/forged', status: 200 }] });
  for (const [what, token] of [
    ['without a token', undefined],
    ['with a wrong token', 'guard-test-token-0123456789abcdeX'],
    ['with a prefix of the token', TOKEN.slice(0, 10)],
  ] as const) {
    it(`refuses a signal ${what}`, async () => {
      const { app, deps } = setup();
      const res = await app.request(`${base}/api/signal`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { 'x-apptrace-token': token } : {}) },
        body,
      });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: string }).error).toContain('--profiler-token');
      expect(deps.signals).toEqual([]);
    });
  }

  it('refuses every signal when the profiler was given no token', async () => {
    const deps = new MemoryDeps();
    const res = await createApp(deps).request(`${base}/api/signal`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-apptrace-token': '' },
      body,
    });
    expect(res.status).toBe(403);
    expect(deps.signals).toEqual([]);
  });

  it('takes the signal with the token', async () => {
    const { app, deps } = setup();
    const res = await app.request(`${base}/api/signal`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-apptrace-token': TOKEN },
      body,
    });
    expect(res.status).toBe(202);
    expect(deps.signals).toEqual([[{ method: 'GET', url: '/forged', status: 200 }]]);
  });
});

describe('headers on every answer', () => {
  it('sends nosniff and CORP same-origin, and no Access-Control-Allow-*, on every route and status', async () => {
    const { app } = setup();
    const answers = [
      ...GET_ROUTES.map((path) => app.request(`${base}${path}`)),
      app.request(`${base}/`),
      app.request(`${base}/api/records?since=x`),
      app.request(`${base}/api/records/1/snapshot`),
      app.request(`${base}/nope`),
      app.request(`${base}/api/snapshot`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      }),
    ];
    const statuses = new Set<number>();
    for (const res of await Promise.all(answers)) {
      statuses.add(res.status);
      expect(res.headers.get('x-content-type-options'), res.url).toBe('nosniff');
      expect(res.headers.get('cross-origin-resource-policy'), res.url).toBe('same-origin');
      expect([...res.headers.keys()].filter((name) => name.startsWith('access-control-allow-'))).toEqual([]);
    }
    // Successes, a redirect, client errors: not only the happy path.
    expect([...statuses].sort()).toEqual(expect.arrayContaining([200, 201, 301, 400, 404]));
  });
});

describe('downloads are offered as secrets', () => {
  it('says beside the kept snapshots and on the CSV link that they hold the app’s secrets', async () => {
    const page = await (await setup().app.request(base)).text();
    expect(page).toMatch(
      /<p id="kept-secret"[^>]*>A snapshot is your app's whole heap: its session tokens, passwords and keys too\./,
    );
    expect(page).toMatch(/<a id="download-csv"[^>]*title="[^"]*share it like a secret\."/);
  });
});
