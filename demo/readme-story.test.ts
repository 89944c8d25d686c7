import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startProcess, stopAll } from '../test/processes.js';
import type { Suspect } from '../contract/record.js';

/**
 * The README's demo paragraph, done as it says with a client that keeps its cookie like a
 * browser: reload a few times, sign a few times, stop and reload. Each object the README
 * names must read the verdict it gives (demo/leak.test.ts covers cookieless clients).
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const SIGNATURES = 8;

let dir = '';
let base = '';
let suspects: Suspect[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'apptrace-demo-story-'));
  const demo = startProcess('demo', process.execPath, [join(ROOT, 'dist/demo/run.js'), '--db', join(dir, 'db.json')], {
    cwd: ROOT,
    env: { DEMO_PORT: '0', DEMO_INSPECT_PORT: '0', DEMO_PROXY_PORT: '0' },
  });
  [, base] = (await demo.waitFor(/through apptrace: +(http:\/\/127\.0\.0\.1:\d+)\//, 30_000)) as [string, string];
  let cookie = '';
  let requests = 0;
  const covered = async () =>
    ((await (await fetch(`${base}/_ah/apptrace/api/records`)).json()) as { requests: number }[]).reduce(
      (n, r) => n + r.requests,
      0,
    );
  // One request at a time, each waiting for its record, as a person clicking would.
  const send = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${base}${path}`, {
      ...init,
      redirect: 'manual',
      headers: { ...(cookie ? { cookie } : {}), ...(init.headers ?? {}) },
    });
    const set = res.headers.get('set-cookie');
    if (set) cookie = set.split(';')[0]!;
    await res.text();
    requests++;
    await eventually(
      async () => ((await covered()) >= requests ? true : undefined),
      `the record of request ${requests}\n${demo.output()}`,
    );
  };
  for (let i = 0; i < 4; i++) await send('/');
  for (let i = 1; i <= SIGNATURES; i++) {
    await send('/sign', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ name: 'Ann', message: `hello from the README, visit ${i}` }).toString(),
    });
    await send('/');
  }
  for (let i = 0; i < 8; i++) await send('/');
  suspects = (await (await fetch(`${base}/_ah/apptrace/api/suspects`)).json()) as Suspect[];
}, 180_000);

afterAll(async () => {
  await stopAll();
  await rm(dir, { recursive: true, force: true });
});

function verdict(name: string): string | undefined {
  return suspects.find((s) => s.name === name)?.verdict;
}

describe('the demo, as the README tells it', () => {
  it('the README says what each object reads', () => {
    const demo = README.slice(README.indexOf('## The demo'), README.indexOf('## ', README.indexOf('## The demo') + 3));
    expect(demo).toMatch(/`requestLog`[^\n]*\n[^\n]*\*growing\*/);
    expect(demo).toMatch(/`guestbook`[\s\S]*?reads \*plateaued\* once you stop/);
    expect(demo).toMatch(/`visitors`[\s\S]*?stays \*flat\*/);
    expect(demo).toMatch(/The rest[\s\S]*?stays \*flat\*/);
  });

  it('requestLog grows, guestbook plateaued after the signing stopped, visitors and the rest flat', () => {
    const table = suspects.map((s) => `${s.name} ${s.verdict} ${s.history.map((h) => h.size).join(' ')}`).join('\n');
    expect(suspects[0]?.name, table).toBe('requestLog');
    expect(verdict('requestLog'), table).toBe('growing');
    expect(verdict('guestbook'), table).toBe('plateaued');
    expect(verdict('visitors'), table).toBe('flat');
    const others = suspects.filter((s) => !['requestLog', 'guestbook'].includes(s.name));
    expect(
      others.filter((s) => s.verdict !== 'flat').map((s) => s.name),
      table,
    ).toEqual([]);
  });
});
