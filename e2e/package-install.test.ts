import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeapRecord } from '../contract/record.js';
import { eventually, freePort, waitForHttp } from '../test/processes.js';
import { projectRoot } from './stack.js';

/**
 * apptrace as a user installs it: `npm pack` on a copy of the repository as a fresh clone
 * holds it (no dist/; `prepare` builds it), the tarball installed into a scratch app with
 * the README's own "Install" commands, and the README's commands for a user's app run
 * as written against a tiny real target started with `--inspect`.
 *
 * The commands are read from README.md here, so the README cannot drift from what works.
 * Only port numbers are changed (3000, 8080, 9229 → free ports: other tests run at the
 * same time); a bare `node --inspect` gets its port from NODE_OPTIONS=--inspect-port
 * and the proxy its inspector from APPTRACE_INSPECT, both documented ways.
 */
const ROOT = projectRoot();
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** The command lines of the first ```sh block after the heading `heading`, without comments. */
function readmeCommands(heading: string): string[] {
  const at = README.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`README.md has no heading ${JSON.stringify(heading)}`);
  const block = /```sh\n([\s\S]*?)```/.exec(README.slice(at));
  if (!block) throw new Error(`no sh block under ${heading}`);
  return block[1]!
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** A small leaky app in the user's place: one entry per request in `requestLog`, never trimmed. */
const SERVER_JS = `'use strict';
const http = require('node:http');
const requestLog = [];
const server = http.createServer((req, res) => {
  requestLog.push({ url: req.url, at: Date.now(), cells: new Array(64).fill(requestLog.length) });
  req.resume();
  req.on('end', () => res.end('ok ' + requestLog.length + '\\n'));
});
server.listen(Number(process.env.PORT || 3000), () => console.log('listening on ' + server.address().port));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => server.close(() => process.exit(0)));
`;

let dir = '';
let app = '';
let tarball = '';
let packed: { filename: string; files: { path: string }[] } | undefined;
let installed: ReturnType<typeof run> | undefined;
const groups = new Set<ChildProcess>();

/** Runs one README line in a shell, as a user types it, in the scratch app. */
function run(line: string, env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('sh', ['-c', line], {
    cwd: app,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 180_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Starts one README line in the background in its own process group, as a terminal does;
 * `stopGroup` then sends the group SIGINT like Ctrl-C (npx does not pass SIGTERM on).
 */
function startLine(line: string, env: NodeJS.ProcessEnv = {}): { child: ChildProcess; output: () => string } {
  const child = spawn('sh', ['-c', line.replace(/\s*&$/, '')], {
    cwd: app,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  groups.add(child);
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString('utf8')));
  return { child, output: () => text };
}

async function stopGroup(child: ChildProcess): Promise<void> {
  groups.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // Already gone.
    }
  };
  kill('SIGINT');
  const timer = setTimeout(() => kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
  // The group's other members (node under sh, the profiler) may outlive the shell briefly.
  await new Promise((resolve) => setTimeout(resolve, 200));
  kill('SIGKILL');
}

function withPorts(line: string, ports: Record<string, number>): string {
  return line.replace(/\b(3000|8080|9229)\b/g, (port) => String(ports[port] ?? port));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'apptrace-package-'));
  // A fresh clone: the files git tracks or would track, no dist/, the dependencies linked.
  const source = join(dir, 'source');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((f) => f !== '' && existsSync(join(ROOT, f)));
  for (const file of files) {
    mkdirSync(dirname(join(source, file)), { recursive: true });
    copyFileSync(join(ROOT, file), join(source, file));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'));
  expect(existsSync(join(source, 'dist'))).toBe(false);
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
    cwd: source,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  packed = (JSON.parse(out) as { filename: string; files: { path: string }[] }[])[0]!;
  tarball = join(dir, packed.filename);

  app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'scratch-app', version: '1.0.0', private: true }, null, 2),
  );
  writeFileSync(join(app, 'server.js'), SERVER_JS);
  // The README's install line, as written (the other cases use what it installs).
  const fromTarball = readmeCommands('## Install').find((l) => l.endsWith('.tgz'));
  if (fromTarball === undefined) throw new Error("README.md's Install section has no `npm install … .tgz` line");
  copyFileSync(tarball, join(app, fromTarball.split(' ').at(-1)!));
  installed = run(`${fromTarball} --no-audit --no-fund --prefer-offline`);
}, 300_000);

afterAll(async () => {
  await Promise.all([...groups].map(stopGroup));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('packs from a fresh clone into fewer than 250 files: the compiled commands and the UI, no tests, sources, bench or e2e', () => {
    const paths = packed!.files.map((f) => f.path);
    expect(paths.length).toBeGreaterThan(20);
    expect(paths.length).toBeLessThan(250);
    expect(paths).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'README.md',
        'package.json',
        'dist/proxy/cli.js',
        'dist/profiler/cli.js',
        'dist/contract/record.js',
        'dist/browser/ui/client/overview.js',
        'ui/client/style.css',
      ]),
    );
    const unwanted = paths.filter(
      (p) =>
        /\.test\.|test-|\.ts$|\.map$|fixtures\//.test(p) ||
        /^(dist\/)?(bench|e2e|demo|test|\.ci)\//.test(p) ||
        /Dockerfile|tsconfig|vitest/.test(p),
    );
    expect(unwanted).toEqual([]);
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/MIT License[\s\S]*2026 apptrace contributors/);
  }, 180_000);

  it("installs with the README's Install commands; both bins answer --version and --help", () => {
    const lines = readmeCommands('## Install');
    // The README names the tarball npm pack makes for this version; beforeAll ran that line.
    expect(lines.find((l) => l.endsWith('.tgz'))).toBe(`npm install --save-dev ./${packed!.filename}`);
    expect(packed!.filename).toBe(`apptrace-${VERSION}.tgz`);
    expect(installed!.status, installed!.stderr).toBe(0);
    expect(existsSync(join(app, 'node_modules', '.bin', 'apptrace-proxy'))).toBe(true);

    const npxLines = lines.filter((l) => l.startsWith('npx '));
    expect(npxLines).toEqual([
      'npx apptrace-proxy --version',
      'npx apptrace-proxy --help',
      'npx apptrace-profiler --help',
    ]);
    const version = run(npxLines[0]!);
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(`apptrace-proxy ${VERSION}`);
    const proxyHelp = run(npxLines[1]!);
    expect(proxyHelp.status).toBe(0);
    expect(proxyHelp.stdout).toMatch(/apptrace-proxy check/);
    const profilerHelp = run(npxLines[2]!);
    expect(profilerHelp.status).toBe(0);
    expect(profilerHelp.stdout).toMatch(/apptrace-profiler analyze FILE/);
    const profilerVersion = run('npx apptrace-profiler --version');
    expect(profilerVersion.stdout.trim()).toBe(`apptrace-profiler ${VERSION}`);
  }, 180_000);

  it("installs from a git URL with the README's second line: npm builds it, the bins work", () => {
    const line = readmeCommands('## Install').find((l) => l.includes('git+file://'));
    expect(line).toBe('npm install --save-dev git+file:///path/to/apptrace');
    // The fresh copy as a git repository (what a clone is), without dist/ (ignored).
    const source = join(dir, 'source');
    const git = (...args: string[]) => execFileSync('git', args, { cwd: source, stdio: 'ignore' });
    git('init', '-q');
    // Not the node_modules link made for npm pack (a symlink is not the ignored folder).
    git('add', '-A', '--', '.', ':!node_modules');
    git('-c', 'user.name=test', '-c', 'user.email=test@example.invalid', 'commit', '-q', '-m', 'fresh clone');
    const gitApp = join(dir, 'git-app');
    mkdirSync(gitApp);
    writeFileSync(
      join(gitApp, 'package.json'),
      JSON.stringify({ name: 'git-app', version: '1.0.0', private: true }, null, 2),
    );
    const result = spawnSync(
      'sh',
      ['-c', `${line!.replace('/path/to/apptrace', source)} --no-audit --no-fund --prefer-offline`],
      {
        cwd: gitApp,
        // @memlab/heap-analysis, a devDependency npm installs to build, must not fetch a browser.
        env: { ...process.env, PUPPETEER_SKIP_DOWNLOAD: '1' },
        encoding: 'utf8',
        timeout: 300_000,
      },
    );
    expect(result.status, result.stderr).toBe(0);
    const version = spawnSync('sh', ['-c', 'npx apptrace-proxy --version && npx apptrace-profiler --version'], {
      cwd: gitApp,
      encoding: 'utf8',
    });
    expect(version.stdout).toBe(`apptrace-proxy ${VERSION}\napptrace-profiler ${VERSION}\n`);
    expect(existsSync(join(gitApp, 'node_modules', 'apptrace', 'dist', 'proxy', 'cli.js'))).toBe(true);
    expect(existsSync(join(gitApp, 'node_modules', 'apptrace', 'profiler'))).toBe(false);
  }, 320_000);

  it("runs the README's 'In front of your own app' commands: records of the app's leak appear", async () => {
    const [startApp, startProxy, ...rest] = readmeCommands('## In front of your own app');
    expect(rest).toEqual([]);
    expect(startApp).toBe('node --inspect server.js');
    expect(startProxy).toMatch(/^npx apptrace-proxy --target localhost:3000 --listen 8080$/);
    const ports = { '3000': await freePort(), '8080': await freePort(), '9229': await freePort() };
    const target = startLine(withPorts(startApp!, ports), {
      PORT: String(ports['3000']),
      NODE_OPTIONS: `--inspect-port=127.0.0.1:${ports['9229']}`,
    });
    await eventually(
      () => (/listening on \d+/.test(target.output()) ? true : undefined),
      () => `the app to start:\n${target.output()}`,
    );
    const proxy = startLine(withPorts(startProxy!, ports), { APPTRACE_INSPECT: `127.0.0.1:${ports['9229']}` });
    const base = `http://127.0.0.1:${ports['8080']}`;
    try {
      await waitForHttp(`${base}/_ah/apptrace/api/status`, {
        timeoutMs: 30_000,
        ready: (res) => res.status === 200,
      }).catch((error: Error) => {
        throw new Error(`${error.message}\n${proxy.output()}`);
      });
      // One request at a time: requests that come faster than snapshots share a record.
      let records: HeapRecord[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${base}/page-${i}`);
        expect(await res.text()).toMatch(/^ok \d+/);
        records = await eventually(
          async () => {
            const list = (await (await fetch(`${base}/_ah/apptrace/api/records`)).json()) as HeapRecord[];
            return list.length > i ? list : undefined;
          },
          () => `record ${i + 1}:\n${proxy.output()}`,
          30_000,
        );
      }
      const sizes = records.map(
        (r) => r.entries.find((e) => e.name === 'requestLog' && e.module_name === 'server.js')?.dominated_size ?? 0,
      );
      expect(sizes.every((s) => s > 0)).toBe(true);
      expect(sizes.at(-1)!).toBeGreaterThan(sizes[0]!);
      const page = await fetch(`${base}/_ah/apptrace`);
      expect(page.status).toBe(200);
      expect(await (await fetch(`${base}/_ah/apptrace/static/overview.js`)).text()).toMatch(/\S/);
      expect(proxy.output()).not.toMatch(/DeprecationWarning/);
    } finally {
      await stopGroup(proxy.child);
      await stopGroup(target.child);
    }
  }, 180_000);

  it("runs the README's check command as written: exit 1 naming the app's leak", async () => {
    const [startApp, check] = readmeCommands('### A leak gate in CI: `apptrace-proxy check`');
    expect(startApp).toBe('node --inspect=127.0.0.1:9229 server.js &');
    const ports = { '3000': await freePort(), '9229': await freePort() };
    const target = startLine(withPorts(startApp!, ports), { PORT: String(ports['3000']) });
    try {
      await eventually(
        () => (/listening on \d+/.test(target.output()) ? true : undefined),
        () => `the app to start:\n${target.output()}`,
      );
      // The check's inspector defaults to 127.0.0.1:9229, here the free port standing in for it.
      const result = run(withPorts(check!, ports), { APPTRACE_INSPECT: `127.0.0.1:${ports['9229']}` });
      expect(result.status, result.stderr).toBe(1);
      expect(result.stdout + result.stderr).toMatch(/requestLog/);
      expect(result.stderr).not.toMatch(/DeprecationWarning/);
    } finally {
      await stopGroup(target.child);
    }
  }, 240_000);

  it("runs the README's analyze command on a saved snapshot", () => {
    const [line] = readmeCommands('### Analyse a saved snapshot');
    // The optional flags are shown in brackets; the command itself runs as written.
    const command = line!.replace(/\s*\[[^\]]*\]/g, '');
    expect(command).toBe('npx apptrace-profiler analyze app.heapsnapshot');
    const written = run(`node -e "require('v8').writeHeapSnapshot('app.heapsnapshot')"`);
    expect(written.status, written.stderr).toBe(0);
    const result = run(command);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/node/i);
    const json = run(`${command} --json`);
    expect(json.status).toBe(0);
    expect((JSON.parse(json.stdout) as { node_count: number }).node_count).toBeGreaterThan(1000);
  }, 180_000);
});
