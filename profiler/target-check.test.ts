import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openBrowser } from '../e2e/browser.js';
import { FIXTURE_DIR, kill, killAll, startProfiler, startTarget, waitFor } from '../test/profiler-processes.js';

/**
 * Attaching to the right process (profiler/cdp/target-check.ts) and the --trace-module
 * warning (trace-module-check.ts), with real processes: the fixture app, a second Node
 * process that holds the inspector port, the compiled profiler, and headless Chromium.
 */

interface Spawned {
  child: ChildProcess;
  stdout: string;
  stderr: string;
}

const spawned = new Set<ChildProcess>();

function run(args: string[], env: Record<string, string> = {}): Spawned {
  const child = spawn(process.execPath, args, {
    cwd: FIXTURE_DIR,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.add(child);
  const out: Spawned = { child, stdout: '', stderr: '' };
  child.stdout!.on('data', (d: Buffer) => (out.stdout += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (out.stderr += d.toString('utf8')));
  return out;
}

/** Another Node process with its inspector on `port` (0: a free one); resolves with the port. */
async function otherProcess(port: number): Promise<{ proc: Spawned; port: number }> {
  const proc = run([`--inspect=127.0.0.1:${port}`, '-e', 'setInterval(() => {}, 1000)']);
  const m = await waitFor(
    () => /Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(proc.stderr) ?? undefined,
    'the other process',
  );
  return { proc, port: Number(m[1]) };
}

/** The fixture app asking for the inspector on `inspectPort` (taken: it runs without one) and HTTP on `httpPort`. */
async function appWithoutInspector(inspectPort: number, httpPort = 0): Promise<{ proc: Spawned; port: number }> {
  const proc = run([`--inspect=127.0.0.1:${inspectPort}`, 'server.mjs'], { PORT: String(httpPort) });
  const m = await waitFor(() => /listening on (\d+)/.exec(proc.stdout) ?? undefined, 'the app');
  // What the user sees in their app's terminal, and easily misses.
  expect(proc.stderr).toMatch(/address already in use/);
  return { proc, port: Number(m[1]) };
}

async function connected(profiler: Awaited<ReturnType<typeof startProfiler>>): Promise<void> {
  await waitFor(async () => (await profiler.status()).inspector.state === 'connected', 'the profiler to attach');
}

describe('the inspected process must be the one serving --target', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'apptrace-target-check-'));
  });
  afterEach(async () => {
    await killAll();
    await Promise.all([...spawned].map((child) => kill(child)));
    spawned.clear();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a second Node process on the inspector port is refused (terminal, status, page); the app is attached once it has the port, and refused again after a restart', async () => {
    const other = await otherProcess(0);
    const app = await appWithoutInspector(other.port);
    const profiler = await startProfiler([
      '--inspect',
      `127.0.0.1:${other.port}`,
      '--target',
      `127.0.0.1:${app.port}`,
      '--db',
      join(dir, 'db.json'),
    ]);

    const refused = await waitFor(async () => {
      const status = await profiler.status();
      return status.inspector.state === 'unreachable' && status.inspector.hint?.includes('is not your app')
        ? status
        : undefined;
    }, 'the other process to be refused');
    expect(refused.inspector.hint).toContain(`pid ${other.proc.child.pid}`);
    expect(refused.inspector.hint).toContain(`served by pid ${app.proc.child.pid}`);
    expect(profiler.output.stdout).toMatch(/unreachable — the process behind the inspector .* is not your app/);
    const page = await (await fetch(profiler.base)).text();
    expect(page).toContain('is not your app');
    // Nothing is recorded from the wrong process.
    expect((await profiler.snapshot()).status).not.toBe(201);
    expect(await profiler.records()).toEqual([]);

    // The other process goes away and the app restarts with the inspector on that port.
    await kill(other.proc.child);
    await kill(app.proc.child);
    const restarted = await startTarget({ inspectPort: other.port, env: { PORT: String(app.port) } });
    expect(restarted.httpPort).toBe(app.port);
    const attached = await waitFor(async () => {
      const status = await profiler.status();
      return status.inspector.state === 'connected' ? status : undefined;
    }, 'the app to be attached');
    expect(attached.warnings ?? []).toEqual([]);
    expect((await profiler.snapshot()).status).toBe(201);
    const recorded = (await profiler.records()).length;
    expect(recorded).toBeGreaterThan(0);

    // Restarted again, the app loses the port to another process: refused again.
    await kill(restarted.child);
    const intruder = await otherProcess(other.port);
    const again = await appWithoutInspector(other.port, app.port);
    const refusedAgain = await waitFor(async () => {
      const status = await profiler.status();
      return status.inspector.state === 'unreachable' &&
        status.inspector.hint?.includes(`pid ${intruder.proc.child.pid}`)
        ? status
        : undefined;
    }, 'the new process on the inspector port to be refused');
    expect(refusedAgain.inspector.hint).toContain(`served by pid ${again.proc.child.pid}`);
    // Nothing of the intruder was recorded, not even a baseline.
    expect((await profiler.records()).length).toBe(recorded);
  }, 180_000);

  it('attaches without a warning when the inspected process serves the target', async () => {
    const target = await startTarget();
    const profiler = await startProfiler([
      '--inspect',
      `127.0.0.1:${target.inspectPort}`,
      '--target',
      `127.0.0.1:${target.httpPort}`,
      '--db',
      join(dir, 'db.json'),
    ]);
    const status = await waitFor(async () => {
      const s = await profiler.status();
      return s.inspector.state === 'connected' ? s : undefined;
    }, 'connected');
    expect(status.warnings ?? []).toEqual([]);
    expect((await profiler.snapshot()).status).toBe(201);
  });

  it('warns, and goes on, when it cannot verify (nothing here serves the --target port)', async () => {
    const target = await startTarget();
    const nobody = 1 + target.httpPort === target.inspectPort ? target.httpPort + 2 : target.httpPort + 1;
    const profiler = await startProfiler([
      '--inspect',
      `127.0.0.1:${target.inspectPort}`,
      '--target',
      `127.0.0.1:${nobody}`,
      '--db',
      join(dir, 'db.json'),
    ]);
    const status = await waitFor(async () => {
      const s = await profiler.status();
      return s.inspector.state === 'connected' && (s.warnings ?? []).length > 0 ? s : undefined;
    }, 'the warning');
    expect(status.warnings).toEqual([
      { code: 'TARGET_UNVERIFIED', message: expect.stringContaining(`serves 127.0.0.1:${nobody}`) },
    ]);
    expect(status.warnings![0]!.message).toContain(`listens on ${target.httpPort}`);
    await waitFor(() => profiler.output.stdout.includes('warning: cannot verify'), 'the warning in the terminal');
    expect((await profiler.snapshot()).status).toBe(201);
  });
});

describe('a --trace-module that matches none of the loaded scripts', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'apptrace-trace-module-'));
  });
  afterEach(async () => {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is a warning in the terminal, /api/status and the page, naming scripts to choose from; the empty suspects say so', async () => {
    const target = await startTarget();
    const profiler = await startProfiler([
      '--inspect',
      `127.0.0.1:${target.inspectPort}`,
      '--target',
      `127.0.0.1:${target.httpPort}`,
      '--trace-module',
      'src/**',
      '--db',
      join(dir, 'db.json'),
    ]);
    await connected(profiler);
    for (let i = 0; i < 3; i++) expect((await profiler.snapshot()).status).toBe(201);
    const records = await profiler.records();
    expect(records.every((r) => r.entries.length === 0)).toBe(true);
    const status = await profiler.status();
    const warning = (status.warnings ?? []).find((w) => w.code === 'TRACE_MODULE_UNMATCHED');
    expect(warning?.message).toContain('--trace-module "src/**" matches none of the');
    // The fixture's own scripts, named as a pattern would name them.
    expect(warning?.message).toMatch(/server\.mjs/);
    expect(warning?.message).toMatch(/store\.cjs/);
    expect(warning?.message).not.toMatch(/node_modules|node:internal/);
    await waitFor(
      () => profiler.output.stdout.includes('warning: --trace-module "src/**" matches none'),
      'the terminal warning',
    );

    const html = await (await fetch(profiler.base)).text();
    expect(html).toContain('--trace-module &quot;src/**&quot; matches none');
    expect(html).not.toContain('Suspects appear after a few records.');

    const browser = await openBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(profiler.base);
      await page.waitForFunction(() => document.getElementById('st-live')?.textContent !== 'connecting…');
      expect(await page.isVisible('#warnings')).toBe(true);
      expect(await page.textContent('#warnings-list')).toContain('matches none of the');
      expect(await page.textContent('#suspects-empty')).toContain(
        '--trace-module matches none of the scripts the app has loaded',
      );
      // A live status event keeps it (the client renders the same words).
      expect((await profiler.snapshot()).status).toBe(201);
      const count = (await profiler.records()).length;
      await page.waitForFunction(
        (n) => (document.getElementById('st-records')?.textContent ?? '').startsWith(`${n} records`),
        count,
      );
      expect(await page.isVisible('#warnings')).toBe(true);
      expect(await page.textContent('#suspects-empty')).toContain('--trace-module matches none');
      expect(browser.problems).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 180_000);

  it('says nothing when the pattern matches', async () => {
    const target = await startTarget();
    const profiler = await startProfiler([
      '--inspect',
      `127.0.0.1:${target.inspectPort}`,
      '--trace-module',
      'store.cjs',
      '--db',
      join(dir, 'db.json'),
    ]);
    await connected(profiler);
    expect((await profiler.snapshot()).status).toBe(201);
    expect((await profiler.records())[0]!.entries.length).toBeGreaterThan(0);
    expect((await profiler.status()).warnings ?? []).toEqual([]);
  });
});
