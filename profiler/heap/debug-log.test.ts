/**
 * `NODE_DEBUG=apptrace` explains the silent fallbacks. Node without a JIT (`--jitless`)
 * has no WebAssembly: `apptrace-profiler analyze` (the compiled CLI in dist/) then parses
 * the numbers in JavaScript, gives the same answer, and says so only when asked.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../test/graph-builder.js';

const cli = fileURLToPath(new URL('../../dist/profiler/cli.js', import.meta.url));
let dir: string;
let snapshot: string;

function analyze(
  nodeFlags: string[],
  env: NodeJS.ProcessEnv,
): { status: number | null; stdout: string; stderr: string } {
  const { NODE_DEBUG: _ignored, ...rest } = process.env;
  const child = spawnSync(process.execPath, [...nodeFlags, cli, 'analyze', snapshot, '--json'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...rest, ...env },
  });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'apptrace-debug-log-'));
  const graph = new GraphBuilder();
  const root = graph.node('synthetic', '', 0);
  const global = graph.node('object', 'global', 10);
  const big = graph.node('object', 'BigThing', 5000);
  graph.edge(root, 'shortcut', 'global', global);
  graph.edge(global, 'property', 'big', big);
  snapshot = join(dir, 'small.heapsnapshot');
  writeFileSync(snapshot, graph.toJSON());
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('NODE_DEBUG=apptrace', () => {
  it('says that WebAssembly was unavailable and the loader used JavaScript; the result is the same', () => {
    const withWasm = analyze([], {});
    const jitless = analyze(['--jitless'], { NODE_DEBUG: 'apptrace' });
    expect(jitless.status).toBe(0);
    expect(jitless.stderr).toMatch(
      /^APPTRACE \d+: WebAssembly unavailable \(.+\): the loader parses numbers in JavaScript/m,
    );
    const total = (out: string) => (JSON.parse(out) as { total_size: number }).total_size;
    expect(total(jitless.stdout)).toBe(5010);
    expect(total(withWasm.stdout)).toBe(5010);
  });

  it('is silent without NODE_DEBUG', () => {
    const quiet = analyze(['--jitless'], {});
    expect(quiet.status).toBe(0);
    // (V8 itself warns that --jitless turns WebAssembly off.)
    expect(quiet.stderr).not.toMatch(/APPTRACE/);
    expect(quiet.stderr).not.toMatch(/WebAssembly unavailable/);
  });
});
