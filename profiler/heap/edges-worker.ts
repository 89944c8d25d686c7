/**
 * Worker thread of a file analysis: reads one snapshot's `edges` section
 * (readEdgesSection) and sends the array back without a copy.
 */
import { parentPort } from 'node:worker_threads';
import { readEdgesSection } from './edges-section.js';
import type { EdgesRequest } from './edges-section.js';

parentPort!.once('message', (request: EdgesRequest) => {
  try {
    const edges = readEdgesSection(request);
    parentPort!.postMessage({ ok: true, edges }, [edges.edges.buffer as ArrayBuffer]);
  } catch (error) {
    parentPort!.postMessage({ ok: false, message: (error as Error).message });
  }
});
