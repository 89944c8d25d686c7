/**
 * What `--allocation-sites` costs the target (`node dist/bench/allocation-sites/run.js`).
 *
 * The same target (target-app.ts: a JSON endpoint that allocates like a typical one) is
 * driven by the same fixed load (wrk, keep-alive; a Node keep-alive client loop when wrk
 * is missing) in three modes, each round a fresh target process:
 * - `no client`: `node --inspect`, nothing attached;
 * - `attached`: a CDP session set up as the profiler sets it up (Debugger enabled, pauses
 *   skipped, HeapProfiler enabled), allocation tracking off — the profiler's default;
 * - `tracking`: the same plus `HeapProfiler.startTrackingHeapObjects({trackAllocations:
 *   true})`, as `--allocation-sites` does.
 * - `flag`: the target started with `node --track-heap-objects` and attached as in
 *   `attached`: V8 records allocation stacks from the start, and the profiler, seeing
 *   that, does not call startTrackingHeapObjects (whose inspector timer updates V8's
 *   object-id map every 50 ms: a full garbage collection and a heap walk each time).
 * Modes take turns within each round so that other work on the machine spreads over all
 * of them. The table shows medians over the rounds of throughput, latency (p50, p99) and
 * the target's RSS at the end of the round; then the ratios of `tracking` to `attached`.
 * No snapshots are taken: this is the cost of the tracking alone, paid on every request.
 *
 *   node dist/bench/allocation-sites/run.js [--rounds 5] [--duration 5] [--connections 16] [--items 40]
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import CDP from 'chrome-remote-interface';
import { median } from '../../common/median.js';

interface Settings {
  rounds: number;
  duration: number;
  connections: number;
  items: number;
}

type Mode = 'no client' | 'attached' | 'tracking' | 'flag';
const MODES: Mode[] = ['no client', 'attached', 'tracking', 'flag'];

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  rssMb: number;
}

function parseSettings(argv: string[]): Settings {
  const settings: Settings = { rounds: 5, duration: 5, connections: 16, items: 40 };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!;
    const value = Number(argv[i + 1]);
    const key = flag.replace(/^--/, '') as keyof Settings;
    if (!(key in settings) || !Number.isFinite(value) || value <= 0) {
      throw new Error(
        `bad flag ${flag} ${argv[i + 1] ?? ''}; see the comment at the top of bench/allocation-sites/run.ts`,
      );
    }
    settings[key] = value;
  }
  return settings;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
process.on('SIGINT', () => process.exit(130));

interface Target {
  child: ChildProcess;
  port: number;
  inspectPort: number;
}

function startTarget(flags: string[]): Promise<Target> {
  const script = fileURLToPath(new URL('./target-app.js', import.meta.url));
  const child = spawn(process.execPath, [...flags, '--inspect=127.0.0.1:0', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    let port = 0;
    let inspectPort = 0;
    const check = () => {
      if (port && inspectPort) resolve({ child, port, inspectPort });
    };
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on (\d+)/.exec(out);
      if (m) port = Number(m[1]);
      check();
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /ws:\/\/127\.0\.0\.1:(\d+)\//.exec(err);
      if (m) inspectPort = Number(m[1]);
      check();
    });
    child.once('exit', (code) => reject(new Error(`target exited (${code}): ${err}`)));
  });
}

async function stopTarget(target: Target): Promise<void> {
  if (target.child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    target.child.once('exit', () => resolve());
    target.child.kill('SIGKILL');
  });
  children.delete(target.child);
}

/** The target's resident set, from /proc (no request to the target, so nothing to disturb). */
function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

const hasWrk = spawnSync('wrk', ['--version']).error === undefined;

/** wrk's summary: requests/s and latency percentiles in ms. */
function runWrk(url: string, settings: Settings, seconds: number): { rps: number; p50: number; p99: number } {
  const result = spawnSync('wrk', ['-t1', `-c${settings.connections}`, `-d${seconds}s`, '--latency', url], {
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`wrk failed: ${result.stderr}`);
  const text = result.stdout;
  const ms = (label: string) => {
    const m = new RegExp(`\\s${label}\\s+([\\d.]+)(us|ms|s)`).exec(text);
    if (!m) return NaN;
    const value = Number(m[1]);
    return m[2] === 'us' ? value / 1000 : m[2] === 's' ? value * 1000 : value;
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  return { rps, p50: ms('50%'), p99: ms('99%') };
}

/** The fallback: `connections` keep-alive loops of sequential requests. */
async function runNodeLoad(
  url: string,
  settings: Settings,
  seconds: number,
): Promise<{ rps: number; p50: number; p99: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: settings.connections });
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const started = performance.now();
      request(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => {
          latencies.push(performance.now() - started);
          resolve();
        });
      })
        .on('error', reject)
        .end();
    });
  const loop = async () => {
    while (performance.now() < end) await once();
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: settings.connections }, loop));
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { rps: latencies.length / elapsed, p50: at(0.5), p99: at(0.99) };
}

async function measure(mode: Mode, settings: Settings): Promise<Sample> {
  const target = await startTarget(mode === 'flag' ? ['--track-heap-objects'] : []);
  let client: CDP.Client | undefined;
  try {
    if (mode !== 'no client') {
      client = await CDP({ host: '127.0.0.1', port: target.inspectPort, local: true });
      await client.Debugger.enable({});
      await client.Debugger.setSkipAllPauses({ skip: true });
      await client.HeapProfiler.enable();
      if (mode === 'tracking') await client.HeapProfiler.startTrackingHeapObjects({ trackAllocations: true });
    }
    const url = `http://127.0.0.1:${target.port}/items?n=${settings.items}`;
    const load = (seconds: number) =>
      hasWrk ? Promise.resolve(runWrk(url, settings, seconds)) : runNodeLoad(url, settings, seconds);
    await load(1); // warm-up: JIT, connections, the cache filled
    const result = await load(settings.duration);
    return { ...result, rssMb: rssMb(target.child.pid!) };
  } finally {
    await client?.close().catch(() => undefined);
    await stopTarget(target);
  }
}

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2));
  console.log(
    `allocation tracking cost: ${settings.rounds} rounds × ${settings.duration} s, ${settings.connections} keep-alive connections, ` +
      `${settings.items} items per response, load by ${hasWrk ? 'wrk' : 'a Node keep-alive client'}; node ${process.version}`,
  );
  const samples = new Map<Mode, Sample[]>(MODES.map((m) => [m, []]));
  for (let round = 1; round <= settings.rounds; round++) {
    // Rotate the order so that no mode always runs first in a round.
    const order = MODES.map((_, i) => MODES[(i + round) % MODES.length]!);
    for (const mode of order) {
      const sample = await measure(mode, settings);
      samples.get(mode)!.push(sample);
      console.log(
        `  round ${round} ${mode.padEnd(9)} ${sample.rps.toFixed(0).padStart(7)} req/s  p50 ${sample.p50.toFixed(2)} ms  p99 ${sample.p99.toFixed(2)} ms  rss ${sample.rssMb.toFixed(0)} MB`,
      );
    }
  }
  const med = (mode: Mode, key: keyof Sample) => median(samples.get(mode)!.map((s) => s[key]));
  console.log('\nmedians over the rounds:');
  console.log(
    `  ${'mode'.padEnd(10)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'RSS MB'.padStart(8)}`,
  );
  for (const mode of MODES) {
    console.log(
      `  ${mode.padEnd(10)} ${med(mode, 'rps').toFixed(0).padStart(8)} ${med(mode, 'p50').toFixed(2).padStart(8)} ${med(mode, 'p99').toFixed(2).padStart(8)} ${med(mode, 'rssMb').toFixed(0).padStart(8)}`,
    );
  }
  for (const mode of ['tracking', 'flag'] as const) {
    const ratio = (key: keyof Sample) => med(mode, key) / med('attached', key);
    const rss = med(mode, 'rssMb') - med('attached', 'rssMb');
    console.log(
      `${mode.padStart(8)} / attached: throughput ×${ratio('rps').toFixed(3)} (${(1 / ratio('rps')).toFixed(1)}× slower), ` +
        `p50 latency ×${ratio('p50').toFixed(1)}, p99 latency ×${ratio('p99').toFixed(1)}, RSS ${rss >= 0 ? '+' : ''}${rss.toFixed(0)} MB`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
