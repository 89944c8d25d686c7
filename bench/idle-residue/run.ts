/**
 * What the profiler's idle wait leaves in the target (`node dist/bench/idle-residue/run.js`).
 *
 * Before each snapshot the profiler waits for the target to finish a request's work with
 * one awaited `Runtime.evaluate` (profiler/cdp/session.ts, IDLE_EXPRESSION), the Debugger
 * domain off as between the profiler's windows. Does that grow the target's heap call
 * after call? A fresh `node --inspect` target (an idle HTTP server) is driven in rounds
 * of N calls; around each round three forced full collections, then V8's used heap
 * (`Runtime.getHeapUsage`). Side by side, in turns within each round, the same number of
 * calls that cannot leave anything behind (`Runtime.evaluate('1')`) gives the noise. The
 * first round (V8 warming up its caches) is shown and left out of the medians; the growth
 * over the first and the second half of the other rounds tells a residue per call (the
 * same in both) from growth that levels off.
 *
 *   node dist/bench/idle-residue/run.js [--rounds 8] [--calls 500]
 */
import { spawn } from 'node:child_process';
import CDP from 'chrome-remote-interface';
import { IDLE_EXPRESSION } from '../../profiler/cdp/session.js';
import { median } from '../../common/median.js';

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at < 0 ? fallback : Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} needs a whole number ≥ 1`);
  return value;
}

async function main(): Promise<void> {
  const rounds = flag('rounds', 8);
  const calls = flag('calls', 500);
  const target = spawn(
    process.execPath,
    ['--inspect=127.0.0.1:0', '-e', "require('http').createServer((q, s) => s.end('ok')).listen(0)"],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let text = '';
      target.stderr.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        const found = /ws:\/\/127\.0\.0\.1:(\d+)\//.exec(text);
        if (found) resolve(Number(found[1]));
      });
      target.once('exit', () => reject(new Error(`the target exited:\n${text}`)));
    });
    const client = await CDP({ host: '127.0.0.1', port });
    const used = async (): Promise<number> => {
      for (let i = 0; i < 3; i++) await client.HeapProfiler.collectGarbage();
      return (await client.Runtime.getHeapUsage()).usedSize;
    };
    const modes = {
      'idle wait (awaited evaluate)': () =>
        client.Runtime.evaluate({
          expression: IDLE_EXPRESSION,
          awaitPromise: true,
          returnByValue: true,
          silent: true,
          includeCommandLineAPI: false,
        }),
      'plain evaluate (noise)': () => client.Runtime.evaluate({ expression: '1', returnByValue: true, silent: true }),
    };
    const perCall = new Map<string, number[]>(Object.keys(modes).map((name) => [name, []]));
    console.log(`idle residue: ${rounds} rounds of ${calls} calls each, node ${process.version}; bytes per call`);
    for (let round = 0; round < rounds; round++) {
      const row: string[] = [];
      for (const [name, call] of Object.entries(modes)) {
        const before = await used();
        for (let i = 0; i < calls; i++) await call();
        const bytes = ((await used()) - before) / calls;
        if (round > 0) perCall.get(name)!.push(bytes);
        row.push(`${name} ${bytes.toFixed(1)}`);
      }
      console.log(`  round ${round + 1}${round === 0 ? ' (warm-up)' : ''}: ${row.join(', ')}`);
    }
    // A residue per call grows the heap alike in both halves; V8 warming up, in the first.
    const kb = (values: readonly number[]) => ((values.reduce((a, b) => a + b, 0) * calls) / 1024).toFixed(1);
    for (const [name, values] of perCall) {
      const half = values.length >> 1;
      console.log(
        `  ${name}: median ${median(values).toFixed(1)} B/call after warm-up; ` +
          `${kb(values.slice(0, half))} KB over the first ${half * calls} calls, ` +
          `${kb(values.slice(half))} KB over the next ${(values.length - half) * calls}`,
      );
    }
    await client.close();
  } finally {
    target.kill();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
