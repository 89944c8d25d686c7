/**
 * The control (issue 10): Express 5 with a module-level lru-cache from npm that keeps 8
 * items. However many ids are asked for, it fills up and then stays the same size: the
 * profiler reads it as plateaued, and `apptrace-proxy check` with a new id each round
 * passes (exit 0), naming it among what levelled off.
 */
import { mkdtempSync, rmSync } from 'node:fs';
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
  dir = await ensureInstalled('express-lru');
  work = mkdtempSync(join(tmpdir(), 'apptrace-lru-'));
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('Express + lru-cache (the control)', () => {
  it('reads the full cache as plateaued, and check passes with a new id per round', { timeout: 240_000 }, async () => {
    stack = await startStack({ app: join(dir, 'server.js'), db: join(work, 'db.json') });
    await stack.waitForRecords(1);
    // 8 to fill it, then 10 more that only replace items; one snapshot per request (the
    // verdict needs the flat part as records).
    for (let i = 1; i <= 18; i++) {
      await (await fetch(`${stack.proxyUrl}/items/${i}`)).text();
      await stack.waitForRecordOf(`/items/${i}`);
    }
    const suspects = (await (await fetch(`${stack.proxyUrl}/_ah/apptrace/api/suspects`)).json()) as Suspect[];
    const items = suspects.find((s) => s.name === 'items');
    expect(items, JSON.stringify(suspects.map((s) => [s.name, s.verdict]))).toMatchObject({
      verdict: 'plateaued',
      filename: 'server.js',
      lineno: 6,
    });
    expect(suspects.filter((s) => s.verdict === 'growing').map((s) => s.name)).toEqual([]);

    await stack.proxy.stop();
    const run = await runCheck(stack, ['--request', 'GET /items/c{i}', '--requests', '8']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^apptrace check: passed/);
  });
});
