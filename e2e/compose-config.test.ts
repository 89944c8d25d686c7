import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  commandWords,
  imageRuntime,
  loadComposeConfig,
  localiseWord,
  localTopology,
  runComposeConfig,
  startOrder,
  type ComposeConfig,
} from './compose-topology.js';

/**
 * docker-compose.yml and the Dockerfile, checked without a container engine: compose
 * itself validates the file and prints it normalised, and we check that what it would
 * run is what the README promises (three services, inspector never published, records
 * on a named volume, start order by health).
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const DOCKERFILE = join(ROOT, 'Dockerfile');
/** The file as compose reads it (interpolated, normalised). */
const config: ComposeConfig = loadComposeConfig(COMPOSE_FILE);

function flagValue(words: string[], flag: string): string | undefined {
  const at = words.indexOf(flag);
  if (at !== -1) return words[at + 1];
  return words.find((w) => w.startsWith(`${flag}=`))?.slice(flag.length + 1);
}

describe('docker-compose.yml', () => {
  it('is valid for compose (`docker-compose config -q`)', () => {
    expect(runComposeConfig(COMPOSE_FILE, ['-q'])).toBe('');
  });

  const { app, profiler, proxy } = config.services;

  it('has exactly the three services app, profiler and proxy, all built from this repository', () => {
    expect(Object.keys(config.services).sort()).toEqual(['app', 'profiler', 'proxy']);
    for (const service of Object.values(config.services)) {
      expect(service.build?.context && resolve(service.build.context)).toBe(ROOT);
      expect(service.init).toBe(true);
    }
  });

  it('starts the demo app with its inspector on all interfaces of its container, and publishes neither port', () => {
    const words = commandWords(app!.command);
    expect(words).toEqual(['node', '--inspect=0.0.0.0:9229', 'demo/app/server.mjs']);
    expect(existsSync(join(ROOT, words[2]!))).toBe(true);
    expect(app!.environment).toMatchObject({ HOST: '0.0.0.0', PORT: '3000' });
    expect(app!.expose?.map(String).sort()).toEqual(['3000', '9229']);
    expect(app!.ports ?? []).toEqual([]);
  });

  it('never publishes the inspector (9229) or the profiler (9300) to the host', () => {
    for (const [name, service] of Object.entries(config.services)) {
      for (const port of service.ports ?? []) {
        expect({ name, target: Number(port.target) }).not.toEqual({ name, target: 9229 });
        expect(Number(port.target)).not.toBe(9300);
      }
    }
    expect(profiler!.ports ?? []).toEqual([]);
  });

  it('points the profiler at the app inspector by service name, stores records on a named volume', () => {
    const words = commandWords(profiler!.command);
    expect(words.slice(0, 2)).toEqual(['apptrace-profiler', 'serve']);
    expect(flagValue(words, '--inspect')).toBe('app:9229');
    expect(flagValue(words, '--target')).toBe('app:3000');
    expect(flagValue(words, '--listen')).toBe('0.0.0.0:9300');
    const db = flagValue(words, '--db')!;
    const mount = profiler!.volumes?.find((v) => db.startsWith(`${v.target}/`));
    expect(mount).toMatchObject({ type: 'volume', source: 'apptrace-data', target: '/data' });
    expect(Object.keys(config.volumes ?? {})).toContain('apptrace-data');
  });

  it('runs the proxy against app:3000 with the profiler service, published on the host loopback only', () => {
    const words = commandWords(proxy!.command);
    expect(words[0]).toBe('apptrace-proxy');
    expect(flagValue(words, '--target')).toBe('app:3000');
    expect(flagValue(words, '--profiler')).toBe('http://profiler:9300');
    expect(flagValue(words, '--listen')).toBe('0.0.0.0:8080');
    expect(proxy!.ports).toHaveLength(1);
    expect(proxy!.ports![0]).toMatchObject({ target: 8080, host_ip: '127.0.0.1' });
    expect(Number(proxy!.ports![0]!.published)).toBe(8080);
  });

  it('uses the package bins for the commands it runs', () => {
    const bins = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).bin as Record<string, string>;
    expect(Object.keys(bins)).toEqual(
      expect.arrayContaining([commandWords(profiler!.command)[0], commandWords(proxy!.command)[0]]),
    );
  });

  it('has a health check in each service, made with node (slim images have no curl)', () => {
    for (const service of Object.values(config.services)) {
      const test = service.healthcheck?.test;
      expect(Array.isArray(test) && test.length).toBe(2);
      expect(test![0]).toBe('CMD-SHELL');
      expect(test![1]).toMatch(/^node -e "fetch\('http:\/\/127\.0\.0\.1:\d+\/[^"]*"$/);
    }
  });

  it('starts app, then profiler once the app is healthy, then proxy once the profiler is healthy', () => {
    expect(startOrder(config)).toEqual(['app', 'profiler', 'proxy']);
    expect(profiler!.depends_on).toEqual({ app: { condition: 'service_healthy' } });
    expect(proxy!.depends_on?.profiler).toEqual({ condition: 'service_healthy' });
    // Not healthy: the proxy comes up even while the app restarts, and answers 502 then.
    expect(proxy!.depends_on?.app).toEqual({ condition: 'service_started' });
  });

  it('gives profiler and proxy the same signal token in their environment (never argv) and allows the service names', () => {
    const token = profiler!.environment?.['APPTRACE_PROFILER_TOKEN'];
    expect(token).toMatch(/^[\x21-\x7e]{16,}$/);
    expect(proxy!.environment?.['APPTRACE_PROFILER_TOKEN']).toBe(token);
    for (const service of [profiler!, proxy!]) expect(commandWords(service.command).join(' ')).not.toContain(token!);
    // The proxy signals the profiler as Host profiler:9300; other containers may open the UI as proxy:8080.
    expect(String(profiler!.environment?.['APPTRACE_ALLOWED_HOSTS']).split(',')).toEqual(['profiler', 'proxy']);
    expect(String(proxy!.environment?.['APPTRACE_ALLOWED_HOSTS']).split(',')).toEqual(['proxy']);
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(DOCKERFILE, 'utf8');

  it('builds in stages from an overridable node:20 slim base, with npm ci from the lock file', () => {
    expect(text).toMatch(/^ARG NODE_IMAGE=node:20-(bookworm-)?slim$/m);
    expect(text.match(/^FROM \$\{NODE_IMAGE\} AS \w+$/gm)?.length).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/npm ci --omit=dev/);
    expect(text).not.toMatch(/^RUN .*npm (install|i) /m);
  });

  it('runs as the non-root node user, with the image workdir the compose commands assume', () => {
    const runtime = imageRuntime(DOCKERFILE);
    expect(runtime.user).toBe('node');
    expect(runtime.workdir).toBe('/app');
  });
});

describe('the compose topology as local processes', () => {
  const ports = new Map([
    [3000, 41000],
    [9229, 41001],
    [9300, 41002],
    [8080, 41003],
  ]);
  const mounts = new Map([['/data', '/tmp/apptrace-e2e-data']]);

  it('replaces service names by localhost (a host name), container ports by local ones, 0.0.0.0 by loopback', () => {
    const names = Object.keys(config.services);
    expect(localiseWord('app:9229', names, { ports, mounts })).toBe('localhost:41001');
    expect(localiseWord('--inspect=0.0.0.0:9229', names, { ports, mounts })).toBe('--inspect=127.0.0.1:41001');
    expect(localiseWord('http://profiler:9300', names, { ports, mounts })).toBe('http://localhost:41002');
    expect(localiseWord('/data/db.json', names, { ports, mounts })).toBe('/tmp/apptrace-e2e-data/db.json');
    expect(localiseWord('3000', names, { ports, mounts })).toBe('41000');
    expect(localiseWord('demo/app/server.mjs', names, { ports, mounts })).toBe('demo/app/server.mjs');
  });

  it('keeps every flag of every service, with only those replacements', () => {
    const bins = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).bin as Record<string, string>;
    const services = localTopology(config, {
      root: ROOT,
      ports,
      mounts,
      bins,
      image: imageRuntime(DOCKERFILE),
      baseEnv: {},
    });
    const byName = Object.fromEntries(services.map((s) => [s.name, s]));
    expect(byName.app!.spec.args).toEqual(['--inspect=127.0.0.1:41001', 'demo/app/server.mjs']);
    expect(byName.app!.spec.env).toMatchObject({ HOST: '127.0.0.1', PORT: '41000', NODE_ENV: 'production' });
    expect(byName.profiler!.spec.args).toEqual([
      join(ROOT, bins['apptrace-profiler']!),
      'serve',
      '--inspect',
      'localhost:41001',
      '--listen',
      '127.0.0.1:41002',
      '--db',
      '/tmp/apptrace-e2e-data/db.json',
      '--target',
      'localhost:41000',
    ]);
    expect(byName.proxy!.spec.args).toEqual([
      join(ROOT, bins['apptrace-proxy']!),
      '--target',
      'localhost:41000',
      '--profiler',
      'http://localhost:41002',
      '--listen',
      '127.0.0.1:41003',
    ]);
    expect(byName.proxy!.healthcheck).toMatchObject({
      command: '/bin/sh',
      args: ['-c', expect.stringContaining("fetch('http://127.0.0.1:41003/_ah/apptrace/api/status')")],
    });
  });
});
