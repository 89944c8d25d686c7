import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, stopAll } from '../test/processes.js';

/**
 * `npm run demo` (dist/demo/run.js) for real: the guestbook with its inspector, the
 * proxy in front, the profiler it starts; the addresses it prints answer; Ctrl-C stops
 * every process it started.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RUN = join(ROOT, 'dist/demo/run.js');

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'apptrace-demo-'));
});
afterAll(async () => {
  await stopAll();
  await rm(dir, { recursive: true, force: true });
});

/** pid → [ppid, state] of every process, from /proc. */
function processTable(): Map<number, { ppid: number; state: string }> {
  const table = new Map<number, { ppid: number; state: string }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(name), { ppid: Number(ppid), state: state! });
    } catch {
      // Exited while we read.
    }
  }
  return table;
}

function descendants(pid: number): number[] {
  const table = processTable();
  const found: number[] = [];
  const walk = (parent: number): void => {
    for (const [child, { ppid }] of table) {
      if (ppid === parent) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return found;
}

/** Still running: present in /proc and not a zombie (a zombie has exited, its parent has not reaped it yet). */
function alive(pids: readonly number[]): number[] {
  const table = processTable();
  return pids.filter((pid) => table.has(pid) && table.get(pid)!.state !== 'Z');
}

async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { server, port: (server.address() as { port: number }).port };
}

describe('npm run demo', () => {
  it('starts the app behind apptrace, prints the two addresses, moves off a busy port, and Ctrl-C leaves nothing behind', async () => {
    const blocker = await holdPort();
    try {
      const demo = startProcess('demo', process.execPath, [RUN, '--db', join(dir, 'db.json')], {
        cwd: ROOT,
        env: { DEMO_PORT: String(blocker.port), DEMO_INSPECT_PORT: '0', DEMO_PROXY_PORT: '0' },
      });
      const [, moved] = await demo.waitFor(
        new RegExp(`port ${blocker.port} \\(the guestbook\\) is busy; using (\\d+) instead`),
      );
      const [, appUrl] = await demo.waitFor(/through apptrace: +(http:\/\/127\.0\.0\.1:\d+)\//, 30_000);
      const [, uiUrl] = await demo.waitFor(/request by request: +(http:\/\/127\.0\.0\.1:\d+\/_ah\/apptrace)\n/);
      expect(demo.output()).toContain('apptrace demo is running.');
      expect(demo.output()).toContain(`(the app itself: http://127.0.0.1:${moved}/`);

      const page = await fetch(`${appUrl}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('apptrace demo guestbook');
      const ui = await fetch(uiUrl!);
      expect(ui.status).toBe(200);
      await ui.body?.cancel();

      // The app, the proxy and the profiler the proxy started.
      const started = descendants(demo.child.pid!);
      expect(started.length).toBeGreaterThanOrEqual(3);
      // Ctrl-C in a terminal reaches run.js alone: its children run in their own process groups.
      demo.child.kill('SIGINT');
      expect(await demo.exited, demo.output()).toBe(0);
      expect(alive(started)).toEqual([]);
    } finally {
      blocker.server.close();
    }
  });

  it('stops the app too when apptrace-proxy refuses its flags, and exits with its status', async () => {
    const demo = startProcess(
      'demo-bad-flag',
      process.execPath,
      [RUN, '--url-pattern', '(unclosed', '--db', join(dir, 'bad.json')],
      {
        cwd: ROOT,
        env: { DEMO_PORT: '0', DEMO_INSPECT_PORT: '0', DEMO_PROXY_PORT: '0' },
      },
    );
    // Every process run.js started, however briefly it lived.
    const seen = new Set<number>();
    const watch = setInterval(() => {
      for (const pid of descendants(demo.child.pid!)) seen.add(pid);
    }, 10);
    try {
      expect(await demo.exited, demo.output()).toBe(2);
    } finally {
      clearInterval(watch);
    }
    expect(demo.output()).toContain('--url-pattern');
    expect(demo.output()).toMatch(/apptrace exited \(code 2\)/);
    expect(seen.size).toBeGreaterThanOrEqual(1);
    expect(alive([...seen])).toEqual([]);
  });
});
