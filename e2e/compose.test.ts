import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../demo/ports.js';
import { Supervisor } from '../demo/supervisor.js';
import type { HeapRecord } from '../contract/record.js';
import type { ProfilerStatus } from '../contract/app-deps.js';
import { openBrowser } from './browser.js';
import {
  allContainerPorts,
  imageRuntime,
  loadComposeConfig,
  localTopology,
  type LocalService,
} from './compose-topology.js';
import { checkOnce, composeStop, composeUp, type UpEvent, type UpService } from './compose-up.js';
import { eventually } from '../test/processes.js';

/**
 * The topology of docker-compose.yml — demo app, profiler, proxy — run as three local
 * processes with the commands, flags and environment compose gives each service (read
 * from `docker-compose config`, see compose-topology.ts). The profiler reaches the app's
 * inspector by a host name (`localhost`, standing for the service name `app`), as it
 * must inside compose, where the inspector refuses Host headers that are not IPs.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

let supervisor: Supervisor | undefined;
let dataDir = '';
let services: LocalService[] = [];
let up = new Map<string, UpService>();
const events: UpEvent[] = [];
const ports = new Map<number, number>();
let proxyUrl = '';

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(`${proxyUrl}${path}`, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

async function healthyAgain(local: LocalService): Promise<void> {
  await eventually(
    async () => ((await checkOnce(local.healthcheck!, local.spec.env, local.spec.cwd)) ? true : undefined),
    `${local.name} healthy`,
    30_000,
  );
}

function outputs(): string {
  return (supervisor?.services ?? []).map((s) => `--- ${s.name} (pid ${s.pid}) ---\n${s.output()}`).join('\n');
}

beforeAll(async () => {
  const config = loadComposeConfig(join(ROOT, 'docker-compose.yml'));
  for (const port of allContainerPorts(config)) {
    let local = await freePort();
    while ([...ports.values()].includes(local)) local = await freePort();
    ports.set(port, local);
  }
  dataDir = await mkdtemp(join(tmpdir(), 'apptrace-compose-'));
  const mounts = new Map<string, string>();
  for (const service of Object.values(config.services)) {
    for (const volume of service.volumes ?? []) {
      const local = join(dataDir, volume.source ?? volume.target.replace(/\W+/g, '_'));
      await mkdir(local, { recursive: true });
      mounts.set(volume.target, local);
    }
  }
  const bins = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).bin as Record<string, string>;
  services = localTopology(config, { root: ROOT, ports, mounts, bins, image: imageRuntime(join(ROOT, 'Dockerfile')) });
  // The proxy's published port is the address a user opens.
  const published = config.services.proxy!.ports![0]!;
  proxyUrl = `http://127.0.0.1:${ports.get(Number(published.target))}`;
  supervisor = new Supervisor({ stopTimeoutMs: 5000 });
  try {
    up = await composeUp(services, supervisor, { intervalMs: 200, events });
    await Promise.all([...up.values()].map((s) => s.healthy));
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${outputs()}`);
  }
}, 90_000);

afterAll(async () => {
  // `docker compose down` sends SIGTERM.
  await supervisor?.stopAll('SIGTERM');
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('the compose topology as processes', () => {
  it('starts in compose order: the profiler once the app is healthy, the proxy once the profiler is healthy', () => {
    const at = (service: string, what: UpEvent['what']): number =>
      events.find((e) => e.service === service && e.what === what)!.at;
    expect(events.filter((e) => e.what === 'started').map((e) => e.service)).toEqual(['app', 'profiler', 'proxy']);
    expect(at('profiler', 'started')).toBeGreaterThanOrEqual(at('app', 'healthy'));
    expect(at('proxy', 'started')).toBeGreaterThanOrEqual(at('profiler', 'healthy'));
  });

  it('the profiler is attached to the app inspector by host name', async () => {
    const status = await eventually(async () => {
      const s = await getJson<ProfilerStatus>('/_ah/apptrace/api/status');
      return s.inspector.state === 'connected' ? s : undefined;
    }, `the profiler connected to the inspector\n${outputs()}`);
    expect(status.inspector.address).toBe(`localhost:${ports.get(9229)}`);
  });

  it('records appear, through the proxy, for requests made through the proxy', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${proxyUrl}/`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('apptrace demo guestbook');
    }
    for (const name of ['Ada', 'Linus']) {
      const res = await fetch(`${proxyUrl}/sign`, {
        method: 'POST',
        body: new URLSearchParams({ name, message: `hello from ${name}` }),
        redirect: 'manual',
      });
      expect(res.status).toBe(303);
    }
    // Seven matching requests: the records account for all of them (some snapshots may cover several).
    const records = await eventually(
      async () => {
        const list = await getJson<HeapRecord[]>('/_ah/apptrace/api/records');
        return list.reduce((sum, r) => sum + r.requests, 0) >= 7 ? list : undefined;
      },
      `records covering 7 requests\n${outputs()}`,
      45_000,
    );
    expect(records.reduce((sum, r) => sum + r.requests, 0)).toBe(7);
    const last = records.at(-1)!;
    const leak = last.entries.find((e) => e.name === 'requestLog');
    expect(leak).toMatchObject({ obj_type: 'Array' });
    expect(leak!.module_name).toMatch(/analytics\.cjs$/);
  });

  it('serves the UI through the proxy, and it loads in a browser without errors', async () => {
    const res = await fetch(`${proxyUrl}/_ah/apptrace`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const browser = await openBrowser();
    try {
      const page = await browser.newPage();
      const response = await page.goto(`${proxyUrl}/_ah/apptrace`, { waitUntil: 'networkidle' });
      expect(response?.status()).toBe(200);
      expect(await page.content()).toContain('requestLog');
      expect(browser.problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('keeps the records across a restart of the profiler (the volume)', async () => {
    const before = await getJson<HeapRecord[]>('/_ah/apptrace/api/records');
    expect(before.length).toBeGreaterThan(0);
    const profiler = up.get('profiler')!;
    await composeStop(supervisor!, profiler.running);
    const again = supervisor!.start(profiler.local.spec);
    up.set('profiler', { ...profiler, running: again });
    await healthyAgain(profiler.local);
    const after = await getJson<HeapRecord[]>('/_ah/apptrace/api/records');
    expect(after.slice(0, before.length).map((r) => [r.index, r.requests, r.at])).toEqual(
      before.map((r) => [r.index, r.requests, r.at]),
    );
  });

  it('answers a clear 502 naming the target while the app is down, and recovers when it is back', async () => {
    const app = up.get('app')!;
    // Like `docker compose restart app`. The app exits gracefully: Node then waits for
    // the inspector's client to disconnect, and the profiler lets go (NodeRuntime.
    // waitingForDisconnect), so no SIGKILL after compose's 10 s grace period is needed.
    const { killed } = await composeStop(supervisor!, app.running);
    expect(killed).toBe(false);
    const down = await fetch(`${proxyUrl}/`);
    expect(down.status).toBe(502);
    expect(await down.text()).toContain(`localhost:${ports.get(3000)}`);
    const again = supervisor!.start(app.local.spec);
    up.set('app', { ...app, running: again });
    await healthyAgain(app.local);
    const back = await fetch(`${proxyUrl}/`);
    expect(back.status).toBe(200);
  });
});

/** GET or POST with exactly the Host given (as a container on the compose network, or a rebound page, sends it). */
function withHost(
  port: number,
  path: string,
  host: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<number> {
  return new Promise((resolveStatus, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: { host, ...init.headers } },
      (res) => {
        res.resume();
        res.on('end', () => resolveStatus(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('the compose topology is locked (issue #11)', () => {
  it('answers the service names compose gives, refuses other Host names, and refuses signals without the shared token', async () => {
    const proxyPort = Number(new URL(proxyUrl).port);
    const profilerPort = ports.get(9300)!;
    expect(await withHost(profilerPort, '/_ah/apptrace/api/status', 'profiler:9300')).toBe(200);
    expect(await withHost(proxyPort, '/_ah/apptrace/api/status', 'proxy:8080')).toBe(200);
    expect(await withHost(proxyPort, '/_ah/apptrace/api/status', 'localhost:8080')).toBe(200);
    for (const port of [proxyPort, profilerPort]) {
      expect(await withHost(port, '/_ah/apptrace/api/records', 'evil.example:8080')).toBe(403);
      expect(await withHost(port, '/_ah/apptrace/api/records', 'app:3000')).toBe(403);
    }
    // Quiet first: what the earlier tests' requests asked for is recorded.
    const before = await eventually(
      async () => {
        const s = await getJson<ProfilerStatus>('/_ah/apptrace/api/status');
        return s.snapshot.pendingSignals === 0 && !s.snapshot.running ? s : undefined;
      },
      `the profiler idle\n${outputs()}`,
      30_000,
    );
    const forged = JSON.stringify({ requests: [{ method: 'GET', url: '/forged', status: 200 }] });
    for (const port of [proxyPort, profilerPort]) {
      const status = await withHost(port, '/_ah/apptrace/api/signal', 'profiler:9300', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-apptrace-token': 'not-the-compose-token-0123456789' },
        body: forged,
      });
      expect(status).toBe(403);
    }
    await new Promise((done) => setTimeout(done, 300));
    const after = await getJson<ProfilerStatus>('/_ah/apptrace/api/status');
    expect(after.snapshot.pendingSignals).toBe(0);
    expect(after.snapshot.running).toBe(false);
    expect(after.records).toBe(before.records);
  });
});
