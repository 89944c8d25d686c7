import { describe, expect, it } from 'vitest';
import { BASE_PATH, createApp } from './app.js';
import { MemoryDeps } from '../test/memory-deps.js';
import { sampleRecord, sampleRecords } from '../test/sample-records.js';

const HOSTILE = '<script>alert(1)</script>';

async function get(deps: MemoryDeps, path = BASE_PATH): Promise<{ res: Response; body: string }> {
  const res = await createApp(deps).request(path);
  return { res, body: await res.text() };
}

/** Every <script ...> tag in a page: only our own static files may appear. */
function scriptTags(body: string): string[] {
  return body.match(/<script\b[^>]*>/gi) ?? [];
}

describe('overview page', () => {
  it('renders the status strip, both chart containers and the suspects table, with a CSP', async () => {
    const deps = new MemoryDeps();
    for (const r of sampleRecords({ count: 3 })) deps.add(r);
    const { res, body } = await get(deps);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(body).toContain('id="chart-entries"');
    expect(body).toContain('id="chart-heap"');
    expect(body).toContain('Dominated size by object');
    expect(body).toMatch(/<table id="suspects">/);
    expect(body).toContain('3 records · latest #3');
    expect(body).toContain('inspector connected · 127.0.0.1:9229');
    expect(body).toContain('#3 GET /item/3 → 200');
    // uPlot and our script come from our own routes, in that order.
    expect(scriptTags(body)).toEqual([
      `<script src="${BASE_PATH}/static/uplot.js">`,
      `<script type="module" src="${BASE_PATH}/static/m/ui/client/overview.js">`,
      `<script type="module" src="${BASE_PATH}/static/m/ui/client/heap-points.js">`,
    ]);
    expect(body).toContain(`href="${BASE_PATH}/static/uplot.css"`);
    expect(body).toContain(
      `<link rel="preload" href="${BASE_PATH}/api/records?since=0" as="fetch" crossorigin="anonymous">`,
    );
    // With records, the empty notice is hidden; connected, the inspector notice too.
    expect(body).toMatch(/<section id="empty" class="notice" hidden>/);
    expect(body).toMatch(/<section id="no-inspector" class="notice warn" hidden>/);
  });

  it('before the first record says which URLs are traced and how to make a request', async () => {
    const deps = new MemoryDeps({ urlPatterns: ['^/api/', '^(?!/_ah/apptrace)'] });
    const { body } = await get(deps);
    expect(body).toMatch(/<section id="empty" class="notice">/);
    expect(body).toContain('No records yet');
    expect(body).toContain('<li><code>^/api/</code></li>');
    expect(body).toContain('<li><code>^(?!/_ah/apptrace)</code></li>');
    // `/` matches the second pattern, so the page suggests opening it.
    expect(body).toContain('<a id="empty-example" href="/">/</a>');
    expect(body).toContain('0 records');
  });

  it('without --url-pattern says documents and API calls are traced (not static files, nor its own paths), and suggests `/`', async () => {
    const { body } = await get(new MemoryDeps({ urlPatterns: [] }));
    expect(body).toContain(
      `<li>documents and API calls: not static files, source maps, HMR nor dev-server internals, nor <code>${BASE_PATH}</code>`,
    );
    expect(body).toContain('<a id="empty-example" href="/">/</a>');
  });

  it('when no pattern matches `/`, asks for a URL matching one of them instead', async () => {
    const deps = new MemoryDeps({ urlPatterns: ['^/api/'] });
    const { body } = await get(deps);
    expect(body).not.toContain('id="empty-example"');
    expect(body).toContain('request a URL of your app that matches a pattern above');
  });

  it("without an inspector shows the profiler's hint", async () => {
    const hint = 'start the target with node --inspect=127.0.0.1:9333 server.js';
    const deps = new MemoryDeps({ inspector: { address: '127.0.0.1:9333', state: 'unreachable', hint } });
    const { body } = await get(deps);
    expect(body).toMatch(/<section id="no-inspector" class="notice warn">/);
    expect(body).toContain(`<p id="ni-hint" class="hint">${hint}</p>`);
    expect(body).toContain('inspector unreachable · 127.0.0.1:9333');
    expect(body).toContain('class="pill state-unreachable"');
  });

  it('without an inspector and without a hint says how to start the target with node --inspect', async () => {
    const deps = new MemoryDeps({ inspector: { address: '127.0.0.1:9229', state: 'disconnected', hint: null } });
    const { body } = await get(deps);
    expect(body).toContain('node --inspect=127.0.0.1:9229 server.js');
  });

  it('shows a running snapshot with its progress, pending signals and the last error', async () => {
    const deps = new MemoryDeps({
      snapshot: { running: true, progress: { done: 250, total: 1000 }, pendingSignals: 2 },
      lastError: { at: '2026-11-25T10:00:00.000Z', message: 'snapshot cut off: target exited' },
    });
    const { body } = await get(deps);
    expect(body).toContain('snapshot 25% · 2 pending');
    const streaming = await get(
      new MemoryDeps({ snapshot: { running: true, progress: { done: 3 * 1024 * 1024, total: 0 }, pendingSignals: 0 } }),
    );
    expect(streaming.body).toContain('snapshot: 3.00 MB streamed');
    expect(body).toContain('last error: snapshot cut off: target exited');
  });

  it('says when the next snapshot comes and what it will cost, or that one was skipped', async () => {
    const nextAt = new Date(Date.now() + 11_500).toISOString();
    const waiting = await get(
      new MemoryDeps({
        snapshot: {
          running: false,
          progress: null,
          pendingSignals: 4,
          nextAt,
          estimatedPauseMs: 3_000,
          maxPauseShare: 0.1,
        },
      }),
    );
    expect(waiting.body).toMatch(/<span id="st-next"[^>]*>next snapshot in 1[12] s, ~3 s pause<\/span>/);
    const skipped = await get(
      new MemoryDeps({
        snapshot: {
          running: false,
          progress: null,
          pendingSignals: 1,
          skipped: { at: nextAt, message: 'skipped a snapshot to spare the target' },
        },
      }),
    );
    expect(skipped.body).toContain('snapshot skipped: not enough free memory');
    const idle = await get(
      new MemoryDeps({ snapshot: { running: false, progress: null, pendingSignals: 0, lastPauseMs: 850 } }),
    );
    expect(idle.body).toContain('snapshots: ~850 ms pause');
    // Older profilers send none of it: the pill stays empty (hidden by CSS).
    expect((await get(new MemoryDeps())).body).toMatch(/<span id="st-next"[^>]*><\/span>/);
  });

  it('escapes hostile URLs, patterns, hints and errors: no script but ours', async () => {
    const deps = new MemoryDeps({
      urlPatterns: [HOSTILE],
      traceModules: ['"><img src=x onerror=alert(2)>'],
      db: HOSTILE,
      inspector: { address: '127.0.0.1:9229', state: 'unreachable', hint: `node --inspect ${HOSTILE}` },
      lastError: { at: 'now', message: `<img src=x onerror="alert(3)">` },
    });
    deps.add(sampleRecord(1, { url: () => `/?q=${HOSTILE}` }));
    const { body } = await get(deps);
    expect(scriptTags(body)).toHaveLength(3);
    expect(body).not.toContain('<img');
    expect(body).not.toContain(HOSTILE);
    expect(body).toContain('#1 GET /?q=&lt;script&gt;alert(1)&lt;/script&gt; → 200');
    expect(body).toContain('&lt;img src=x onerror=&quot;alert(3)&quot;&gt;');
  });

  it('names a baseline record as such, not as a manual snapshot', async () => {
    const deps = new MemoryDeps();
    deps.add({ ...sampleRecord(1), baseline: true, request: null, requests: 0 });
    const { body } = await get(deps);
    expect(body).toContain('#1 baseline (first snapshot after attaching)');
  });

  it('answers the overview with a trailing slash too', async () => {
    const res = await createApp(new MemoryDeps()).request(`${BASE_PATH}/`);
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe(BASE_PATH);
  });
});
