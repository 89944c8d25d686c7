/**
 * Signals to the profiler: a real recorder process stands in for the profiler and
 * records what the real apptrace-proxy POSTs to /_ah/apptrace/api/signal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Started, eventually, fixture, killAll, request, startNode, startProxy } from '../test/proxy-support.js';

interface Signal {
  method: string;
  url: string;
  status: number;
  at?: number;
  aborted?: boolean;
}
interface Recorded {
  batches: { at: number; body: { requests: Signal[] } }[];
  held: number;
}

let target: Started;
let recorder: Started;
let proxy: Started;

async function recorded(): Promise<Recorded> {
  return JSON.parse((await request(recorder.port, '/control/signals')).body) as Recorded;
}
async function signals(): Promise<Signal[]> {
  return (await recorded()).batches.flatMap((b) => b.body.requests);
}
/** Waits until a signal for `url` has arrived; signals go out in order, so all earlier ones have too. */
async function waitForSignal(url: string): Promise<Signal[]> {
  return eventually(async () => {
    const all = await signals();
    return all.some((s) => s.url === url) ? all : undefined;
  }, `a signal for ${url}`);
}

beforeAll(async () => {
  [target, recorder] = await Promise.all([
    startNode(fixture('target-server.js'), []),
    startNode(fixture('signal-recorder.js'), []),
  ]);
  proxy = await startProxy([
    '--target',
    `127.0.0.1:${target.port}`,
    '--profiler',
    `http://127.0.0.1:${recorder.port}`,
    '--url-pattern',
    '^/traced',
    '--url-pattern',
    '^/status/4',
  ]);
});
afterAll(killAll);

describe('signals', () => {
  it('are sent for matching URLs only, with method, path + query, status and when they finished', async () => {
    const before = Date.now();
    await request(proxy.port, '/traced/a');
    await request(proxy.port, '/other/page');
    await request(proxy.port, '/traced/b?x=1', { method: 'POST', body: 'data' });
    await request(proxy.port, '/status/404');
    await request(proxy.port, '/status/500');
    await request(proxy.port, '/_ah/apptrace/control/signals');
    await request(proxy.port, '/traced/end-of-test-1');
    const all = await waitForSignal('/traced/end-of-test-1');
    const after = Date.now();
    for (const signal of all) {
      expect(signal.at).toBeGreaterThanOrEqual(before);
      expect(signal.at).toBeLessThanOrEqual(after);
    }
    // Finished one after the other, in this order.
    expect(all.map((s) => s.at)).toEqual(all.map((s) => s.at).sort((a, b) => a! - b!));
    expect(all.map(({ method, url, status }) => ({ method, url, status }))).toEqual([
      { method: 'GET', url: '/traced/a', status: 200 },
      { method: 'POST', url: '/traced/b?x=1', status: 200 },
      { method: 'GET', url: '/status/404', status: 404 },
      { method: 'GET', url: '/traced/end-of-test-1', status: 200 },
    ]);
  });

  it('are sent only once the response has finished', async () => {
    const held = new Promise<string>((resolve, reject) => {
      void import('node:http').then(({ request: httpRequest }) => {
        const req = httpRequest(
          { host: '127.0.0.1', port: proxy.port, path: '/traced/hold?id=h1', agent: false },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', async (text: string) => {
              body += text;
              if (body === 'started\n') {
                // The response has begun but not finished: a later request's signal arrives,
                // this one's must not.
                await request(proxy.port, '/traced/while-held');
                const meanwhile = await waitForSignal('/traced/while-held');
                expect(meanwhile.some((s) => s.url === '/traced/hold?id=h1')).toBe(false);
                await request(target.port, '/release?id=h1');
              }
            });
            res.on('end', () => resolve(body));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end();
      });
    });
    expect(await held).toBe('started\nfinished\n');
    const after = await waitForSignal('/traced/hold?id=h1');
    expect(
      after
        .filter((s) => s.url === '/traced/hold?id=h1')
        .map(({ method, url, status, aborted }) => ({ method, url, status, aborted })),
    ).toEqual([{ method: 'GET', url: '/traced/hold?id=h1', status: 200, aborted: undefined }]);
  });

  it('are sent for a request the client abandons, marked aborted (the target did the work)', async () => {
    await new Promise<void>((resolve, reject) => {
      void import('node:http').then(({ request: httpRequest }) => {
        const req = httpRequest(
          { host: '127.0.0.1', port: proxy.port, path: '/traced/hold?id=h2', agent: false },
          (res) => {
            res.setEncoding('utf8');
            res.once('data', () => {
              // The response has begun; the client goes away before its end.
              req.destroy();
              resolve();
            });
          },
        );
        req.on('error', () => undefined);
        req.end();
      }, reject);
    });
    const all = await waitForSignal('/traced/hold?id=h2');
    expect(
      all.filter((s) => s.url === '/traced/hold?id=h2').map(({ method, url, aborted }) => ({ method, url, aborted })),
    ).toEqual([{ method: 'GET', url: '/traced/hold?id=h2', aborted: true }]);
    await request(target.port, '/release?id=h2');
  });

  it('never make a response wait for a slow profiler; what queued meanwhile goes as one batch', async () => {
    await request(recorder.port, '/control/hang');
    const batchesBefore = (await recorded()).batches.length;
    await request(proxy.port, '/traced/slow-0');
    // The POST for slow-0 is now held unanswered by the recorder.
    await eventually(async () => ((await recorded()).held === 1 ? true : undefined), 'the held signal POST');
    for (let i = 1; i <= 20; i++) {
      const res = await request(proxy.port, `/traced/slow-${i}`);
      expect(res.status).toBe(200);
    }
    const during = await recorded();
    expect(during.held).toBe(1);
    expect(during.batches.length).toBe(batchesBefore + 1);

    await request(recorder.port, '/control/release');
    const batches = await eventually(async () => {
      const r = await recorded();
      return r.batches.length === batchesBefore + 2 ? r.batches : undefined;
    }, 'the coalesced batch');
    expect(batches[batchesBefore]!.body.requests.map((s) => s.url)).toEqual(['/traced/slow-0']);
    expect(batches[batchesBefore + 1]!.body.requests.map((s) => s.url)).toEqual(
      Array.from({ length: 20 }, (_, i) => `/traced/slow-${i + 1}`),
    );
  });
});

describe('signals wait for a quiet moment of the app (a snapshot freezes it)', () => {
  /** When the recorder received the batch that holds `url` (ms since epoch). */
  async function arrivalOf(url: string): Promise<number> {
    return eventually(async () => {
      const batch = (await recorded()).batches.find((b) => b.body.requests.some((s) => s.url === url));
      return batch?.at;
    }, `a signal for ${url}`);
  }

  // Before any page in this file: within 10 s of a page's document, its API calls are
  // taken as part of that page's load.
  it('an API call’s signal goes at once when nothing else is in flight', async () => {
    const ended = Date.now();
    await request(proxy.port, '/traced/api-1', { headers: { 'sec-fetch-dest': 'empty' } });
    expect((await arrivalOf('/traced/api-1')) - ended).toBeLessThan(400);
  });

  it('an open event stream (an HMR channel) is no work in flight: signals do not wait for it', async () => {
    const stream = request(proxy.port, '/sse?id=s1', { headers: { accept: 'text/event-stream' } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const ended = Date.now();
    await request(proxy.port, '/traced/api-sse', { headers: { 'sec-fetch-dest': 'empty' } });
    expect((await arrivalOf('/traced/api-sse')) - ended).toBeLessThan(400);
    // The stream ends after its third event.
    await request(target.port, '/sse-next?id=s1');
    await request(target.port, '/sse-next?id=s1');
    expect((await stream).body).toBe('data: 1\n\ndata: 2\n\ndata: 3\n\n');
  });

  it('after a page’s document, until its scripts and styles have stopped coming for half a second', async () => {
    await request(proxy.port, '/traced/page-1', { headers: { 'sec-fetch-dest': 'document' } });
    // The page's subresources, one after the other with small gaps (not traced themselves).
    let lastEnded = 0;
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      await request(proxy.port, `/static/chunk-${i}.js`, { headers: { 'sec-fetch-dest': 'script' } });
      lastEnded = Date.now();
    }
    const arrived = await arrivalOf('/traced/page-1');
    expect(arrived).toBeGreaterThanOrEqual(lastEnded + 400);
  });

  it('a request that stays open holds signals no longer than 3 s', async () => {
    const holding = request(proxy.port, '/traced/hold?id=q1');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const ended = Date.now();
    await request(proxy.port, '/traced/api-2');
    const waited = (await arrivalOf('/traced/api-2')) - ended;
    expect(waited).toBeGreaterThanOrEqual(2_500);
    expect(waited).toBeLessThan(4_500);
    await request(target.port, '/release?id=q1');
    await holding;
  });
});

describe('signals to a profiler that is down', () => {
  it('leave the traffic alone and are reported once, not per request', async () => {
    const gone = await startNode(fixture('signal-recorder.js'), []);
    gone.child.kill('SIGKILL');
    await gone.exited;
    const lonely = await startProxy([
      '--target',
      `127.0.0.1:${target.port}`,
      '--profiler',
      `http://127.0.0.1:${gone.port}`,
    ]);
    for (let i = 0; i < 30; i++) {
      const res = await request(lonely.port, `/page-${i}`);
      expect(res.status).toBe(200);
    }
    await eventually(
      () => (lonely.stderr().includes('cannot signal the profiler') ? true : undefined),
      'the failure report',
    );
    // Let later failures happen too, then check they were counted, not printed.
    await request(lonely.port, '/last');
    await new Promise((r) => setTimeout(r, 200));
    const lines = lonely
      .stderr()
      .split('\n')
      .filter((l) => l.includes('cannot signal the profiler'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`127.0.0.1:${gone.port}`);
    expect(lines[0]).toContain('ECONNREFUSED');
  });
});

describe('signals to a profiler that closes idle connections', () => {
  it('are sent again on a fresh connection when a kept-alive one was reset, without a report', async () => {
    const resetting = await startNode(fixture('signal-recorder.js'), [], { env: { RESET_REUSED: '1' } });
    const proxy2 = await startProxy([
      '--target',
      `127.0.0.1:${target.port}`,
      '--profiler',
      `http://127.0.0.1:${resetting.port}`,
    ]);
    const received = async (): Promise<string[]> =>
      (JSON.parse((await request(resetting.port, '/control/signals')).body) as Recorded).batches.flatMap((b) =>
        b.body.requests.map((s) => s.url),
      );
    for (const url of ['/first', '/second', '/third']) {
      await request(proxy2.port, url);
      // One at a time, so that each POST goes out on the socket the previous one left.
      await eventually(async () => ((await received()).includes(url) ? true : undefined), `the signal for ${url}`);
    }
    expect(await received()).toEqual(['/first', '/second', '/third']);
    expect(proxy2.stderr()).not.toContain('cannot signal the profiler');
  });
});
