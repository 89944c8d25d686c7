/**
 * Worker thread of a file analysis (see EdgesWorker): reads one snapshot's `edges`
 * section into shared memory (readEdgesSection), then marks the page objects of the
 * global objects (globalPageObjects), then the edges that count
 * (markEssentialEdgesApart), then computes the shallow sizes (ownedSizes), each as
 * soon as the main thread has sent what it needs.
 */
import { parentPort } from 'node:worker_threads';
import { markEssentialEdgesApart, ownedSizes } from './dominators.js';
import { globalPageObjects, readEdgesSection } from './edges-section.js';
import type { EdgesRequest, ToWorker } from './edges-section.js';

const port = parentPort!;
const inbox: unknown[] = [];
let wake: (() => void) | null = null;
port.on('message', (message: unknown) => {
  inbox.push(message);
  wake?.();
});

async function next<T>(): Promise<T> {
  while (inbox.length === 0) await new Promise<void>((resolve) => (wake = resolve));
  return inbox.shift() as T;
}

async function main(): Promise<void> {
  const request = await next<EdgesRequest>();
  try {
    const section = readEdgesSection(request);
    port.postMessage({ type: 'edges', edges: section });
    const { firstEdge } = await next<Extract<ToWorker, { type: 'first-edges' }>>();
    const pageObjects = globalPageObjects(request, section.edges, firstEdge);
    const graph = { edges: section.edges, layout: request.layout };
    const { weakMapTables } = await next<Extract<ToWorker, { type: 'essential' }>>();
    if (weakMapTables) {
      const essential = markEssentialEdgesApart(graph, request.nodeCount, firstEdge, 0, pageObjects, weakMapTables);
      port.postMessage({ type: 'essential', essential }, [
        essential.essential.buffer as ArrayBuffer,
        essential.retainerCount.buffer as ArrayBuffer,
        essential.pending.buffer as ArrayBuffer,
      ]);
    }
    // Sent last: the essential-edge pass needed them.
    port.postMessage({ type: 'page-objects', pageObjects }, [pageObjects.buffer as ArrayBuffer]);
    const { inputs } = await next<Extract<ToWorker, { type: 'shallow' }>>();
    if (inputs) {
      const selfSize = ownedSizes(graph, firstEdge, 0, inputs.kinds, inputs.selfSize);
      port.postMessage({ type: 'self-size', selfSize }, [selfSize.buffer as ArrayBuffer]);
    }
  } catch (error) {
    port.postMessage({ type: 'failed', message: (error as Error).message });
  }
  port.close();
}

void main();
