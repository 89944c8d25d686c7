/**
 * A file analysis reads the `edges` array — about half of a snapshot's numbers — on a
 * second thread while the main thread reads the rest of the same file: the two halves
 * of the loading run side by side. The worker finds the section on its own (the first
 * `"` after the start of `nodes`: number arrays hold none), decodes it with the same
 * WebAssembly loop as the loader into shared memory and checks it (checkEdges); then it
 * takes on part of the dominator work (see EdgesWorker). The main thread's loader
 * jumps over the section (`externalEdges`, findEdgesEnd) and takes the array only if
 * it spans exactly the bytes it saw there; anything odd and the caller loads the file
 * the ordinary way, which also gives the ordinary error messages.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { debug } from '../../common/debug-log.js';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { checkEdges, edgeCheckLayout } from './edge-check.js';
import { markPageObjects } from './dominators.js';
import type { EssentialApart } from './dominators.js';
import type { ExternalEdges } from './loader.js';
import type { SnapshotLayout } from './snapshot.js';
import { WASM_INPUT_SIZE, WASM_WINDOW_VALUES, WasmNumberReader } from './wasm-numbers.js';

export interface EdgesRequest {
  path: string;
  layout: SnapshotLayout;
  nodeCount: number;
  /** Byte offset of the first value of `nodes`: the search for `"edges"` starts there. */
  from: number;
  /** How many values the header promises (edge count × edge field count). */
  values: number;
}

const C_QUOTE = 34;
const C_CLOSE_BRACKET = 93;
const SECTION_KEY = /^"edges"\s*:\s*\[/;

/** Reads and checks the `edges` section of the file (in the worker). Throws on anything unexpected. */
export function readEdgesSection(request: EdgesRequest): ExternalEdges {
  const fd = openSync(request.path, 'r');
  try {
    const buf = Buffer.allocUnsafe(WASM_INPUT_SIZE);
    let pos = request.from;
    // The key: the first quote after the nodes' values.
    let quote = -1;
    while (quote === -1) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) throw new Error('no "edges" section after "nodes"');
      const at = buf.subarray(0, n).indexOf(C_QUOTE);
      if (at !== -1) quote = pos + at;
      else pos += n;
    }
    const head = Buffer.allocUnsafe(64);
    const key = SECTION_KEY.exec(head.subarray(0, readSync(fd, head, 0, head.length, quote)).toString('latin1'));
    if (!key) throw new Error('the section after "nodes" is not "edges"');
    const start = quote + key[0].length;

    const reader = WasmNumberReader.create(0, WASM_WINDOW_VALUES);
    if (!reader) throw new Error('WebAssembly is not available');
    reader.begin(reader.edges);
    // Shared: the main thread reads it while the worker goes on with it.
    const edges = new Uint32Array(new SharedArrayBuffer(request.values * 4));
    let count = 0;
    pos = start;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) throw new Error('the file ends inside "edges"');
      const stop = reader.read(buf, 0, n);
      count += reader.drain(edges, count);
      if (stop !== -1) {
        if (buf[stop] !== C_CLOSE_BRACKET) throw new Error(`unexpected byte in "edges" at ${pos + stop}`);
        reader.flush();
        count += reader.drain(edges, count);
        if (count !== request.values) throw new Error(`"edges" has ${count} values, not ${request.values}`);
        // The root is node 0: the loader refuses any other root_index.
        const check = checkEdges(edges, edgeCheckLayout(request.layout, request.nodeCount, 0));
        return { edges, start, end: pos + stop, check };
      }
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
}

const NEXT_KEY = Buffer.from('"trace_function_infos"');

/**
 * Where the `edges` section of a snapshot file ends — the offset of its `]` — found
 * from the end of the file, so that the main thread need not read the section: V8
 * writes "trace_function_infos" right after it, and valid JSON has that key nowhere
 * else (quotes inside strings are escaped). Looks through the last 40% of the file at
 * most; undefined when not found (the section is then read through).
 */
export function findEdgesEnd(path: string, edgesStart: number): number | undefined {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const limit = Math.max(edgesStart, size - Math.floor(size * 0.4));
    const block = 1 << 20;
    const buf = Buffer.allocUnsafe(block + NEXT_KEY.length);
    for (let end = size; end > limit; ) {
      const start = Math.max(limit, end - block);
      // Overlapping the next block by the key's length: a key across the border is found here.
      const n = readSync(fd, buf, 0, Math.min(end + NEXT_KEY.length, size) - start, start);
      const at = buf.subarray(0, n).lastIndexOf(NEXT_KEY);
      if (at !== -1) {
        // Back over whitespace and the comma to the section's `]`.
        const from = Math.max(edgesStart, start + at - 64);
        const before = buf.subarray(0, readSync(fd, buf, 0, start + at - from, from));
        let k = before.length - 1;
        while (k >= 0 && (before[k] === 32 || before[k] === 10 || before[k] === 13 || before[k] === 9)) k--;
        if (k < 0 || before[k] !== 44) return undefined;
        k--;
        while (k >= 0 && (before[k] === 32 || before[k] === 10 || before[k] === 13 || before[k] === 9)) k--;
        return k >= 0 && before[k] === C_CLOSE_BRACKET ? from + k : undefined;
      }
      end = start;
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * The page-object flags from the root's shortcut edges (see markPageObjects), which
 * need only the edges and where each node's edges start: the worker computes them
 * while the main thread is still reading the strings.
 */
export function globalPageObjects(request: EdgesRequest, edges: Uint32Array, firstEdge: Uint32Array): Uint8Array {
  const flags = new Uint8Array(request.nodeCount);
  const stack = new Uint32Array(request.nodeCount + 1);
  markPageObjects({ edges, layout: request.layout }, firstEdge, 0, flags, stack, { globals: true, domTrees: false });
  return flags;
}

/** Messages to the worker, in this order (the request first). */
export type ToWorker =
  | { type: 'first-edges'; firstEdge: Uint32Array }
  | { type: 'essential'; weakMapTables: Map<number, number> | null }
  | { type: 'shallow'; inputs: { kinds: Uint8Array; selfSize: Uint32Array } | null };

/** Messages from the worker, in this order; 'failed' ends them at any point. */
type FromWorker =
  | { type: 'edges'; edges: ExternalEdges }
  | { type: 'page-objects'; pageObjects: Uint8Array }
  | { type: 'essential'; essential: EssentialApart }
  | { type: 'self-size'; selfSize: Uint32Array }
  | { type: 'failed'; message: string };

const workerFile = fileURLToPath(new URL('./edges-worker.js', import.meta.url));

function deferred<T>(): { promise: Promise<T | null>; resolve: (value: T | null) => void } {
  let resolve!: (value: T | null) => void;
  const promise = new Promise<T | null>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The main thread's side: one worker per file, started before the file is opened so
 * that its start-up overlaps the reading of the header and nodes. The worker reads the
 * edges (into shared memory: both threads read them afterwards), then marks the global
 * page objects once it has the nodes' first-edge offsets, then the edges that count
 * once it has the WeakMap edge names, then computes the shallow sizes once it has
 * their inputs (DominatorHelp).
 */
export class EdgesWorker {
  private readonly worker: Worker;
  private readonly edgesAnswer = deferred<ExternalEdges>();
  private readonly pageObjectsAnswer = deferred<Uint8Array>();
  private readonly essentialAnswer = deferred<EssentialApart>();
  private readonly selfSizeAnswer = deferred<Uint32Array>();

  /** Null when the worker's script is not there (running from the TypeScript sources). */
  static start(): EdgesWorker | null {
    return existsSync(workerFile) ? new EdgesWorker() : null;
  }

  private constructor() {
    // None of the process's own flags (a preloaded `--import`, a loader): the worker
    // runs only this compiled module, and each would delay its start.
    this.worker = new Worker(workerFile, { execArgv: [] });
    const failAll = () => {
      this.edgesAnswer.resolve(null);
      this.pageObjectsAnswer.resolve(null);
      this.essentialAnswer.resolve(null);
      this.selfSizeAnswer.resolve(null);
    };
    this.worker.on('message', (message: FromWorker) => {
      if (message.type === 'edges') this.edgesAnswer.resolve(message.edges);
      else if (message.type === 'page-objects') this.pageObjectsAnswer.resolve(message.pageObjects);
      else if (message.type === 'essential') this.essentialAnswer.resolve(message.essential);
      else if (message.type === 'self-size') this.selfSizeAnswer.resolve(message.selfSize);
      else {
        debug('edges worker failed: %s', message.message);
        failAll();
      }
    });
    this.worker.once('error', (error) => {
      debug('edges worker error: %s', error.message);
      failAll();
    });
    this.worker.once('exit', failAll);
  }

  request(request: EdgesRequest): void {
    this.worker.postMessage(request);
  }

  /** Each node's first-edge offsets (buildFirstEdgeIndexes); the array moves to the worker. */
  sendFirstEdges(firstEdge: Uint32Array<ArrayBuffer>): void {
    const message: ToWorker = { type: 'first-edges', firstEdge };
    this.worker.postMessage(message, [firstEdge.buffer]);
  }

  /**
   * The WeakMap edge names (weakMapEdgeNames) for the essential-edge pass; null: the
   * main thread does that pass (a heap with DOM trees has page objects the worker
   * does not know of).
   */
  sendEssentialInputs(weakMapTables: Map<number, number> | null): void {
    const message: ToWorker = { type: 'essential', weakMapTables };
    this.worker.postMessage(message);
  }

  /** shallowSizeInputs (null: none to compute); the arrays move to the worker. */
  sendShallowInputs(inputs: { kinds: Uint8Array<ArrayBuffer>; selfSize: Uint32Array<ArrayBuffer> } | null): void {
    const message: ToWorker = { type: 'shallow', inputs };
    this.worker.postMessage(message, inputs ? [inputs.kinds.buffer, inputs.selfSize.buffer] : []);
  }

  /** The parsed section (its array in shared memory), or null when the worker could not read it. */
  edges(): Promise<ExternalEdges | null> {
    return this.edgesAnswer.promise;
  }

  pageObjects(): Promise<Uint8Array | null> {
    return this.pageObjectsAnswer.promise;
  }

  essential(): Promise<EssentialApart | null> {
    return this.essentialAnswer.promise;
  }

  selfSize(): Promise<Uint32Array | null> {
    return this.selfSizeAnswer.promise;
  }

  stop(): void {
    void this.worker.terminate();
  }
}
