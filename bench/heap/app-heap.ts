/**
 * A synthetic "app" heap for the heap benchmark: run as a child process
 * (`node app-heap.js UNITS OUT.heapsnapshot`), it allocates UNITS units of the kinds of
 * objects a web app keeps (maps, arrays, strings, closures with contexts, cycles, a
 * WeakMap, typed arrays) and writes a heap snapshot with `v8.writeHeapSnapshot`.
 */
import { writeHeapSnapshot } from 'node:v8';

class Session {
  readonly id: number;
  readonly user: string;
  tags: string[];
  peer: Session | null = null;
  constructor(id: number, user: string, tags: string[]) {
    this.id = id;
    this.user = user;
    this.tags = tags;
  }
}

function makeHandler(prefix: string, counter: { hits: number }): () => string {
  // A closure with its own context: `prefix` and `counter` live in it.
  return () => `${prefix}:${++counter.hits}`;
}

export function buildHeap(units: number): unknown {
  const sessions = new Map<string, Session>();
  const handlers: (() => string)[] = [];
  const blobs: Uint8Array[] = [];
  const weak = new WeakMap<object, { note: string }>();
  const keys: object[] = [];
  const cache: Record<string, unknown> = {};
  let previous: Session | null = null;
  for (let i = 0; i < units; i++) {
    // Strings with escapes, non-Latin-1 text and astral characters, so that the
    // snapshot's string table exercises the parser's slow paths too.
    const user = i % 50 === 0 ? `user "${i}"\n\t\u00e9\u4e2d\ud83d\ude00` : `user-${i}-${'x'.repeat(i % 24)}`;
    const session = new Session(i, user, [`t${i % 7}`, `g${i % 13}`, `r${i}`]);
    if (previous && i % 3 === 0) {
      // A cycle between two sessions.
      session.peer = previous;
      previous.peer = session;
    }
    previous = session;
    sessions.set(`s${i}`, session);
    if (i % 4 === 0) handlers.push(makeHandler(`h${i}`, { hits: i }));
    if (i % 16 === 0) blobs.push(new Uint8Array(64 + (i % 512)));
    if (i % 8 === 0) {
      const key = { k: i };
      keys.push(key);
      weak.set(key, { note: `weak value ${i}` });
    }
    if (i % 10 === 0) cache[`entry${i}`] = { at: i, list: [i, i + 1, i + 2], when: new Date(i) };
  }
  return { sessions, handlers, blobs, weak, keys, cache };
}

const [unitsArg, out] = process.argv.slice(2);
if (unitsArg && out) {
  const heap = buildHeap(Number(unitsArg));
  (globalThis as Record<string, unknown>).__benchHeap = heap;
  writeHeapSnapshot(out);
}
