/**
 * A file analysis reads the `edges` array — about half of a snapshot's numbers — on a
 * second thread while the main thread reads the rest of the same file: the two halves
 * of the loading run side by side. The worker finds the section on its own (the first
 * `"` after the start of `nodes`: number arrays hold none), decodes it with the same
 * WebAssembly loop as the loader into an array of its own, checks it (checkEdges) and
 * hands it over without a copy. The main thread's loader skips the section
 * (`externalEdges`) and takes the array only if it spans exactly the bytes it saw
 * there; anything odd and the caller loads the file the ordinary way, which also gives
 * the ordinary error messages.
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { checkEdges } from './edge-check.js';
import type { EdgeCheckLayout } from './edge-check.js';
import type { ExternalEdges } from './loader.js';
import { WASM_INPUT_SIZE, WASM_WINDOW_VALUES, WasmNumberReader } from './wasm-numbers.js';

export interface EdgesRequest {
  path: string;
  /** Byte offset of the first value of `nodes`: the search for `"edges"` starts there. */
  from: number;
  /** How many values the header promises (edge count × edge field count). */
  values: number;
  check: EdgeCheckLayout;
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
    const edges = new Uint32Array(request.values);
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
        return { edges, start, end: pos + stop, check: checkEdges(edges, request.check) };
      }
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
}

type WorkerAnswer = { ok: true; edges: ExternalEdges } | { ok: false; message: string };

const workerFile = fileURLToPath(new URL('./edges-worker.js', import.meta.url));

/**
 * The main thread's side: one worker per file, started before the file is opened so
 * that its start-up overlaps the reading of the header and nodes.
 */
export class EdgesWorker {
  private readonly worker: Worker;
  private readonly answer: Promise<ExternalEdges | null>;

  /** Null when the worker's script is not there (running from the TypeScript sources). */
  static start(): EdgesWorker | null {
    return existsSync(workerFile) ? new EdgesWorker() : null;
  }

  private constructor() {
    this.worker = new Worker(workerFile);
    this.answer = new Promise((resolve) => {
      this.worker.once('message', (answer: WorkerAnswer) => resolve(answer.ok ? answer.edges : null));
      this.worker.once('error', () => resolve(null));
      this.worker.once('exit', () => resolve(null));
    });
  }

  request(request: EdgesRequest): void {
    this.worker.postMessage(request);
  }

  /** The parsed section, or null when the worker could not read it. */
  result(): Promise<ExternalEdges | null> {
    return this.answer;
  }

  stop(): void {
    void this.worker.terminate();
  }
}
