/**
 * `apptrace-profiler analyze FILE [--trace-module P]... [--node ID]... [--json]`: the
 * heap analysis of the live profiler, run offline on a saved `.heapsnapshot` (from
 * DevTools, `node --heapsnapshot-signal`, `v8.writeHeapSnapshot`, production).
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { AppError } from '../contract/errors.js';
import { formatBytes } from '../common/format-bytes.js';
import { badFlag, formatHelp, parseOptions } from '../common/options.js';
import type { OptionSpec } from '../common/options.js';
import { analyzeFile, nodeInfo } from './heap/analyze.js';
import type { AnalysisResult, NodeDetails, NodeSummary } from './heap/analyze.js';
import { largestCollections } from './heap/heap-growers.js';
import type { HeapGrowthOutput } from './heap/heap-growers.js';
import { checkModulePattern, createModuleMatcher, readScriptSource } from './heap/module-match.js';

const USAGE = 'Usage: apptrace-profiler analyze FILE.heapsnapshot [options]';

const SPECS: OptionSpec[] = [
  {
    name: 'trace-module',
    kind: 'list',
    value: 'PATTERN',
    check: checkModulePattern,
    help: "which scripts' top-level objects are entries: a glob over the script path relative to --root (`*` within a folder, `**` across folders; a plain path names a file or folder; absolute paths and node:… also work). A pattern may also name a script's original source: `src/store.ts` traces `dist/store.js` built from it with source maps. Default: the app's own scripts, not node_modules nor node: internals",
  },
  {
    name: 'node',
    kind: 'list',
    value: 'ID',
    help: 'also report the node with this V8 id (the @123 DevTools shows); repeatable',
    check: (value) => {
      const id = value.startsWith('@') ? value.slice(1) : value;
      if (!/^\d+$/.test(id)) throw new Error('expected a node id such as 123 or @123');
      return id;
    },
  },
  {
    name: 'heap-wide',
    kind: 'boolean',
    help: 'also list the collections holding the most anywhere in the heap (properties, elements, Map/Set entries), each named after its holder, with its owner in the app and its shortest retaining path: what the live profiler reports for objects that keep growing',
  },
  {
    name: 'root',
    kind: 'string',
    value: 'DIR',
    help: "the app's root: module names are relative to it (default: the current directory)",
  },
  { name: 'json', kind: 'boolean', help: 'print one JSON object on stdout instead of a summary' },
  { name: 'help', kind: 'boolean', help: 'show this help' },
];

const FOOTER = `With --json the object has node_count, edge_count, total_size, root_retained_size,
top (the 20 largest objects by retained size: id, type, name, self_size,
retained_size), entries (as in a record), nodes (one per --node), collections (with
--heap-wide, shaped as a record's growers), warnings, timings.
Sizes follow Chrome DevTools' definitions (retained size = bytes freed if the
object went away). Exit status 2 for a missing or bad file or a bad flag.`;

/** Snapshots at least this big get a progress line on stderr even when it is not a TTY. */
const PROGRESS_BYTES = 64 << 20;

export async function runAnalyzeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, SPECS, {
    env: process.env,
    command: 'apptrace-profiler analyze',
  });
  if (values.help) {
    process.stdout.write(formatHelp(USAGE, SPECS, FOOTER));
    return 0;
  }
  if (positionals.length === 0) badFlag(`no snapshot file given. ${USAGE}`);
  if (positionals.length > 1) badFlag(`one snapshot file at a time (got ${positionals.length}). ${USAGE}`);
  const file = positionals[0]!;
  const size = fileSize(file);

  const modules = createModuleMatcher({
    root: resolve((values.root as string | undefined) ?? process.cwd()),
    patterns: values['trace-module'] as string[] | undefined,
  });
  // Progress goes to stderr: on a terminal always, elsewhere only for big files (and
  // never with --json, whose readers want a quiet stderr unless it is a terminal).
  const showProgress = process.stderr.isTTY === true || (!values.json && size >= PROGRESS_BYTES);
  let lastShown = -1;
  const onProgress = showProgress
    ? (bytes: number, total: number): void => {
        const percent = total > 0 ? Math.floor((bytes / total) * 100) : 100;
        if (percent === lastShown || percent % 10 !== 0) return;
        lastShown = percent;
        process.stderr.write(`reading ${file}: ${percent}%${process.stderr.isTTY ? '\r' : '\n'}`);
      }
    : undefined;

  const result = await analyzeFile(file, {
    onProgress,
    entries: { traced: modules.traced, filename: modules.filename, source: readScriptSource },
  });
  if (showProgress && process.stderr.isTTY) process.stderr.write('\n');

  const heapWide = values['heap-wide']
    ? largestCollections(result, {
        traced: modules.traced,
        filename: modules.filename,
        source: readScriptSource,
        appUrls: appScriptUrls(result, modules.root, modules.traced),
      })
    : undefined;

  const nodes: NodeDetails[] = [];
  const missing: string[] = [];
  for (const id of (values.node as string[] | undefined) ?? []) {
    const info = nodeInfo(result, Number(id));
    if (info) nodes.push(info);
    else missing.push(id);
  }

  if (values.json) {
    process.stdout.write(
      JSON.stringify({
        file,
        node_count: result.node_count,
        edge_count: result.edge_count,
        total_size: result.total_size,
        root_retained_size: result.root_retained_size,
        top: result.top(20),
        entries: result.entries,
        nodes,
        missing_nodes: missing.map(Number),
        ...(heapWide ? { collections: heapWide.growers } : {}),
        warnings: result.warnings,
        timings: heapWide ? { ...result.timings, heap_wide_ms: Math.round(heapWide.ms * 10) / 10 } : result.timings,
      }) + '\n',
    );
  } else {
    process.stdout.write(formatSummary(file, result, nodes, missing) + (heapWide ? formatCollections(heapWide) : ''));
  }
  return 0;
}

/** The app's scripts named in the heap (for the app's call into a library), offline. */
function appScriptUrls(result: AnalysisResult, root: string, traced: (url: string) => string | undefined): string[] {
  return [...new Set(result.entries.map((e) => e.module_name))].flatMap((name) => {
    const url = resolve(root, name);
    return traced(url) !== undefined ? [url] : [];
  });
}

function formatCollections(output: HeapGrowthOutput): string {
  const lines = [
    '',
    `Largest collections anywhere in the heap (${output.table.ids.length} objects compared, ${Math.round(output.ms)} ms):`,
  ];
  for (const c of output.growers) {
    lines.push(
      `  ${String(c.length).padStart(8)} held  ${bytes(c.dominated_size).padStart(10)}  @${String(c.id).padEnd(9)} ${c.name}  (${c.owner.kind} ${c.owner.name}, ${c.filename}:${c.lineno})`,
    );
    lines.push(
      `      path: ${c.retainers.map((r) => (r.edge === '' ? r.name || '(root)' : `${r.edge} → ${r.name}`)).join(' / ')}`,
    );
  }
  return lines.join('\n') + '\n';
}

function fileSize(file: string): number {
  try {
    const stat = statSync(file);
    if (!stat.isFile())
      throw new AppError('BAD_SNAPSHOT', `${file} is not a file; give the path of a .heapsnapshot file.`);
    return stat.size;
  } catch (error) {
    if (error instanceof AppError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new AppError(
      'BAD_SNAPSHOT',
      code === 'ENOENT'
        ? `${file}: no such file; give the path of a .heapsnapshot file.`
        : `cannot read ${file}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

function bytes(n: number): string {
  return formatBytes(n, { kilo: 'kB' });
}

function shortName(name: string): string {
  const oneLine = name.replace(/\s+/g, ' ');
  return oneLine.length > 60 ? oneLine.slice(0, 57) + '...' : oneLine;
}

function nodeLine(n: NodeSummary): string {
  return `  ${bytes(n.retained_size).padStart(10)}  ${bytes(n.self_size).padStart(10)}  @${String(n.id).padEnd(9)} ${n.type.padEnd(10)} ${shortName(n.name)}`;
}

function formatSummary(file: string, result: AnalysisResult, nodes: NodeDetails[], missing: string[]): string {
  const lines: string[] = [];
  lines.push(`${file}`);
  lines.push(
    `  ${result.node_count} nodes, ${result.edge_count} edges, total ${bytes(result.total_size)}` +
      ` (parse ${result.timings.parse_ms} ms, dominators ${result.timings.dominators_ms} ms, entries ${result.timings.entries_ms} ms)`,
  );
  for (const w of result.warnings) lines.push(`  warning: ${w}`);
  lines.push('', 'Largest objects by retained size:', `  ${'retained'.padStart(10)}  ${'self'.padStart(10)}  id`);
  for (const n of result.top(20)) lines.push(nodeLine(n));
  lines.push('', `Entries of traced modules (${result.entries.length}):`);
  if (result.entries.length === 0) {
    lines.push('  none (no traced module has live top-level objects; see --trace-module in --help)');
  }
  for (const e of [...result.entries].sort((a, b) => b.dominated_size - a.dominated_size)) {
    lines.push(
      `  ${bytes(e.dominated_size).padStart(10)}  ${e.obj_type.padEnd(12)} ${e.name}  (${e.filename}:${e.lineno}, module ${e.module_name})`,
    );
  }
  if (nodes.length > 0 || missing.length > 0) {
    lines.push('', 'Requested nodes:');
    for (const n of nodes) lines.push(`${nodeLine(n)}  (dominator @${n.dominator_id})`);
    for (const id of missing) lines.push(`  @${id}: no node with this id in the snapshot`);
  }
  return lines.join('\n') + '\n';
}
