import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Suspect } from '../contract/record.js';
import { OTHER_NODE_MAJORS, nodeBinary, nodeMajor } from './node-binaries.js';
import { eventually, startProcess, stopAll } from '../test/processes.js';
import { projectRoot, startStack } from './stack.js';

/**
 * apptrace with the Node.js versions users run (22, 24, 26; this suite itself runs on
 * 20): for each, a real target on that Node with --inspect, and apptrace itself (proxy
 * and the profiler it forks) on the same Node, records appear and the leak reads growing,
 * with no DeprecationWarning from apptrace on stderr; `analyze` reads the snapshots each
 * Node writes (6 node fields from Node 24 on, 7 before); `check` runs on Node 24.
 * The binaries come from .ci/node-versions.sh (APPTRACE_NODE_<major>): see node-binaries.ts.
 */
const ROOT = projectRoot();
const LEAK_APP = join(ROOT, 'e2e', 'fixtures', 'leak-app.cjs');
const PROXY_CLI = join(ROOT, 'dist', 'proxy', 'cli.js');
const PROFILER_CLI = join(ROOT, 'dist', 'profiler', 'cli.js');

/** A script whose module keeps 500 objects in `kept`, then writes a heap snapshot to argv[2]. */
const SNAPSHOT_SCRIPT = `'use strict';
const kept = [];
for (let i = 0; i < 500; i++) kept.push({ i, label: 'item ' + i });
function count() { return kept.length; }
module.exports = { count };
require('node:v8').writeHeapSnapshot(process.argv[2]);
`;

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'apptrace-node-versions-'));
  writeFileSync(join(dir, 'snap.cjs'), SNAPSHOT_SCRIPT);
});
afterAll(async () => {
  await stopAll();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.each(OTHER_NODE_MAJORS)('Node %i', (major) => {
  it('a target on it, apptrace on it too: records appear, the leak reads growing, no DeprecationWarning', async () => {
    const node = nodeBinary(major);
    expect(nodeMajor(node)).toBe(major);
    const stack = await startStack({
      app: LEAK_APP,
      db: join(dir, `db-${major}.json`),
      targetNode: node,
      proxyNode: node,
    });
    try {
      // One request at a time, each with its own record (the first after attach is the baseline).
      for (let i = 1; i <= 12; i++) {
        const res = await fetch(`${stack.proxyUrl}/page-${i}`);
        expect(res.status).toBe(200);
        await res.text();
        await stack.waitForRecordOf(`/page-${i}`);
      }
      const records = await stack.records();
      const sizes = records
        .filter((r) => !r.baseline)
        .map((r) => r.entries.find((e) => e.name === 'requestLog')?.dominated_size ?? 0);
      expect(sizes.length).toBeGreaterThanOrEqual(10);
      expect(sizes.at(-1)!).toBeGreaterThan(sizes[0]! + 5 * 512);
      const suspects = (await (await fetch(`${stack.proxyUrl}/_ah/apptrace/api/suspects`)).json()) as Suspect[];
      expect(suspects.find((s) => s.name === 'requestLog')?.verdict).toBe('growing');
      // The proxy's output holds its own stderr and its profiler's.
      expect(stack.proxy.output()).toMatch(/apptrace-profiler listening/);
      expect(stack.proxy.output()).not.toMatch(/DeprecationWarning|\[DEP\d+\]/);
    } finally {
      await stack.stop();
    }
  }, 240_000);

  it("analyze (on this suite's Node) reads the heap snapshot it writes", () => {
    const node = nodeBinary(major);
    const file = join(dir, `node-${major}.heapsnapshot`);
    execFileSync(node, [join(dir, 'snap.cjs'), file], { cwd: dir });
    const snapshot = JSON.parse(readFileSync(file, 'utf8')) as {
      snapshot: { meta: { node_fields: string[] } };
      nodes: number[];
    };
    const fields = snapshot.snapshot.meta.node_fields;
    // Node 24 dropped `detachedness` from the node fields; the loader reads either layout.
    expect(fields.length).toBe(major >= 24 ? 6 : 7);
    const selfSize = fields.indexOf('self_size');
    let total = 0;
    for (let i = selfSize; i < snapshot.nodes.length; i += fields.length) total += snapshot.nodes[i]!;

    const run = spawnSync(process.execPath, [PROFILER_CLI, 'analyze', file, '--root', dir, '--json'], {
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as {
      node_count: number;
      total_size: number;
      entries: { name: string; module_name: string; dominated_size: number }[];
    };
    expect(result.node_count).toBe(snapshot.nodes.length / fields.length);
    expect(result.total_size).toBe(total);
    const kept = result.entries.find((e) => e.name === 'kept' && e.module_name === 'snap.cjs');
    // 500 small objects and their strings: well over 500 × 16 bytes.
    expect(kept?.dominated_size).toBeGreaterThan(500 * 16);
  }, 120_000);
});

describe('apptrace-proxy check on Node 24', () => {
  it('finds the leak of a Node 24 target with exit 1 and prints no DeprecationWarning', async () => {
    const node = nodeBinary(24);
    const target = startProcess('target', node, ['--inspect=127.0.0.1:0', LEAK_APP], { env: { PORT: '0' } });
    const [, port] = await target.waitFor(/listening on (\d+)/);
    const [, inspectPort] = await target.waitFor(/Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//);
    const check = startProcess('check', node, [
      PROXY_CLI,
      'check',
      '--target',
      `127.0.0.1:${port}`,
      '--inspect',
      `127.0.0.1:${inspectPort}`,
      '--request',
      '/',
      '--requests',
      '12',
      '--db',
      join(dir, 'check.json'),
    ]);
    const code = await eventually(
      async () => {
        const exited = await Promise.race([
          check.exited,
          new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 200)),
        ]);
        return exited;
      },
      () => `check to finish:\n${check.output()}`,
      180_000,
    );
    expect(code, check.output()).toBe(1);
    expect(check.output()).toMatch(/requestLog/);
    expect(check.output()).not.toMatch(/DeprecationWarning|\[DEP\d+\]/);
    await target.stop();
  }, 240_000);
});
