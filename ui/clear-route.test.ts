import { describe, expect, it } from 'vitest';
import type { HeapRecord } from '../contract/record.js';
import { createApp } from './app.js';
import { MemoryDeps } from '../test/memory-deps.js';
import { sampleRecords } from '../test/sample-records.js';

const base = 'http://localhost/_ah/apptrace';

function depsWith(count: number): MemoryDeps {
  const deps = new MemoryDeps();
  for (const record of sampleRecords({ count })) deps.add(record);
  return deps;
}

function post(
  app: ReturnType<typeof createApp>,
  body: string | undefined,
  type = 'application/json',
): Promise<Response> {
  return Promise.resolve(
    app.request(`${base}/api/clear`, {
      method: 'POST',
      headers: body === undefined ? {} : { 'Content-Type': type },
      ...(body === undefined ? {} : { body }),
    }),
  );
}

describe('POST /api/clear', () => {
  it('refuses a POST without a JSON body (the guard: 415) and keeps the records', async () => {
    const deps = depsWith(3);
    const res = await post(createApp(deps), undefined);
    expect(res.status).toBe(415);
    expect(deps.store).toHaveLength(3);
  });

  it('deletes every record when the body confirms, and says how many', async () => {
    const deps = depsWith(4);
    const app = createApp(deps);
    const res = await post(app, JSON.stringify({ confirm: true }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ cleared: 4 });
    const records = (await (await app.request(`${base}/api/records`)).json()) as HeapRecord[];
    expect(records).toEqual([]);
    expect(deps.status()).toMatchObject({ records: 0, lastIndex: 0 });
  });

  it.each([
    ['an empty object', '{}'],
    ['confirm: "yes"', '{"confirm":"yes"}'],
    ['text that is not JSON', 'confirm=true'],
  ])('refuses %s with 400 and keeps the records', async (_what, body) => {
    const deps = depsWith(3);
    const app = createApp(deps);
    const res = await post(app, body);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain('{"confirm": true}');
    expect(deps.store).toHaveLength(3);
  });

  it('tells open pages through a status event that the store is empty', async () => {
    const deps = depsWith(2);
    const seen: number[] = [];
    deps.subscribe((event) => {
      if (event.type === 'status') seen.push(event.status.lastIndex);
    });
    await post(createApp(deps), JSON.stringify({ confirm: true }));
    expect(seen).toEqual([0]);
  });
});
