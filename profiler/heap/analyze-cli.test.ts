/**
 * `apptrace-profiler analyze` as a process (the compiled CLI in dist/): good snapshots
 * give a summary or one JSON object, bad input exits with status 2 and says what is wrong.
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
let good: string;
let graph: GraphBuilder;

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const child = spawnSync(process.execPath, [cli, 'analyze', ...args], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'apptrace-analyze-cli-'));
  graph = new GraphBuilder();
  const root = graph.node('synthetic', '', 0);
  const global = graph.node('object', 'global', 10);
  const big = graph.node('object', 'BigThing', 5000);
  const part = graph.node('string', 'part of the big thing', 300);
  graph.edge(root, 'shortcut', 'global', global);
  graph.edge(global, 'property', 'big', big);
  graph.edge(big, 'property', 'part', part);
  good = file('good.heapsnapshot', graph.toJSON());
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('apptrace-profiler analyze', () => {
  it('prints one JSON object with --json, and the requested nodes', () => {
    const { status, stdout, stderr } = run(good, '--json', '--node', String(graph.idOf(2)), '--node', '@999999');
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out.node_count).toBe(4);
    expect(out.edge_count).toBe(3);
    expect(out.total_size).toBe(5310);
    expect(out.root_retained_size).toBe(5310);
    expect((out.top as { name: string }[]).map((n) => n.name)).toEqual(['global', 'BigThing', 'part of the big thing']);
    expect(out.nodes).toEqual([
      {
        id: graph.idOf(2),
        type: 'object',
        name: 'BigThing',
        self_size: 5000,
        retained_size: 5300,
        dominator_id: graph.idOf(1),
      },
    ]);
    expect(out.missing_nodes).toEqual([999999]);
    expect(out.entries).toEqual([]);
  });

  it('prints a readable summary without --json', () => {
    const { status, stdout } = run(good);
    expect(status).toBe(0);
    expect(stdout).toMatch(/4 nodes, 3 edges, total 5\.2 kB/);
    expect(stdout).toMatch(/5\.2 kB\s+4\.9 kB\s+@\d+\s+object\s+BigThing/);
  });

  it.each([
    ['an empty file', '', /empty/],
    ['a truncated file', null, /truncated/],
    ['JSON that is not a snapshot', '{"hello": [1, 2, 3]}', /not a V8 heap snapshot/],
    ['a snapshot with unknown fields', null, /unknown node field "colour"/],
  ])('exits 2 for %s', (_, text, message) => {
    const content =
      text ??
      (message.source.includes('truncated')
        ? graph.toJSON().slice(0, graph.toJSON().indexOf('"edges"') + 12)
        : graph.toJSON().replace('"detachedness"', '"colour"'));
    const { status, stderr, stdout } = run(file('bad.heapsnapshot', content));
    expect(status).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr).toMatch(/^apptrace-profiler: /);
  });

  it('exits 2 for a missing file and for a bad flag', () => {
    const missing = run(join(dir, 'nope.heapsnapshot'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/no such file/);
    const flag = run(good, '--colour');
    expect(flag.status).toBe(2);
    expect(flag.stderr).toMatch(/unknown flag --colour/);
    const node = run(good, '--node', 'abc');
    expect(node.status).toBe(2);
    expect(node.stderr).toMatch(/--node "abc": expected a node id/);
    const none = run();
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/no snapshot file given/);
  });
});
