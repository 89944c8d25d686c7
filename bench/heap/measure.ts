/**
 * One measured contender of the heap benchmark, run in its own process:
 * `node measure.js json FILE` (read the file and JSON.parse it) or
 * `node measure.js memlab FILE` (memlab's getFullHeapFromFile). Prints one JSON line
 * with the in-process time of the operation; peak RSS comes from report-usage.js.
 */
import { readFileSync } from 'node:fs';

async function main(): Promise<void> {
  const [what, file] = process.argv.slice(2);
  if (!file) throw new Error('usage: measure.js json|memlab FILE');
  const start = performance.now();
  if (what === 'json') {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { nodes: number[] };
    if (!Array.isArray(parsed.nodes)) throw new Error('not a snapshot');
  } else if (what === 'memlab') {
    // Loaded here so that its module loading is not counted (memlab's CLI would pay it).
    const { getFullHeapFromFile } = (await import('@memlab/heap-analysis')) as unknown as {
      getFullHeapFromFile(file: string): Promise<unknown>;
    };
    const t = performance.now();
    await getFullHeapFromFile(file);
    process.stdout.write(JSON.stringify({ ms: performance.now() - t }) + '\n');
    return;
  } else throw new Error(`unknown contender ${what}`);
  process.stdout.write(JSON.stringify({ ms: performance.now() - start }) + '\n');
}

main().catch((error: unknown) => {
  process.stdout.write(JSON.stringify({ error: (error as Error).message }) + '\n');
  process.exitCode = 1;
});
