/**
 * What the growth paths cost on top of an analysis: `node dist/bench/heap/growth-path.js
 * FILE.heapsnapshot [ROOT]`. Analyses the file with entries (the app's scripts under
 * ROOT, by default the working directory), then times the path walk (heap/growth-path.ts) for every entry, as the analysis worker does, and
 * for the 200 largest retainers as a harder case. Not a test: a figure to read.
 */
import { analyzeFile } from '../../profiler/heap/analyze.js';
import { growthPath } from '../../profiler/heap/growth-path.js';
import { createModuleMatcher, readScriptSource } from '../../profiler/heap/module-match.js';
import { findNodeById } from '../../profiler/heap/graph.js';

const file = process.argv[2];
if (!file) {
  console.error('usage: node dist/bench/heap/growth-path.js FILE.heapsnapshot [ROOT]');
  process.exitCode = 2;
} else {
  const modules = createModuleMatcher({ root: process.argv[3] ?? process.cwd(), patterns: [] });
  const result = await analyzeFile(file, {
    entries: { traced: modules.traced, filename: modules.filename, source: readScriptSource },
  });
  const nfc = result.snapshot.layout.nodeFieldCount;
  console.log(
    `${file}: ${result.node_count} nodes, ${result.edge_count} edges; parse ${result.timings.parse_ms} ms, dominators ${result.timings.dominators_ms} ms, entries ${result.timings.entries_ms} ms`,
  );

  const entryNodes = result.entries
    .map((e) => (e.id === undefined ? -1 : findNodeById(result.snapshot, e.id)))
    .filter((o) => o >= 0);
  const top = result.top(200).map((n) => findNodeById(result.snapshot, n.id) * nfc);
  for (const [label, nodes] of [
    [`${entryNodes.length} entries`, entryNodes.map((o) => o * nfc)],
    ['the 200 largest retainers', top],
  ] as const) {
    const runs: number[] = [];
    let steps = 0;
    for (let run = 0; run < 5; run++) {
      const t = performance.now();
      steps = 0;
      for (const node of nodes) steps += growthPath(result.snapshot, result.dominators, node / nfc).length;
      runs.push(performance.now() - t);
    }
    runs.sort((a, b) => a - b);
    // The single costliest path: the walk reads every edge of the nodes it passes.
    let worst = { ms: 0, path: '' };
    for (const node of nodes) {
      const t = performance.now();
      const path = growthPath(result.snapshot, result.dominators, node / nfc);
      const ms = performance.now() - t;
      if (ms > worst.ms) worst = { ms, path: path.map((s) => `${s.edge || s.name}(${s.length})`).join(' → ') };
    }
    console.log(
      `growth paths of ${label}: ${steps} steps, median ${runs[2]!.toFixed(2)} ms (min ${runs[0]!.toFixed(2)}, max ${runs[4]!.toFixed(2)}) over 5 runs`,
    );
    if (nodes.length > 0) console.log(`  costliest single path ${worst.ms.toFixed(2)} ms: ${worst.path}`);
  }
}
