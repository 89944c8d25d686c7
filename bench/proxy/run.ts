/**
 * Proxy throughput, side by side in one run (`npm run bench:proxy`):
 * the target alone, http-proxy as configured by default, http-proxy with only a
 * keep-alive agent, a plain Node forwarder (the limit for a Node proxy), nginx with
 * upstream keep-alive, and apptrace-proxy (the real CLI) with untraced and traced traffic.
 * Contenders take turns within each round so that noise from other work on the machine
 * spreads over all of them; the table shows medians over the rounds.
 *
 *   node dist/bench/proxy/run.js [--rounds 5] [--duration 3] [--connections 50]
 *                                [--only name,name] [--cpu-prof DIR]
 *                                [--variant name=path/to/other/dist/proxy/cli.js]…
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer as createNetServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from '../../common/median.js';

interface Settings {
  rounds: number;
  duration: number;
  connections: number;
  only: string[] | undefined;
  cpuProf: string | undefined;
  /** Extra apptrace-proxy builds to compare, as name=path/to/proxy/cli.js (old against new). */
  variants: { name: string; cli: string }[];
}

function parseSettings(argv: string[]): Settings {
  const settings: Settings = {
    rounds: 5,
    duration: 3,
    connections: 50,
    only: undefined,
    cpuProf: undefined,
    variants: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    i++;
    if (flag === '--rounds') settings.rounds = Number(value);
    else if (flag === '--duration') settings.duration = Number(value);
    else if (flag === '--connections') settings.connections = Number(value);
    else if (flag === '--only') settings.only = value.split(',');
    else if (flag === '--cpu-prof') settings.cpuProf = value;
    else if (flag === '--variant') {
      const [name, cli] = value.split('=');
      if (!name || !cli) throw new Error('--variant takes name=path/to/proxy/cli.js');
      settings.variants.push({ name, cli });
    } else throw new Error(`unknown flag ${flag}; see the comment at the top of bench/proxy/run.ts`);
  }
  return settings;
}

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));
const children = new Set<ChildProcess>();

function killAll(): void {
  for (const child of children) child.kill('SIGKILL');
}
process.on('exit', killAll);
process.on('SIGINT', () => process.exit(130));

/** Starts a process and resolves with the port from the first stdout line matching `pattern`. */
function startProcess(
  command: string,
  args: string[],
  pattern: RegExp,
): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    children.add(child);
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`${command} ${args.join(' ')} did not start within 15 s`)), 15_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const match = pattern.exec(buffered);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]) });
      }
    });
    child.once('exit', (code) => {
      children.delete(child);
      clearTimeout(timer);
      reject(new Error(`${command} ${args.join(' ')} exited with status ${code} before listening`));
    });
  });
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3_000).unref();
  });
}

function nodeServer(script: string, args: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  return startProcess(process.execPath, [here(script), ...args], /listening (\d+)/);
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Running {
  url: string;
  /** The processes whose CPU time is charged to this contender. */
  pids: number[];
  stop(): Promise<void>;
  /** How many signalled requests the stand-in profiler has received so far. */
  signals?(): Promise<number>;
}

interface Contender {
  name: string;
  start(target: { port: number; pid: number }): Promise<Running>;
}

async function startNginx({ port: targetPort }: { port: number }): Promise<Running> {
  const prefix = mkdtempSync(join(tmpdir(), 'apptrace-bench-nginx-'));
  const port = await freePort();
  // Upstream keep-alive needs HTTP/1.1 and an empty Connection header toward the upstream.
  writeFileSync(
    join(prefix, 'nginx.conf'),
    `daemon off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log stderr error;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  upstream target { server 127.0.0.1:${targetPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://target;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
  );
  const child = spawn('nginx', ['-e', 'stderr', '-p', prefix, '-c', join(prefix, 'nginx.conf')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  await waitForPort(port);
  return {
    url: `http://127.0.0.1:${port}/`,
    pids: [child.pid!],
    async stop() {
      await stopProcess(child);
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

function apptraceContender(
  name: string,
  path: string,
  settings: Settings,
  cli = here('../../proxy/cli.js'),
): Contender {
  return {
    name,
    async start({ port: targetPort }) {
      const profiler = await nodeServer('./null-profiler.js');
      const args = [
        cli,
        '--target',
        `127.0.0.1:${targetPort}`,
        '--listen',
        '127.0.0.1:0',
        '--profiler',
        `http://127.0.0.1:${profiler.port}`,
        // Bench traffic to / does not match; traffic to /traced/ does.
        '--url-pattern',
        '^/traced/',
      ];
      if (settings.cpuProf) args.unshift('--cpu-prof', '--cpu-prof-dir', settings.cpuProf);
      const proxy = await startProcess(process.execPath, args, /listening on http:\/\/[^\s]+:(\d+)/);
      return {
        url: `http://127.0.0.1:${proxy.port}${path}`,
        pids: [proxy.child.pid!],
        async stop() {
          // SIGINT: the proxy shuts down cleanly (and writes its --cpu-prof profile).
          proxy.child.kill('SIGINT');
          await new Promise((r) => proxy.child.once('exit', r));
          await stopProcess(profiler.child);
        },
        ...(path.startsWith('/traced/')
          ? {
              async signals() {
                const res = await fetch(`http://127.0.0.1:${profiler.port}/count`);
                return Number(await res.text());
              },
            }
          : {}),
      };
    },
  };
}

function contenders(settings: Settings): Contender[] {
  const all: Contender[] = [
    {
      name: 'target alone',
      async start(target) {
        return { url: `http://127.0.0.1:${target.port}/`, pids: [target.pid], stop: async () => {} };
      },
    },
    {
      name: 'http-proxy default',
      async start({ port: targetPort }) {
        const p = await nodeServer('./http-proxy-forwarder.js', [String(targetPort), 'default']);
        return { url: `http://127.0.0.1:${p.port}/`, pids: [p.child.pid!], stop: () => stopProcess(p.child) };
      },
    },
    {
      name: 'http-proxy + keep-alive agent',
      async start({ port: targetPort }) {
        const p = await nodeServer('./http-proxy-forwarder.js', [String(targetPort), 'keep-alive']);
        return { url: `http://127.0.0.1:${p.port}/`, pids: [p.child.pid!], stop: () => stopProcess(p.child) };
      },
    },
    {
      name: 'plain Node forwarder',
      async start({ port: targetPort }) {
        const p = await nodeServer('./plain-forwarder.js', [String(targetPort)]);
        return { url: `http://127.0.0.1:${p.port}/`, pids: [p.child.pid!], stop: () => stopProcess(p.child) };
      },
    },
    { name: 'nginx keep-alive', start: startNginx },
    apptraceContender('apptrace-proxy untraced', '/', settings),
    apptraceContender('apptrace-proxy traced', '/traced/hello', settings),
    ...settings.variants.map((v) => apptraceContender(`variant ${v.name}`, '/', settings, v.cli)),
  ];
  const hasNginx = spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status === 0;
  if (!hasNginx) process.stdout.write('note: nginx is not installed; skipping it (apt-get install nginx-light).\n');
  return all.filter(
    (c) =>
      (hasNginx || !c.name.startsWith('nginx')) && (!settings.only || settings.only.some((o) => c.name.includes(o))),
  );
}

interface WrkResult {
  rps: number;
  requests: number;
  errors: string;
}

function runWrk(url: string, seconds: number, connections: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, url], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.add(child);
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => {
      children.delete(child);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      const requests = /(\d+) requests in/.exec(out);
      if (code !== 0 || !rps || !requests) {
        reject(new Error(`wrk failed (status ${code}):\n${out}`));
        return;
      }
      const errors = [/Socket errors:.*/.exec(out)?.[0], /Non-2xx or 3xx responses: \d+/.exec(out)?.[0]]
        .filter(Boolean)
        .join('; ');
      resolve({ rps: Number(rps[1]), requests: Number(requests[1]), errors });
    });
  });
}

/**
 * CPU seconds (user + system) used so far by `pid` and its children, from /proc. CPU time
 * per request is the steadier figure on a shared machine: throughput drops when other
 * work takes the cores, the work done per request does not.
 */
function cpuSeconds(pid: number): number {
  const ticksPerSecond = 100; // USER_HZ on Linux
  const read = (p: number): number => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond; // utime, stime
    } catch {
      return 0;
    }
  };
  let total = read(pid);
  for (const task of readdirSync(`/proc/${pid}/task`, { withFileTypes: false }) as string[]) {
    let kids = '';
    try {
      kids = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const kid of kids.split(' ').filter(Boolean)) total += read(Number(kid));
  }
  return total;
}

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2));
  if (spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error) {
    process.stderr.write('bench:proxy needs wrk: apt-get install wrk (or build it from https://github.com/wg/wrk).\n');
    process.exitCode = 1;
    return;
  }
  const target = await nodeServer('./hello-server.js');
  const list = contenders(settings);
  const results = new Map<string, number[]>(list.map((c) => [c.name, []]));
  const cpuPerRequest = new Map<string, number[]>(list.map((c) => [c.name, []]));
  const notes = new Map<string, string>();
  const errors = new Map<string, string>();
  process.stdout.write(
    `bench:proxy — wrk -t1 -c${settings.connections} -d${settings.duration}s, ${settings.rounds} rounds, ` +
      `node ${process.version}; target: node:http hello on :${target.port}\n`,
  );
  // Every contender runs for the whole bench; rounds take turns, so that each round sees
  // about the same background load for all of them.
  const running = new Map<string, Running>();
  let signalsSent = 0;
  let signalsReceived = 0;
  try {
    for (const contender of list) {
      const started = await contender.start({ port: target.port, pid: target.child.pid! });
      running.set(contender.name, started);
      await runWrk(started.url, 2, settings.connections); // warm-up: JIT, pooled sockets
    }
    for (let round = 1; round <= settings.rounds; round++) {
      const line: string[] = [];
      for (const contender of list) {
        const run = running.get(contender.name)!;
        const signalsBefore = run.signals ? await run.signals() : 0;
        const cpuBefore = run.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
        const result = await runWrk(run.url, settings.duration, settings.connections);
        const cpu = run.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) - cpuBefore;
        if (run.signals) {
          // Signals still in flight when wrk stops arrive a moment later.
          await new Promise((r) => setTimeout(r, 300));
          signalsReceived += (await run.signals()) - signalsBefore;
          signalsSent += result.requests;
        }
        results.get(contender.name)!.push(result.rps);
        cpuPerRequest.get(contender.name)!.push((cpu / result.requests) * 1e6);
        if (result.errors) errors.set(contender.name, result.errors);
        line.push(`${contender.name} ${Math.round(result.rps)}/s ${((cpu / result.requests) * 1e6).toFixed(0)}µs`);
      }
      process.stdout.write(`round ${round}: ${line.join(' · ')}\n`);
    }
  } finally {
    for (const run of running.values()) await run.stop();
  }
  if (signalsSent > 0)
    notes.set(
      'apptrace-proxy traced',
      `the profiler received ${signalsReceived} signals for ${signalsSent} traced requests`,
    );
  await stopProcess(target.child);

  const medians = new Map([...results].map(([name, values]) => [name, median(values)]));
  const cpuMedians = new Map([...cpuPerRequest].map(([name, values]) => [name, median(values)]));
  process.stdout.write('\ncontender                        median req/s   CPU µs/req   req/s per round\n');
  for (const [name, values] of results) {
    process.stdout.write(
      `${name.padEnd(32)} ${String(Math.round(medians.get(name)!)).padStart(12)}   ${cpuMedians.get(name)!.toFixed(1).padStart(10)}   ${values.map((v) => Math.round(v)).join(' ')}\n`,
    );
  }
  process.stdout.write(
    '(CPU µs/req: user+system CPU time of the forwarding process — of the target for "target alone" — per request.)\n',
  );
  for (const [name, note] of notes) process.stdout.write(`${name}: ${note}\n`);
  for (const [name, error] of errors) process.stdout.write(`${name}: wrk reported ${error}\n`);
  const ratio = (a: string, b: string): number | undefined => {
    const x = medians.get(a);
    const y = medians.get(b);
    return x !== undefined && y !== undefined && y > 0 ? x / y : undefined;
  };
  const budgets: [string, string, number][] = [
    ['apptrace-proxy untraced', 'http-proxy default', 3],
    ['apptrace-proxy untraced', 'plain Node forwarder', 0.8],
  ];
  process.stdout.write('\n');
  for (const [a, b, budget] of budgets) {
    const r = ratio(a, b);
    if (r === undefined) continue;
    // Contenders run back to back within a round, so the ratio within each round is less
    // exposed to load that changes between rounds than the ratio of the medians.
    const perRound = results.get(a)!.map((x, i) => x / results.get(b)![i]!);
    const cpuA = cpuMedians.get(a)!;
    const cpuB = cpuMedians.get(b)!;
    process.stdout.write(
      `${a} / ${b}: ${r.toFixed(2)}× throughput (budget ≥ ${budget}×) ${r >= budget ? 'ok' : 'BELOW BUDGET'}; ` +
        `median of per-round ratios ${median(perRound).toFixed(2)}× (${perRound.map((x) => x.toFixed(2)).join(' ')}); ` +
        `CPU per request ${b} / ${a} = ${(cpuB / cpuA).toFixed(2)}×\n`,
    );
  }
  const traced = ratio('apptrace-proxy traced', 'apptrace-proxy untraced');
  if (traced !== undefined)
    process.stdout.write(
      `apptrace-proxy traced / untraced: ${traced.toFixed(2)}× (the cost of the signal path; no budget)\n`,
    );
  const n = ratio('nginx keep-alive', 'apptrace-proxy untraced');
  if (n !== undefined)
    process.stdout.write(`nginx keep-alive / apptrace-proxy untraced: ${n.toFixed(2)}× (for orientation)\n`);
  process.stdout.write('Figures are noisy when other work shares the machine; compare within one run.\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:proxy: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
  killAll();
});
