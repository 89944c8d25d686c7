/**
 * Vite SSR (issue 10, point 3) with the real Vite from npm: a dev server in middleware
 * mode renders every request through `vite.ssrLoadModule('/src/entry-server.js')`. Vite's
 * module runner runs the transformed module inside `new AsyncFunction(…)`, so its
 * module-scope variables live in that function's scope, not a module's: the array that
 * keeps every rendered page is still found as an entry of src/entry-server.js, at its
 * line there, growing, with the line that pushes to it marked; Vite's own
 * `__vite_ssr_*__` bindings are not listed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../e2e/stack.js';
import type { Suspect } from '../../contract/record.js';
import { runCheck } from '../check-run.js';
import { ensureInstalled } from './ensure-installed.js';

let dir: string;
let work: string;
let stack: Stack | undefined;

beforeAll(async () => {
  dir = await ensureInstalled('vite-ssr');
  work = mkdtempSync(join(tmpdir(), 'apptrace-vite-'));
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((line) => line.includes(needle));
  if (index < 0) throw new Error(`no line has ${needle}`);
  return index + 1;
}

describe('Vite SSR (ssrLoadModule)', () => {
  it('names the module-level array of entry-server.js, growing, at its line; check fails', {
    timeout: 240_000,
  }, async () => {
    const source = readFileSync(join(dir, 'src/entry-server.js'), 'utf8');
    stack = await startStack({ app: join(dir, 'server.js'), db: join(work, 'db.json') });
    await stack.waitForRecords(1);
    for (let i = 1; i <= 10; i++) {
      await (await fetch(`${stack.proxyUrl}/page/${i}`)).text();
      await stack.waitForRecordOf(`/page/${i}`);
    }
    const suspects = (await (await fetch(`${stack.proxyUrl}/_ah/apptrace/api/suspects`)).json()) as Suspect[];
    const first = suspects[0]!;
    expect(first).toMatchObject({ name: 'rendered', verdict: 'growing', filename: 'src/entry-server.js' });
    expect(Math.abs(first.lineno - lineOf(source, 'const rendered'))).toBeLessThanOrEqual(3);
    expect(first.marked_lines?.map((m) => m.line)).toContain(lineOf(source, 'rendered.push('));
    expect(suspects.filter((s) => s.name.startsWith('__vite_ssr_'))).toEqual([]);

    await stack.proxy.stop();
    const run = await runCheck(stack, ['--request', '/check/{i}', '--requests', '8']);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toContain('rendered (Array) at src/entry-server.js:');
  });
});
