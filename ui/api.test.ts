import { describe, expect, it } from 'vitest';
import { AppError } from '../contract/errors.js';
import type { HeapRecord, Suspect } from '../contract/record.js';
import { createApp } from './app.js';
import type { AppDeps } from '../contract/app-deps.js';
import { MemoryDeps } from '../test/memory-deps.js';

function record(index: number, leakSize: number, options: Partial<HeapRecord> = {}): HeapRecord {
  return {
    index,
    at: new Date(Date.UTC(2026, 10, 25, 10, 0, index)).toISOString(),
    requests: 1,
    request: { method: 'GET', url: `/r${index}`, status: 200 },
    baseline: index === 1,
    session: 's',
    heap: { total_size: 1_000_000, node_count: 100, edge_count: 300 },
    timings: { capture_ms: 10, analysis_ms: 5 },
    entries: [
      {
        obj_type: 'Array',
        name: 'messages',
        dominated_size: leakSize,
        filename: 'app.mjs',
        lineno: 4,
        module_name: 'app.mjs',
      },
      {
        obj_type: 'Object',
        name: 'config',
        dominated_size: 800,
        filename: 'app.mjs',
        lineno: 2,
        module_name: 'app.mjs',
      },
    ],
    ...options,
  };
}

function depsWith(count: number): MemoryDeps {
  const deps = new MemoryDeps();
  for (let i = 1; i <= count; i++) deps.add(record(i, 1_000 + 4_000 * i));
  return deps;
}

const base = 'http://localhost/_ah/apptrace';

describe('GET /api/records', () => {
  it('answers the records after `since`, all of them without it', async () => {
    const app = createApp(depsWith(5));
    const all = (await (await app.request(`${base}/api/records`)).json()) as HeapRecord[];
    expect(all.map((r) => r.index)).toEqual([1, 2, 3, 4, 5]);
    const after3 = (await (await app.request(`${base}/api/records?since=3`)).json()) as HeapRecord[];
    expect(after3.map((r) => r.index)).toEqual([4, 5]);
  });

  it('says what is wrong with a bad `since`', async () => {
    const res = await createApp(depsWith(1)).request(`${base}/api/records?since=abc`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain('since');
  });
});

describe('GET /api/suspects', () => {
  it('ranks the growing entry first with its history, baseline left out', async () => {
    const res = await createApp(depsWith(6)).request(`${base}/api/suspects`);
    const suspects = (await res.json()) as Suspect[];
    expect(suspects[0]).toMatchObject({ name: 'messages', verdict: 'growing', growth_per_request: 4_000 });
    expect(suspects[0]!.history.map((h) => h.index)).toEqual([2, 3, 4, 5, 6]);
    expect(suspects.find((s) => s.name === 'config')?.verdict).toBe('flat');
  });

  it('keeps only the last N history points of each suspect with history=N', async () => {
    const app = createApp(depsWith(80));
    const whole = (await (await app.request(`${base}/api/suspects`)).json()) as Suspect[];
    // Records 2 to 80: the baseline is left out.
    expect(whole[0]!.history).toHaveLength(79);
    const res = await app.request(`${base}/api/suspects?history=60`);
    expect(res.status).toBe(200);
    const trimmed = (await res.json()) as Suspect[];
    expect(trimmed.map((s) => s.name)).toEqual(whole.map((s) => s.name));
    for (const [i, suspect] of trimmed.entries()) {
      expect(suspect.history).toEqual(whole[i]!.history.slice(-60));
      // Only the history is cut: the ranking's figures still cover the whole window.
      expect({ ...suspect, history: [] }).toEqual({ ...whole[i]!, history: [] });
    }
    expect(trimmed[0]!.history.map((h) => h.index)).toEqual(Array.from({ length: 60 }, (_, k) => 21 + k));
    // More than there is: everything.
    const more = (await (await app.request(`${base}/api/suspects?history=500`)).json()) as Suspect[];
    expect(more[0]!.history).toHaveLength(79);
  });

  it('says what is wrong with a bad `history`', async () => {
    for (const bad of ['abc', '0', '-3', '2.5']) {
      const res = await createApp(depsWith(3)).request(`${base}/api/suspects?history=${bad}`);
      expect(res.status, bad).toBe(400);
      expect(((await res.json()) as { error: string }).error).toContain('history');
    }
  });
});

describe('GET /api/status', () => {
  it('answers the profiler status', async () => {
    const deps = depsWith(2);
    deps.setStatus({
      inspector: { address: '127.0.0.1:9229', state: 'unreachable', hint: 'start the target with node --inspect' },
    });
    const status = (await (await createApp(deps).request(`${base}/api/status`)).json()) as ReturnType<
      AppDeps['status']
    >;
    expect(status.inspector.state).toBe('unreachable');
    expect(status.inspector.hint).toContain('--inspect');
    expect(status.lastIndex).toBe(2);
  });
});

/** The proxy's token in these tests (the guard refuses signals without it; ui/guard.test.ts). */
const TOKEN = 'test-token-of-the-proxy-0123456789';
/** A state-changing request must be JSON (ui/guard.test.ts). */
const JSON_HEADERS = { 'content-type': 'application/json' };

describe('POST /api/signal', () => {
  it('passes the requests on and answers 202', async () => {
    const deps = depsWith(0);
    const res = await createApp(deps, { profilerToken: TOKEN }).request(`${base}/api/signal`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-apptrace-token': TOKEN },
      body: JSON.stringify({
        requests: [
          { method: 'GET', url: '/a', status: 200 },
          { method: 'POST', url: '/b', status: 201 },
        ],
      }),
    });
    expect(res.status).toBe(202);
    expect(deps.signals).toEqual([
      [
        { method: 'GET', url: '/a', status: 200 },
        { method: 'POST', url: '/b', status: 201 },
      ],
    ]);
  });

  for (const [what, body] of [
    ['not JSON', 'nope'],
    ['no requests list', '{"request":{}}'],
    ['a request without a status', '{"requests":[{"method":"GET","url":"/"}]}'],
  ] as const) {
    it(`answers 400 for ${what} and signals nothing`, async () => {
      const deps = depsWith(0);
      const res = await createApp(deps, { profilerToken: TOKEN }).request(`${base}/api/signal`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-apptrace-token': TOKEN },
        body,
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/request|JSON/);
      expect(deps.signals).toEqual([]);
    });
  }
});

describe('POST /api/snapshot', () => {
  it('answers 201 with the new record', async () => {
    const res = await createApp(depsWith(2)).request(`${base}/api/snapshot`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: '{}',
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as HeapRecord).index).toBe(3);
  });

  it('answers 503 with the reason when there is no inspector', async () => {
    const deps = depsWith(0);
    deps.snapshotNow = () =>
      Promise.reject(new AppError('NO_INSPECTOR', 'not connected; start the target with node --inspect'));
    const res = await createApp(deps).request(`${base}/api/snapshot`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: '{}',
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      error: 'not connected; start the target with node --inspect',
      code: 'NO_INSPECTOR',
    });
  });
});

describe('GET /events', () => {
  /** Reads the stream until `until` holds for the text so far. */
  async function readUntil(res: Response, until: (text: string) => boolean): Promise<string> {
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!until(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    await reader.cancel();
    return text;
  }

  it('sends the status at once, then a record event per new record', async () => {
    const deps = depsWith(1);
    const controller = new AbortController();
    const res = await createApp(deps).request(`${base}/events`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    setTimeout(() => deps.add(record(2, 9_000)), 20);
    const text = await readUntil(res, (t) => t.includes('event: record'));
    controller.abort();
    expect(text.startsWith('event: status\n')).toBe(true);
    const recordEvent = text.slice(text.indexOf('event: record'));
    expect(recordEvent).toContain('id: 2');
    const data = JSON.parse(/data: (.*)/.exec(recordEvent)![1]!) as HeapRecord;
    expect(data.index).toBe(2);
    expect(data.entries[0]!.dominated_size).toBe(9_000);
  });

  it('replays the records after Last-Event-ID', async () => {
    const deps = depsWith(4);
    const controller = new AbortController();
    const res = await createApp(deps).request(`${base}/events`, {
      signal: controller.signal,
      headers: { 'Last-Event-ID': '2' },
    });
    const text = await readUntil(res, (t) => t.includes('id: 4'));
    controller.abort();
    expect([...text.matchAll(/^id: (\d+)$/gm)].map((m) => m[1])).toEqual(['3', '4']);
  });
});
