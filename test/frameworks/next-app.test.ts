/**
 * The Next.js fixture (issue 10 point 3, first step): the real `next dev` from npm
 * (Turbopack, its default) started with `NODE_OPTIONS=--inspect=127.0.0.1:P`. The `next`
 * CLI takes port P; the router server that runs the route handlers is a child process and
 * listens on P+1, so that is the inspector apptrace must attach to. The route handler is
 * compiled into a Turbopack chunk whose module factory holds the module scope, with a
 * source map beside it that leads back to app/api/items/route.js.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startProcess, waitForHttp, type RunningProcess } from '../processes.js';
import { ensureInstalled } from './ensure-installed.js';

let dir: string;
let server: RunningProcess | undefined;
let port: number;
let inspectPort: number;

beforeAll(async () => {
  dir = await ensureInstalled('next-app');
  // A chunk left by an earlier run must not stand in for this one's.
  rmSync(join(dir, '.next'), { recursive: true, force: true });
  port = await freePort();
  inspectPort = await freePort();
  server = startProcess(
    'next dev',
    process.execPath,
    [join(dir, 'node_modules/next/dist/bin/next'), 'dev', '-p', String(port), '-H', '127.0.0.1'],
    {
      cwd: dir,
      env: { NODE_OPTIONS: `--inspect=127.0.0.1:${inspectPort}`, NEXT_TELEMETRY_DISABLED: '1' },
    },
  );
  await server.waitFor(/Ready in/, 60_000);
}, 300_000);

afterAll(async () => {
  await server?.stop();
});

interface InspectorTarget {
  url: string;
}

describe('Next.js dev fixture (Turbopack)', () => {
  it('grows a module-level array per request, served by the process inspected on P+1', {
    timeout: 120_000,
  }, async () => {
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await waitForHttp(`http://127.0.0.1:${port}/api/items`, { timeoutMs: 60_000 });
      counts.push(((await res.json()) as { count: number }).count);
    }
    expect(counts).toEqual([1, 2, 3]);
    const targets = (await (await fetch(`http://127.0.0.1:${inspectPort + 1}/json/list`)).json()) as InspectorTarget[];
    expect(targets.map((t) => t.url).join(' ')).toMatch(/next\/dist\/server\/lib\/start-server\.js/);
    expect(server!.output()).toContain(`Debugger port: ${inspectPort + 1}`);
  });

  it('compiles the route into a Turbopack chunk: a module factory named [project]/app/api/items/route.js, with a map', () => {
    const chunks = join(dir, '.next/dev/server/chunks');
    const name = readdirSync(chunks).find(
      (file) => file.endsWith('.js') && readFileSync(join(chunks, file), 'utf8').includes('const visits = []'),
    );
    expect(name).toBeDefined();
    const text = readFileSync(join(chunks, name!), 'utf8');
    expect(
      text.startsWith(
        'module.exports=["[project]/app/api/items/route.js [app-route] (ecmascript)",((__turbopack_context__) =>',
      ),
    ).toBe(true);
    const map = JSON.parse(readFileSync(join(chunks, `${name!}.map`), 'utf8')) as {
      sections?: { map: { sources: string[] } }[];
      sources?: string[];
    };
    // An index map: one section per module, each naming its original file by a file:// URL
    // (not `turbopack:///[project]/…`, checked on next 16.5.0).
    const sources = [...(map.sources ?? []), ...(map.sections ?? []).flatMap((section) => section.map.sources)];
    expect(sources).toContain(pathToFileURL(join(dir, 'app/api/items/route.js')).href);
  });
});
