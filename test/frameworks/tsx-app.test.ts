/**
 * A TypeScript app run by tsx from npm (no build step): V8 knows the script by its `.ts`
 * URL and runs the JavaScript tsx made from it, all on one line. The growing Map is named
 * at its line in the `.ts` file, and the line that adds to it is marked there (issue 10,
 * point 5: the lines were never marked, since the `.ts` text is not JavaScript and the
 * script had the same name as its original); esbuild's helpers are not listed (point 3).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../e2e/stack.js';
import type { Suspect } from '../../contract/record.js';
import { ensureInstalled } from './ensure-installed.js';

let dir: string;
let work: string;
let stack: Stack | undefined;

beforeAll(async () => {
  dir = await ensureInstalled('tsx-app');
  work = mkdtempSync(join(tmpdir(), 'apptrace-tsx-'));
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

describe('tsx', () => {
  it('names the growing Map at its .ts line and marks the .ts line that adds to it', { timeout: 120_000 }, async () => {
    const ts = readFileSync(join(dir, 'src/server.ts'), 'utf8');
    stack = await startStack({
      app: join(dir, 'src/server.ts'),
      cwd: dir,
      db: join(work, 'db.json'),
      nodeArgs: ['--import', 'tsx'],
    });
    await stack.waitForRecords(1);
    // A record per request (on a busy machine, requests sent back to back fold into fewer
    // snapshots, and too few records read flat).
    let since = 0;
    for (let i = 1; i <= 8; i++) {
      await (await fetch(`${stack.proxyUrl}/page/${i}`)).text();
      since = (await stack.waitForRecordOf(`/page/${i}`, since)).index;
    }
    const suspects = (await (await fetch(`${stack.proxyUrl}/_ah/apptrace/api/suspects`)).json()) as Suspect[];
    const first = suspects[0]!;
    expect(first).toMatchObject({ name: 'visits', verdict: 'growing', filename: 'src/server.ts' });
    expect(Math.abs(first.lineno - lineOf(ts, 'const visits'))).toBeLessThanOrEqual(3);
    expect(first.marked_lines?.map((m) => m.line)).toContain(lineOf(ts, 'visits.set('));
    // tsx writes the module on one line: the other bindings are placed by their column too.
    expect(suspects.find((s) => s.name === 'server')?.lineno).toBe(lineOf(ts, 'const server'));
    // esbuild's helpers (var __defProp = …, __name) are tsx's, not the app's.
    expect(suspects.map((s) => s.name)).not.toContain('__defProp');
    expect(suspects.map((s) => s.name)).not.toContain('__name');
  });
});
