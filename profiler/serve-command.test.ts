import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  FIXTURE_DIR,
  PROFILER_CLI,
  kill,
  killAll,
  runProfiler,
  startProfiler,
  startTarget,
  waitFor,
} from '../test/profiler-processes.js';
import { freePort } from '../test/processes.js';

describe('apptrace-profiler serve: bad input and lifecycle', () => {
  let dir: string;
  const servers: Server[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'apptrace-serve-'));
  });
  afterEach(async () => {
    await killAll();
    for (const server of servers.splice(0)) server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 2 naming an unknown flag or an invalid regex', async () => {
    const unknown = await runProfiler(['serve', '--inspekt', '127.0.0.1:9229']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--inspekt');
    const regex = await runProfiler(['serve', '--url-pattern', '(unclosed', '--db', join(dir, 'db.json')]);
    expect(regex.code).toBe(2);
    expect(regex.stderr).toContain('--url-pattern "(unclosed"');
    expect(regex.stderr).toContain('not a valid regular expression');
  });

  it('prints its flags on --help and exits 0', async () => {
    const help = await runProfiler(['serve', '--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--inspect', '--listen', '--db', '--trace-module', '--url-pattern', '--target', '--root']) {
      expect(help.stdout).toContain(flag);
    }
  });

  it('warns when it listens on a non-loopback address', async () => {
    const profiler = await startProfiler([
      '--listen',
      '0.0.0.0:0',
      '--inspect',
      `127.0.0.1:${await freePort()}`,
      '--db',
      join(dir, 'db.json'),
    ]);
    await waitFor(() => profiler.output.stderr.includes('warning: listening on 0.0.0.0, not loopback'), 'the warning');
    expect(profiler.base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/_ah\/apptrace$/);
  });

  it('refuses a store that is not valid JSON, says so, and leaves its bytes as they were', async () => {
    const db = join(dir, 'db.json');
    const bytes = '{"version":1,"records":[{"index":1,';
    writeFileSync(db, bytes);
    const result = await runProfiler([
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--db',
      db,
      '--inspect',
      `127.0.0.1:${await freePort()}`,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${db} is not an apptrace store`);
    expect(result.stderr).toContain('--db');
    expect(readFileSync(db, 'utf8')).toBe(bytes);
  });

  it('says so when the port is already in use', async () => {
    const busy = createServer();
    servers.push(busy);
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as AddressInfo;
    const result = await runProfiler(['serve', '--listen', `127.0.0.1:${port}`, '--db', join(dir, 'db.json')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`127.0.0.1:${port} is already in use`);
    expect(result.stderr).toContain('--listen');
  });

  it('shows how to start the target when nothing listens on the inspector port', async () => {
    const port = await freePort();
    const profiler = await startProfiler(['--inspect', `127.0.0.1:${port}`, '--db', join(dir, 'db.json')]);
    const status = await waitFor(async () => {
      const s = await profiler.status();
      return s.inspector.state === 'unreachable' ? s : undefined;
    }, 'state unreachable');
    expect(status.inspector.hint).toContain('connection refused');
    expect(status.inspector.hint).toContain(`node --inspect=127.0.0.1:${port}`);
    const snapshot = await profiler.snapshot();
    expect(snapshot.status).toBe(503);
    expect(JSON.stringify(snapshot.body)).toContain('--inspect');
    expect(profiler.output.stdout).toContain(`inspector 127.0.0.1:${port}: unreachable`);
  });

  it('tells a port that answers but is no inspector (the app started without --inspect) apart', async () => {
    const target = await startTarget({ inspectPort: null });
    const profiler = await startProfiler(['--inspect', `127.0.0.1:${target.httpPort}`, '--db', join(dir, 'db.json')]);
    const status = await waitFor(async () => {
      const s = await profiler.status();
      return s.inspector.state === 'unreachable' ? s : undefined;
    }, 'state unreachable');
    expect(status.inspector.hint).toContain('answers but is not a V8 inspector');
    expect(status.inspector.hint).toContain(`node --inspect=127.0.0.1:${target.httpPort}`);
  });

  it("as the proxy's child: reports its URL over IPC and exits when the channel closes", async () => {
    const child = fork(
      PROFILER_CLI,
      ['serve', '--listen', '127.0.0.1:0', '--inspect', `127.0.0.1:${await freePort()}`, '--db', join(dir, 'db.json')],
      {
        cwd: FIXTURE_DIR,
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      },
    );
    try {
      const message = await new Promise<{ type: string; url: string }>((resolve, reject) => {
        child.once('message', (m) => resolve(m as { type: string; url: string }));
        child.once('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      expect(message.type).toBe('listening');
      expect(message.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const status = await fetch(`${message.url}/_ah/apptrace/api/status`);
      expect(status.status).toBe(200);
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.disconnect();
      expect(await exited).toBe(0);
    } finally {
      await kill(child);
    }
  });

  it('stops cleanly on SIGTERM', async () => {
    const profiler = await startProfiler(['--inspect', `127.0.0.1:${await freePort()}`, '--db', join(dir, 'db.json')]);
    profiler.child.kill('SIGTERM');
    expect(await profiler.exited).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'db.json'), 'utf8'))).toEqual({ version: 1, records: [] });
  });
});
