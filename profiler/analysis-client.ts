import { Worker } from 'node:worker_threads';
import { AppError } from '../contract/errors.js';
import type { ErrorCode } from '../contract/errors.js';
import type { AnalysisSummary, FinishContext, WorkerAnswer, WorkerRequest } from './analysis-worker.js';
import { ChunkedAnalysis } from './analysis-worker.js';
import type { GrowthTracker } from './heap/growth-table.js';

/** One snapshot's analysis as the capture drives it: chunks in, a summary out. */
export interface SnapshotAnalysis {
  write(chunk: string): void;
  finish(context: FinishContext): Promise<AnalysisSummary>;
  /** Forgets the snapshot (cut off mid-stream). */
  abort(): void;
}

export type AnalysisFactory = () => SnapshotAnalysis;

/**
 * Runs analyses in one long-lived worker thread (analysis-worker.ts), so the profiler's
 * event loop never blocks on parsing or dominators. A worker that dies (out of memory on
 * a huge snapshot) fails the running analysis; the next one starts a fresh worker.
 *
 * @example
 *   const worker = new AnalysisWorker();
 *   const analysis = worker.begin();
 *   client.on('HeapProfiler.addHeapSnapshotChunk', ({ chunk }) => analysis.write(chunk));
 *   const summary = await analysis.finish(context);
 */
export class AnalysisWorker {
  #worker: Worker | null = null;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (s: AnalysisSummary) => void; reject: (e: unknown) => void }>();

  begin(): SnapshotAnalysis {
    const worker = this.#ensure();
    const id = this.#nextId++;
    const post = (message: WorkerRequest) => worker.postMessage(message);
    post({ type: 'begin', id });
    let done = false;
    return {
      write: (chunk) => {
        if (!done) post({ type: 'chunk', id, chunk });
      },
      finish: (context) => {
        done = true;
        return new Promise<AnalysisSummary>((resolve, reject) => {
          if (this.#worker !== worker) {
            reject(new AppError('SNAPSHOT_ABORTED', 'the analysis worker stopped during the snapshot'));
            return;
          }
          this.#pending.set(id, { resolve, reject });
          post({ type: 'finish', id, context });
        });
      },
      abort: () => {
        if (done) return;
        done = true;
        if (this.#worker === worker) post({ type: 'abort', id });
      },
    };
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = null;
    this.#failAll('SNAPSHOT_ABORTED', 'the profiler is stopping');
    await worker?.terminate();
  }

  #ensure(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(new URL('./analysis-worker.js', import.meta.url));
    // The worker must not keep a stopping profiler alive.
    worker.unref();
    worker.on('message', (answer: WorkerAnswer) => {
      const pending = this.#pending.get(answer.id);
      if (!pending) return;
      this.#pending.delete(answer.id);
      if (answer.type === 'result') pending.resolve(answer.result);
      else
        pending.reject(new AppError(answer.code as ErrorCode, `the snapshot could not be analysed: ${answer.message}`));
    });
    const gone = (why: string) => {
      if (this.#worker !== worker) return;
      this.#worker = null;
      this.#failAll('BAD_SNAPSHOT', `the analysis worker stopped (${why})`);
    };
    worker.on('error', (error) => gone(error.message));
    worker.on('exit', (code) => gone(`exit code ${code}`));
    this.#worker = worker;
    return worker;
  }

  #failAll(code: ErrorCode, message: string): void {
    for (const { reject } of this.#pending.values()) reject(new AppError(code, message));
    this.#pending.clear();
  }
}

/**
 * The same analysis on the calling thread (for small snapshots in tests, or debugging);
 * pass one GrowthTracker to successive analyses for heap-wide growers.
 */
export function inProcessAnalysis(tracker?: GrowthTracker): SnapshotAnalysis {
  const analysis = new ChunkedAnalysis(tracker);
  return {
    write: (chunk) => analysis.write(chunk),
    finish: async (context) => analysis.finish(context),
    abort: () => undefined,
  };
}
