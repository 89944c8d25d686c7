import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceSpec } from '../demo/supervisor.js';

/**
 * docker-compose.yml, read the way compose reads it, and turned into local processes.
 *
 * `loadComposeConfig` asks compose itself (`docker-compose config`: v1 from Debian, or
 * `docker compose config --format json`: v2) for the file after interpolation and
 * normalisation, so tests check what compose will run, not our reading of the YAML.
 * `localTopology` then runs that same topology as processes on this machine: the same
 * commands, flags and environment, with only what belongs to containers replaced —
 * service names by `localhost` (a host name, not an IP, as inside compose), container
 * ports by free local ports, `0.0.0.0` by `127.0.0.1`, volume paths by local folders,
 * the image's WORKDIR by the repository, and the image's commands by the files they
 * link to.
 */

export interface ComposeHealthcheck {
  test?: string[] | string;
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
  disable?: boolean;
}

export interface ComposePort {
  target: number;
  published?: number | string;
  host_ip?: string;
  protocol?: string;
}

export interface ComposeVolumeMount {
  type: string;
  source?: string;
  target: string;
}

export interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string; args?: Record<string, string> };
  command?: string[] | string;
  entrypoint?: string[] | string;
  working_dir?: string;
  environment?: Record<string, string | null>;
  expose?: (string | number)[];
  ports?: ComposePort[];
  volumes?: ComposeVolumeMount[];
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: ComposeHealthcheck;
  init?: boolean;
  user?: string;
}

export interface ComposeConfig {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** Which compose program is installed: `docker-compose` (v1, Debian) or `docker compose` (v2). */
export function composeCommand(): string[] {
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
  throw new Error(
    'Neither docker-compose nor `docker compose` is installed: apt-get install -y --no-install-recommends docker-compose (.ci/run does).',
  );
}

/** Runs `compose -f file config <args>`; throws with compose's own message when the file is invalid. */
export function runComposeConfig(file: string, args: readonly string[] = []): string {
  const [command, ...pre] = composeCommand();
  const result = spawnSync(command!, [...pre, '-f', file, 'config', ...args], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(
      `${[command, ...pre].join(' ')} -f ${file} config ${args.join(' ')} failed:\n${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}

/**
 * The normalised compose file as an object. Compose v1 prints only YAML; it is itself a
 * Python program that depends on PyYAML, so that parser is there wherever v1 is, and we
 * let it turn the YAML into JSON rather than reading YAML ourselves.
 */
export function loadComposeConfig(file: string): ComposeConfig {
  if (composeCommand()[0] === 'docker') return normalise(JSON.parse(runComposeConfig(file, ['--format', 'json'])));
  const yaml = runComposeConfig(file);
  const json = execFileSync(
    'python3',
    ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'],
    {
      input: yaml,
      encoding: 'utf8',
    },
  );
  return normalise(JSON.parse(json));
}

/** v1 prints ports as "127.0.0.1:8080:8080/tcp" and volumes as "name:/path:rw"; use v2's long form for both. */
function normalise(raw: {
  services: Record<string, Record<string, unknown>>;
  volumes?: Record<string, unknown>;
}): ComposeConfig {
  const services: Record<string, ComposeService> = {};
  for (const [name, service] of Object.entries(raw.services)) {
    const ports = (service.ports as unknown[] | undefined)?.map((p) =>
      typeof p === 'string' ? parsePortString(p) : (p as ComposePort),
    );
    const volumes = (service.volumes as unknown[] | undefined)?.map((v) =>
      typeof v === 'string' ? parseVolumeString(v) : (v as ComposeVolumeMount),
    );
    const dependsOn = Array.isArray(service.depends_on)
      ? Object.fromEntries((service.depends_on as string[]).map((d) => [d, { condition: 'service_started' }]))
      : service.depends_on;
    services[name] = { ...service, ports, volumes, depends_on: dependsOn } as ComposeService;
  }
  return { services, volumes: raw.volumes };
}

function parsePortString(text: string): ComposePort {
  const [spec, protocol] = text.split('/');
  const parts = spec!.split(':');
  const target = Number(parts.pop());
  const published = parts.pop();
  const hostIp = parts.pop();
  return { target, published: published ? Number(published) : undefined, host_ip: hostIp, protocol: protocol ?? 'tcp' };
}

function parseVolumeString(text: string): ComposeVolumeMount {
  const [source, target] = text.split(':');
  if (target === undefined) return { type: 'volume', target: source! };
  return { type: source!.startsWith('/') || source!.startsWith('.') ? 'bind' : 'volume', source, target };
}

/** A command as an argument list (compose accepts a string too). */
export function commandWords(command: string[] | string | undefined): string[] {
  if (command === undefined) return [];
  return Array.isArray(command) ? command : command.split(/\s+/).filter(Boolean);
}

/** Container ports a service listens on: `expose` and the container side of `ports`. */
export function containerPorts(service: ComposeService): number[] {
  const ports = [
    ...(service.expose ?? []).map((p) => Number(String(p).split('/')[0])),
    ...(service.ports ?? []).map((p) => Number(p.target)),
  ];
  return [...new Set(ports)];
}

/** Services in an order where each comes after the services it depends on. */
export function startOrder(config: ComposeConfig): string[] {
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (name: string): void => {
    if (order.includes(name)) return;
    if (visiting.has(name)) throw new Error(`compose: depends_on cycle through ${name}`);
    if (!config.services[name]) throw new Error(`compose: depends_on names an unknown service ${name}`);
    visiting.add(name);
    for (const dependency of Object.keys(config.services[name]!.depends_on ?? {})) visit(dependency);
    visiting.delete(name);
    order.push(name);
  };
  for (const name of Object.keys(config.services)) visit(name);
  return order;
}

/** What the Dockerfile's last stage sets for the processes: WORKDIR, ENV and USER. */
export interface ImageRuntime {
  workdir: string;
  env: Record<string, string>;
  user: string | null;
}

/** Reads the last stage of a Dockerfile (enough for ours: one `ENV k=v` per line). */
export function imageRuntime(dockerfile: string): ImageRuntime {
  const lines = readFileSync(dockerfile, 'utf8').replace(/\\\n/g, ' ').split('\n');
  const lastFrom = lines.map((l) => /^\s*FROM\s/i.test(l)).lastIndexOf(true);
  const runtime: ImageRuntime = { workdir: '/', env: {}, user: null };
  for (const line of lines.slice(lastFrom + 1)) {
    const [, instruction, rest] = /^\s*(\w+)\s+(.*)$/.exec(line) ?? [];
    if (!instruction || rest === undefined) continue;
    switch (instruction.toUpperCase()) {
      case 'WORKDIR':
        runtime.workdir = rest.trim();
        break;
      case 'USER':
        runtime.user = rest.trim();
        break;
      case 'ENV':
        for (const [, key, value] of rest.matchAll(/(\w+)=("[^"]*"|\S+)/g))
          runtime.env[key!] = value!.replace(/^"|"$/g, '');
        break;
    }
  }
  return runtime;
}

/** One service of the compose file as a local process, and its health check. */
export interface LocalService {
  name: string;
  spec: ServiceSpec;
  /** The health check's command (from `healthcheck.test`), localised; undefined when none. */
  healthcheck?: { command: string; args: string[]; intervalMs: number; retries: number };
  /** depends_on: which services must be started or healthy first. */
  dependsOn: Record<string, 'service_started' | 'service_healthy' | 'service_completed_successfully'>;
  /** Container port → local port, for this service's ports. */
  ports: Map<number, number>;
}

export interface LocalTopologyOptions {
  /** The repository: stands for the image's WORKDIR. */
  root: string;
  /** Local folder for each volume mount's target (container path → local path). */
  mounts: Map<string, string>;
  /** A free local port for each container port. */
  ports: Map<number, number>;
  /** The image's commands: package.json `bin` (name → file relative to root). */
  bins: Record<string, string>;
  image: ImageRuntime;
  /** Base environment of every process (PATH and friends); APPTRACE_* in it are dropped. */
  baseEnv?: NodeJS.ProcessEnv;
}

function durationMs(text: string | undefined, fallback: number): number {
  if (!text) return fallback;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(amount) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
  }
  return total || fallback;
}

/**
 * Replaces, in one word of a command or one environment value, what only makes sense
 * inside compose: `0.0.0.0` → `127.0.0.1`; `service:port` → `localhost:localport`;
 * `:port` and a bare `port` → the local port; a volume path → the local folder.
 */
export function localiseWord(
  word: string,
  serviceNames: readonly string[],
  options: Pick<LocalTopologyOptions, 'ports' | 'mounts'>,
): string {
  if (/^\d+$/.test(word) && options.ports.has(Number(word))) return String(options.ports.get(Number(word)));
  let out = word.replace(/\b0\.0\.0\.0\b/g, '127.0.0.1');
  const names = serviceNames.map((n) => n.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')).join('|');
  if (names)
    out = out.replace(
      new RegExp(`(^|[/@=\\s])(?:${names}):(\\d+)`, 'g'),
      (_m, lead: string, port: string) => `${lead}localhost:${port}`,
    );
  out = out.replace(/:(\d+)(?!\d)/g, (match, port: string) =>
    options.ports.has(Number(port)) ? `:${options.ports.get(Number(port))}` : match,
  );
  for (const [containerPath, localPath] of options.mounts) {
    out = out.replace(
      new RegExp(`(^|[=\\s:])${containerPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=/|$)`, 'g'),
      `$1${localPath}`,
    );
  }
  return out;
}

/** The image's command word → what runs it here: `node` → this node, a package bin → node + its file. */
function localExecutable(word: string, options: LocalTopologyOptions): string[] {
  if (word === 'node') return [process.execPath];
  const bin = options.bins[word];
  if (bin) return [process.execPath, join(options.root, bin)];
  throw new Error(
    `compose-topology: no local equivalent for the command ${JSON.stringify(word)}; add it to localExecutable.`,
  );
}

function localCommand(
  words: readonly string[],
  serviceNames: readonly string[],
  options: LocalTopologyOptions,
): { command: string; args: string[] } {
  const [first, ...rest] = words;
  if (!first) throw new Error('compose-topology: empty command');
  const [command, ...prefix] = localExecutable(first, options);
  return { command: command!, args: [...prefix, ...rest.map((w) => localiseWord(w, serviceNames, options))] };
}

/** The compose file's services as local processes (see the file comment). */
export function localTopology(config: ComposeConfig, options: LocalTopologyOptions): LocalService[] {
  const names = Object.keys(config.services);
  const baseEnv = Object.fromEntries(
    Object.entries(options.baseEnv ?? process.env).filter(([k]) => !k.startsWith('APPTRACE_')),
  );
  return startOrder(config).map((name) => {
    const service = config.services[name]!;
    if (service.entrypoint !== undefined)
      throw new Error(`compose-topology: ${name} sets an entrypoint; not supported here`);
    if (service.working_dir && service.working_dir !== options.image.workdir) {
      throw new Error(
        `compose-topology: ${name} has working_dir ${service.working_dir}; only the image's ${options.image.workdir} maps to the repository`,
      );
    }
    const { command, args } = localCommand(commandWords(service.command), names, options);
    const env: NodeJS.ProcessEnv = { ...baseEnv };
    for (const [key, value] of Object.entries({ ...options.image.env, ...(service.environment ?? {}) })) {
      if (value !== null && value !== undefined) env[key] = localiseWord(String(value), names, options);
    }
    let healthcheck: LocalService['healthcheck'];
    const test = service.healthcheck?.test;
    if (test && !service.healthcheck?.disable) {
      const words = commandWords(test);
      if (words[0] === 'NONE') healthcheck = undefined;
      else {
        const local =
          words[0] === 'CMD-SHELL'
            ? { command: '/bin/sh', args: ['-c', localiseWord(words.slice(1).join(' '), names, options)] }
            : localCommand(words[0] === 'CMD' ? words.slice(1) : words, names, options);
        healthcheck = {
          ...local,
          intervalMs: durationMs(service.healthcheck?.interval, 30_000),
          retries: service.healthcheck?.retries ?? 3,
        };
      }
    }
    const dependsOn: LocalService['dependsOn'] = {};
    for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
      dependsOn[dependency] = (condition ?? 'service_started') as LocalService['dependsOn'][string];
    }
    const ports = new Map(containerPorts(service).map((p) => [p, options.ports.get(p)!] as const));
    return { name, spec: { name, command, args, env, cwd: options.root }, healthcheck, dependsOn, ports };
  });
}

/** Every container port of every service; throws if two services share one (they would collide on one host). */
export function allContainerPorts(config: ComposeConfig): number[] {
  const owner = new Map<number, string>();
  for (const [name, service] of Object.entries(config.services)) {
    for (const port of containerPorts(service)) {
      const other = owner.get(port);
      if (other && other !== name)
        throw new Error(`compose-topology: ${name} and ${other} both use port ${port}; cannot run both on one host`);
      owner.set(port, name);
    }
  }
  return [...owner.keys()];
}
