/**
 * Streaming loader for V8 heap snapshots (`.heapsnapshot`, the JSON that
 * `v8.writeHeapSnapshot` writes and CDP's `HeapProfiler.addHeapSnapshotChunk` streams).
 *
 * The snapshot is never held as one string: it arrives in chunks (strings cut anywhere,
 * as CDP sends them, or Buffers read from a file) and a byte-level state machine decodes
 * the flat number arrays straight into typed arrays preallocated from the header's
 * counts, keeping a half-read number, string or escape across chunk boundaries. The
 * string table is kept as bytes and decoded per string on demand (StringTable). This is
 * what lets a snapshot larger
 * than V8's maximum string length (512 MB) load, and it is several times faster than
 * `JSON.parse` of the same text.
 *
 * Format: https://v8.dev/docs/heap-snapshot (fields described by `snapshot.meta`);
 * DevTools' HeapSnapshotLoader.ts reads the same format.
 *
 * @example
 *   const loader = new SnapshotLoader();
 *   for await (const chunk of stream) loader.write(chunk);
 *   const snapshot = loader.end();
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { AppError } from '../../contract/errors.js';
import { checkEdges, edgeCheckLayout } from './edge-check.js';
import type { EdgeCheck } from './edge-check.js';
import { layoutFromMeta } from './layout.js';
import type { HeapSnapshot, SnapshotLayout, SnapshotMeta } from './snapshot.js';
import { StringTableBuilder } from './string-table.js';
import type { StringTable } from './string-table.js';
import { WasmNumberReader } from './wasm-numbers.js';

// Parser modes: what the next byte belongs to.
const M_TOP = 0; // between top-level tokens
const M_KEY = 1; // inside a top-level key
const M_HEADER = 2; // inside the "snapshot" header object (collected, then JSON.parse'd)
const M_NUMBERS = 3; // inside a flat array of unsigned integers
const M_NESTED = 4; // inside a nested array of unsigned integers (trace_tree)
const M_STRINGS = 5; // inside the string table
const M_SKIP = 6; // inside a value we do not use
const M_DONE = 7; // after the closing brace
const M_WASM = 8; // inside "nodes" or "edges", decoded by WebAssembly
const M_EXTERNAL = 9; // inside "edges" while another thread parses them (see provideEdges)

// What the top level expects next.
const T_OPEN = 0; // `{`
const T_KEY = 1; // a key or `}`
const T_COLON = 2;
const T_VALUE = 3;
const T_COMMA = 4; // `,` or `}`

const C_QUOTE = 34;
const C_BACKSLASH = 92;
const C_COMMA = 44;
const C_OPEN_BRACKET = 91;
const C_CLOSE_BRACKET = 93;
const C_OPEN_BRACE = 123;
const C_CLOSE_BRACE = 125;
const C_COLON = 58;

const MAX_HEADER_BYTES = 16 << 20;
/** The parent row of trace_tree's root (see readNestedNumbers). */
export const TRACE_ROOT_PARENT = 0xffffffff;
function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function bad(message: string): never {
  throw new AppError('BAD_SNAPSHOT', message);
}

/** Fixed-size arrays are checked by count at the end; growable ones double as needed. */
interface NumberTarget {
  key: string;
  array: Uint32Array;
  growable: boolean;
  /** For fixed arrays: how many values the header promised. */
  expected: number;
}

interface SnapshotHeader {
  meta: SnapshotMeta;
  node_count: number;
  edge_count: number;
  trace_function_count?: number;
  root_index?: number;
}

export interface LoaderOptions {
  /** Called after each chunk with the bytes consumed so far. */
  onProgress?: (bytes: number) => void;
  /** Called once the header is read, with the counts (to allocate what comes next early). */
  onHeader?: (counts: { nodeCount: number; edgeCount: number; layout: SnapshotLayout }) => void;
  /**
   * The `edges` array is parsed elsewhere (a file analysis hands it to a worker): the
   * loader only finds where the section starts and ends, and `provideEdges` gives it
   * the array before `end()`.
   */
  externalEdges?: boolean;
  /**
   * Called as a number array begins, with the absolute byte offset of its first value
   * (after the `[`).
   */
  onSection?: (key: string, offset: number, header: LoadedHeader) => void;
}

/** What the header says, as the loader hands it on. */
export interface LoadedHeader {
  nodeCount: number;
  edgeCount: number;
  layout: SnapshotLayout;
  /** The nodes array: complete once `edges` begins. */
  nodes: Uint32Array;
}

/** The `edges` array of a file, parsed by another thread (see edges-section.ts). */
export interface ExternalEdges {
  edges: Uint32Array;
  /** Byte offset of the section's first value (after the `[`) and of its `]`. */
  start: number;
  end: number;
  check: EdgeCheck;
}

export class SnapshotLoader {
  private mode = M_TOP;
  private top = T_OPEN;
  private bytes = 0;
  private readonly onProgress: ((bytes: number) => void) | undefined;
  /** A high surrogate that ended a string chunk: its low half starts the next chunk. */
  private heldSurrogate = '';

  // The key being read and the value it names.
  private keyParts: number[] = [];
  private key = '';
  private readonly seenKeys = new Set<string>();

  // Header (or skipped value) scanning: nesting depth and string state.
  private depth = 0;
  private inString = false;
  private escaped = false;
  private headerParts: Buffer[] = [];
  private headerBytes = 0;
  private skipPrimitive = false;

  // Number arrays. `value` starts as a non-integer so that V8 stores the field as a
  // double from the start (changing its representation later deoptimizes the hot loop).
  private target: NumberTarget | null = null;
  private count = 0;
  private value = 0.5;
  private hasDigit = false;

  // String table, read into bytes and offsets.
  private stringBuilder: StringTableBuilder | null = null;

  /** While reading trace_tree: fields per node, rows so far, the parents' rows. */
  private tree: { fields: number; filled: number; rows: number; last: number; parents: number[] } | null = null;

  private header: SnapshotHeader | null = null;
  private layout: SnapshotLayout | null = null;
  private nodes: Uint32Array | null = null;
  private edges: Uint32Array | null = null;
  private wasm: WasmNumberReader | null = null;
  private readonly arrays = new Map<string, Uint32Array>();
  private readonly warnings: string[] = [];

  private readonly onHeader: LoaderOptions['onHeader'];
  private readonly onSection: LoaderOptions['onSection'];
  private readonly externalEdges: boolean;
  /** Where the `edges` section was found (externalEdges), and what came for it. */
  private edgesSpan: { start: number; end: number } | null = null;
  private edgeCheck: EdgeCheck | null = null;

  constructor(options: LoaderOptions = {}) {
    this.onProgress = options.onProgress;
    this.onHeader = options.onHeader;
    this.onSection = options.onSection;
    this.externalEdges = options.externalEdges ?? false;
  }

  /** Feeds the next piece of the snapshot: a string (CDP chunk) or bytes (file). */
  write(chunk: string | Buffer | Uint8Array): void {
    let buf: Buffer;
    if (typeof chunk === 'string') {
      let text = this.heldSurrogate ? this.heldSurrogate + chunk : chunk;
      this.heldSurrogate = '';
      // A chunk may end between the two halves of a surrogate pair; encoding the lone
      // half would turn it into U+FFFD, so keep it for the next chunk.
      const last = text.charCodeAt(text.length - 1);
      if (last >= 0xd800 && last <= 0xdbff) {
        this.heldSurrogate = text.slice(-1);
        text = text.slice(0, -1);
      }
      // Encoding is native and ~10x faster than walking the string with charCodeAt.
      buf = Buffer.from(text, 'utf8');
    } else {
      buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
    this.feed(buf);
    this.bytes += buf.length;
    this.onProgress?.(this.bytes);
  }

  private feed(buf: Buffer): void {
    const end = buf.length;
    let i = 0;
    while (i < end) {
      switch (this.mode) {
        case M_WASM:
          i = this.readWasmNumbers(buf, i, end);
          break;
        case M_EXTERNAL: {
          // The values have no `]` in them: the first one ends the section.
          const close = buf.indexOf(C_CLOSE_BRACKET, i);
          if (close === -1) {
            i = end;
            break;
          }
          this.edgesSpan = { start: this.edgesSpan!.start, end: this.bytes + close };
          this.target = null;
          this.mode = M_TOP;
          this.top = T_COMMA;
          i = close + 1;
          break;
        }
        case M_NUMBERS:
          i = this.target!.growable ? this.readGrowableNumbers(buf, i, end) : this.readNumbers(buf, i, end);
          break;
        case M_STRINGS:
          i = this.readStrings(buf, i, end);
          break;
        case M_TOP:
          i = this.readTop(buf, i, end);
          break;
        case M_KEY:
          i = this.readKey(buf, i, end);
          break;
        case M_HEADER:
        case M_SKIP:
          i = this.readNested(buf, i, end);
          break;
        case M_NESTED:
          i = this.readNestedNumbers(buf, i, end);
          break;
        case M_DONE:
          for (; i < end; i++) {
            if (!isSpace(buf[i]!)) bad(`unexpected data after the end of the snapshot at byte ${this.bytes + i}.`);
          }
          break;
      }
    }
  }

  /** The hot loop: unsigned integers separated by commas (and V8's newlines). */
  private readNumbers(buf: Buffer, i: number, end: number): number {
    const array = this.target!.array;
    let count = this.count;
    let value = this.value;
    let hasDigit = this.hasDigit;
    for (; i < end; i++) {
      const c = buf[i]!;
      const d = c - 48;
      if (d >= 0 && d <= 9) {
        value = value * 10 + d;
        hasDigit = true;
      } else if (c === C_COMMA) {
        array[count++] = value;
        value = 0;
        hasDigit = false;
      } else if (c === C_CLOSE_BRACKET) {
        if (hasDigit) array[count++] = value;
        this.count = count;
        this.finishNumbers();
        return i + 1;
      } else if (!isSpace(c)) {
        this.badByte(c, i);
      }
    }
    this.count = count;
    this.value = value;
    this.hasDigit = hasDigit;
    return i;
  }

  /** As readNumbers, in WebAssembly (nodes and edges). */
  private readWasmNumbers(buf: Buffer, i: number, end: number): number {
    const wasm = this.wasm!;
    const stop = wasm.read(buf, i, end);
    if (stop === -1) return end;
    const c = buf[stop]!;
    if (c !== C_CLOSE_BRACKET) this.badByte(c, stop);
    wasm.flush();
    this.count = wasm.count;
    this.finishNumbers();
    return stop + 1;
  }

  /** As readNumbers, for arrays whose length the header does not give. */
  private readGrowableNumbers(buf: Buffer, i: number, end: number): number {
    const target = this.target!;
    // At most one value per two bytes: grow once per chunk, not per value.
    const need = this.count + ((end - i) >> 1) + 2;
    if (target.array.length < need) {
      const grown = new Uint32Array(Math.max(need, target.array.length * 2));
      grown.set(target.array.subarray(0, this.count));
      target.array = grown;
    }
    return this.readNumbers(buf, i, end);
  }

  private finishNumbers(): void {
    const target = this.target!;
    const count = this.count;
    if (target.growable) {
      this.arrays.set(target.key, target.array.slice(0, count));
    } else {
      if (count !== target.expected) {
        bad(
          `"${target.key}" has ${count} values but the header promises ${target.expected}; the snapshot is damaged or not complete.`,
        );
      }
      this.arrays.set(target.key, target.array);
    }
    this.target = null;
    this.mode = M_TOP;
    this.top = T_COMMA;
  }

  /**
   * trace_tree: V8 nests it as `[id, function_info_index, count, size, [children...]]`.
   * Nesting is not kept as arrays: each node becomes one row of its fields (without
   * `children`) followed by its parent's row number (TRACE_ROOT_PARENT for the root),
   * so a node's allocation stack is a walk up the rows.
   */
  private readNestedNumbers(buf: Buffer, i: number, end: number): number {
    const target = this.target!;
    const need = this.count + (end - i) + 2;
    if (target.array.length < need) {
      const grown = new Uint32Array(Math.max(need, target.array.length * 2));
      grown.set(target.array.subarray(0, this.count));
      target.array = grown;
    }
    const array = target.array;
    const tree = this.tree!;
    for (; i < end; i++) {
      const c = buf[i]!;
      const d = c - 48;
      if (d >= 0 && d <= 9) {
        this.value = this.value * 10 + d;
        this.hasDigit = true;
        continue;
      }
      if (this.hasDigit) {
        array[this.count++] = this.value;
        this.value = 0;
        this.hasDigit = false;
        if (++tree.filled === tree.fields) {
          const parents = tree.parents;
          array[this.count++] = parents.length > 0 ? parents[parents.length - 1]! : TRACE_ROOT_PARENT;
          tree.filled = 0;
          tree.last = tree.rows++;
        }
      }
      if (c === C_OPEN_BRACKET) {
        // A children array belongs to the row just read.
        if (tree.last < 0 || tree.filled !== 0)
          bad('"trace_tree" is not nested as V8 writes it (children without their node).');
        tree.parents.push(tree.last);
        this.depth++;
      } else if (c === C_CLOSE_BRACKET) {
        if (--this.depth === 0) {
          if (tree.filled !== 0) bad('"trace_tree" ends inside a node.');
          this.tree = null;
          this.finishNumbers();
          return i + 1;
        }
        tree.parents.pop();
        tree.last = -1;
      } else if (c !== C_COMMA && !isSpace(c)) this.badByte(c, i);
    }
    return i;
  }

  private badByte(c: number, i: number): never {
    const what = this.target ? `"${this.target.key}"` : 'the snapshot';
    bad(
      `unexpected character ${JSON.stringify(String.fromCharCode(c))} in ${what} at byte ${this.bytes + i}; expected numbers.`,
    );
  }

  /** The string table: bytes and offsets (see StringTable). */
  private readStrings(buf: Buffer, i: number, end: number): number {
    const next = this.stringBuilder!.write(buf, i, end, this.bytes);
    if (next === -1) return end;
    this.mode = M_TOP;
    this.top = T_COMMA;
    return next;
  }

  /** Top level: `{ "key": value, ... }`. */
  private readTop(buf: Buffer, i: number, end: number): number {
    for (; i < end; i++) {
      const c = buf[i]!;
      if (isSpace(c)) continue;
      switch (this.top) {
        case T_OPEN:
          if (c !== C_OPEN_BRACE) {
            bad('this is not a V8 heap snapshot: it does not start with a JSON object (expected "{").');
          }
          this.top = T_KEY;
          break;
        case T_KEY:
          if (c === C_CLOSE_BRACE && this.seenKeys.size > 0) {
            this.mode = M_DONE;
            return i + 1;
          }
          if (c !== C_QUOTE) bad(`this is not a V8 heap snapshot: expected a key at byte ${this.bytes + i}.`);
          this.keyParts = [];
          this.mode = M_KEY;
          return i + 1;
        case T_COLON:
          if (c !== C_COLON) bad(`this is not a V8 heap snapshot: expected ":" at byte ${this.bytes + i}.`);
          this.top = T_VALUE;
          break;
        case T_VALUE:
          return this.startValue(i, c);
        case T_COMMA:
          if (c === C_COMMA) this.top = T_KEY;
          else if (c === C_CLOSE_BRACE) {
            this.mode = M_DONE;
            return i + 1;
          } else bad(`this is not a V8 heap snapshot: expected "," or "}" at byte ${this.bytes + i}.`);
          break;
      }
    }
    return i;
  }

  private readKey(buf: Buffer, i: number, end: number): number {
    for (; i < end; i++) {
      const c = buf[i]!;
      if (c === C_QUOTE) {
        this.key = String.fromCharCode(...this.keyParts);
        if (this.seenKeys.has(this.key)) bad(`the snapshot has the key "${this.key}" twice.`);
        this.seenKeys.add(this.key);
        this.mode = M_TOP;
        this.top = T_COLON;
        return i + 1;
      }
      if (this.keyParts.length > 256) bad('this is not a V8 heap snapshot: a top-level key is too long.');
      this.keyParts.push(c);
    }
    return i;
  }

  private startValue(i: number, c: number): number {
    const key = this.key;
    if (key === 'snapshot') {
      if (c !== C_OPEN_BRACE) bad('"snapshot" must be an object with meta, node_count and edge_count.');
      this.beginNested(M_HEADER);
      this.headerParts = [];
      this.headerBytes = 0;
      return i;
    }
    if (key === 'nodes' || key === 'edges' || key === 'strings') {
      if (!this.header) bad(`"${key}" comes before the "snapshot" header; this is not a V8 heap snapshot.`);
    }
    if (key === 'strings') {
      if (c !== C_OPEN_BRACKET) bad('"strings" must be an array.');
      this.mode = M_STRINGS;
      this.stringBuilder = new StringTableBuilder();
      return i + 1;
    }
    const target = this.header ? this.numberTarget(key) : null;
    if (target) {
      if (c !== C_OPEN_BRACKET) bad(`"${key}" must be an array of numbers.`);
      const header = this.header!;
      this.onSection?.(key, this.bytes + i + 1, {
        nodeCount: header.node_count,
        edgeCount: header.edge_count,
        layout: this.layout!,
        nodes: this.nodes!,
      });
      this.target = target;
      this.count = 0;
      this.value = 0;
      this.hasDigit = false;
      if (key === 'trace_tree') {
        this.depth = 1;
        // Every field but the trailing `children` array (Node 20: id, function_info_index, count, size).
        const fields = (this.header!.meta.trace_node_fields?.length ?? 5) - 1;
        if (fields < 1) bad('snapshot.meta.trace_node_fields names no fields.');
        this.tree = { fields, filled: 0, rows: 0, last: -1, parents: [] };
        this.mode = M_NESTED;
      } else if (key === 'edges' && this.externalEdges) {
        this.edgesSpan = { start: this.bytes + i + 1, end: -1 };
        this.mode = M_EXTERNAL;
      } else if (this.wasm && (key === 'nodes' || key === 'edges')) {
        this.wasm.begin(target.array);
        this.mode = M_WASM;
      } else this.mode = M_NUMBERS;
      return i + 1;
    }
    // A section we do not use (or do not know): skip it, whatever it holds.
    this.beginNested(M_SKIP);
    this.skipPrimitive = c !== C_OPEN_BRACE && c !== C_OPEN_BRACKET && c !== C_QUOTE;
    return i;
  }

  private numberTarget(key: string): NumberTarget | null {
    const header = this.header!;
    switch (key) {
      case 'nodes':
        return { key, array: this.nodes!, growable: false, expected: this.nodes!.length };
      case 'edges':
        return { key, array: this.edges!, growable: false, expected: this.edges!.length };
      case 'trace_function_infos': {
        const fields = header.meta.trace_function_info_fields?.length ?? 0;
        const count = header.trace_function_count ?? 0;
        if (fields > 0)
          return { key, array: new Uint32Array(fields * count), growable: false, expected: fields * count };
        return { key, array: new Uint32Array(16), growable: true, expected: 0 };
      }
      case 'locations':
      case 'samples':
      case 'trace_tree':
        return { key, array: new Uint32Array(16), growable: true, expected: 0 };
      default:
        return null;
    }
  }

  private beginNested(mode: number): void {
    this.mode = mode;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
  }

  /** Walks a JSON value we do not decode here (the header, or a skipped section). */
  private readNested(buf: Buffer, i: number, end: number): number {
    const start = i;
    let done = false;
    for (; i < end; i++) {
      const c = buf[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === C_BACKSLASH) this.escaped = true;
        else if (c === C_QUOTE) {
          this.inString = false;
          if (this.depth === 0) {
            done = true;
            i++;
            break;
          }
        }
        continue;
      }
      if (this.skipPrimitive) {
        if (c === C_COMMA || c === C_CLOSE_BRACE || isSpace(c)) {
          done = true;
          break;
        }
        continue;
      }
      if (c === C_QUOTE) this.inString = true;
      else if (c === C_OPEN_BRACE || c === C_OPEN_BRACKET) this.depth++;
      else if (c === C_CLOSE_BRACE || c === C_CLOSE_BRACKET) {
        if (--this.depth === 0) {
          done = true;
          i++;
          break;
        }
      }
    }
    if (this.mode === M_HEADER) {
      this.headerBytes += i - start;
      if (this.headerBytes > MAX_HEADER_BYTES)
        bad('the "snapshot" header is implausibly large; this is not a V8 heap snapshot.');
      this.headerParts.push(Buffer.from(buf.subarray(start, i)));
      if (done) this.finishHeader();
    }
    if (done) {
      this.skipPrimitive = false;
      this.mode = M_TOP;
      this.top = T_COMMA;
    }
    return i;
  }

  private finishHeader(): void {
    let header: SnapshotHeader;
    try {
      header = JSON.parse(Buffer.concat(this.headerParts).toString('utf8')) as SnapshotHeader;
    } catch (error) {
      throw new AppError('BAD_SNAPSHOT', `the "snapshot" header is not valid JSON (${(error as Error).message}).`, {
        cause: error,
      });
    }
    this.headerParts = [];
    const layout = layoutFromMeta(header.meta);
    const count = (n: unknown, what: string): number => {
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) bad(`snapshot.${what} is missing or not a count.`);
      return n;
    };
    const nodeCount = count(header.node_count, 'node_count');
    const edgeCount = count(header.edge_count, 'edge_count');
    if (nodeCount === 0) bad('the snapshot has no nodes (node_count is 0).');
    // Typed arrays are indexed by 32-bit offsets (as in DevTools).
    if (nodeCount * layout.nodeFieldCount > 0xffffffff || edgeCount * layout.edgeFieldCount > 0xffffffff) {
      bad(`the snapshot is too large (${nodeCount} nodes, ${edgeCount} edges) for 32-bit offsets.`);
    }
    this.header = header;
    this.layout = layout;
    try {
      const edgeValues = this.externalEdges ? 0 : edgeCount * layout.edgeFieldCount;
      this.wasm = WasmNumberReader.create(nodeCount * layout.nodeFieldCount, edgeValues);
      this.nodes = this.wasm ? this.wasm.nodes : new Uint32Array(nodeCount * layout.nodeFieldCount);
      this.edges = this.wasm ? this.wasm.edges : new Uint32Array(edgeValues);
    } catch (error) {
      throw new AppError('BAD_SNAPSHOT', `cannot allocate arrays for ${nodeCount} nodes and ${edgeCount} edges.`, {
        cause: error,
      });
    }
    this.onHeader?.({ nodeCount, edgeCount, layout });
  }

  /**
   * With externalEdges, inside `edges`: the rest of the section is not fed, and the
   * next chunk starts at file offset `offset` (which must be the section's `]`, or
   * provideEdges refuses the array). False when not inside it.
   */
  skipExternal(offset: number): boolean {
    if (this.mode !== M_EXTERNAL || offset < this.bytes) return false;
    this.bytes = offset;
    return true;
  }

  /**
   * Gives the loader the `edges` array that another thread parsed from the same file
   * (externalEdges). False, and nothing changes, when it does not fit: not the span
   * this loader found, or not the header's count.
   */
  provideEdges(external: ExternalEdges): boolean {
    const span = this.edgesSpan;
    if (!this.externalEdges || !span || !this.header || !this.layout) return false;
    if (external.start !== span.start || external.end !== span.end) return false;
    if (external.edges.length !== this.header.edge_count * this.layout.edgeFieldCount) return false;
    this.edges = external.edges;
    this.edgeCheck = external.check;
    return true;
  }

  /** Finishes loading: checks what arrived and returns the snapshot. */
  end(): HeapSnapshot {
    if (this.heldSurrogate) {
      const held = this.heldSurrogate;
      this.heldSurrogate = '';
      this.feed(Buffer.from(held, 'utf8'));
    }
    if (this.bytes === 0) bad('the snapshot is empty (0 bytes).');
    if (this.mode !== M_DONE) {
      if (this.mode === M_HEADER)
        bad(`the snapshot is truncated: it ends inside the "snapshot" header after ${this.bytes} bytes.`);
      if (!this.header) bad('this is not a V8 heap snapshot: it has no complete "snapshot" header.');
      const where = this.target
        ? `inside "${this.target.key}"`
        : this.mode === M_STRINGS
          ? 'inside "strings"'
          : 'early';
      bad(`the snapshot is truncated: it ends ${where} after ${this.bytes} bytes.`);
    }
    if (!this.header) bad('this is not a V8 heap snapshot: it has no "snapshot" header.');
    if (this.externalEdges && this.edgesSpan && !this.edgeCheck) {
      throw new Error('SnapshotLoader.end: the edges parsed elsewhere were not provided (provideEdges)');
    }
    for (const key of ['nodes', 'edges', 'strings']) {
      if (!this.seenKeys.has(key))
        bad(`the snapshot has no "${key}" section; it is damaged or not a V8 heap snapshot.`);
    }
    const stringTable = this.stringBuilder!.finish();
    this.stringBuilder = null;
    const snapshot = {
      meta: this.header.meta,
      layout: this.layout!,
      nodeCount: this.header.node_count,
      edgeCount: this.header.edge_count,
      nodes: this.nodes!,
      edges: this.edges!,
      stringTable,
      locations: this.arrays.get('locations') ?? new Uint32Array(0),
      warnings: this.warnings,
    } as HeapSnapshot;
    defineStrings(snapshot, stringTable);
    const infos = this.arrays.get('trace_function_infos');
    if (infos && infos.length > 0) snapshot.traceFunctionInfos = infos;
    const tree = this.arrays.get('trace_tree');
    if (tree && tree.length > 0) snapshot.traceTree = tree;
    const samples = this.arrays.get('samples');
    if (samples && samples.length > 0) snapshot.samples = samples;
    checkSnapshot(snapshot, this.header.root_index ?? 0, this.edgeCheck);
    return snapshot;
  }
}

/**
 * `snapshot.strings`, for the code that wants a plain array: every string decoded, on
 * the first read only (an analysis does not need it: it reads `stringTable`). Not
 * enumerable, so that spreading or printing a snapshot does not decode them all.
 */
export function defineStrings(snapshot: HeapSnapshot, table: StringTable): void {
  Object.defineProperty(snapshot, 'strings', {
    configurable: true,
    enumerable: false,
    get(this: HeapSnapshot): string[] {
      const strings = table.toArray();
      Object.defineProperty(this, 'strings', { value: strings, writable: true, configurable: true, enumerable: false });
      return strings;
    },
  });
}

/**
 * Runs the parser over a tiny snapshot that takes every branch (numbers past 2^31,
 * escapes, arrays ending, strings split across chunks), so that V8 has seen all the
 * types before the real data comes. Without it the first large snapshot deoptimizes the
 * number loop midway (a value outgrowing a small integer) and runs unoptimized code for
 * a while. About a millisecond; part of warmUpEngine (warm-up.ts).
 */
export function warmUpLoader(): void {
  const fields = ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'];
  const meta = {
    node_fields: fields,
    node_types: [['hidden', 'array', 'string', 'object', 'code', 'closure', 'regexp', 'number', 'native', 'synthetic']],
    edge_fields: ['type', 'name_or_index', 'to_node'],
    edge_types: [['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak']],
    location_fields: ['object_index', 'script_id', 'line', 'column'],
  };
  const count = 64;
  const nodes: number[] = [];
  for (let i = 0; i < count; i++) nodes.push(3, 1, 4294967295 - i, 123456789, 1, 0, 0);
  const edges: number[] = [];
  for (let i = 0; i < count; i++) edges.push(2, 1, ((i + 1) % count) * 7);
  const text =
    `{"snapshot":${JSON.stringify({ meta, node_count: count, edge_count: count })},
"nodes":[${nodes.join(',')}],
` +
    `"edges":[${edges.join('\n,')}],
"trace_tree":[1,0,9,99,[2,1,3,4,[],3,1,5,6,[4,0,7,8,[]]]],"locations":[${nodes.join(',')}],
` +
    `"strings":["",${JSON.stringify('a"b\\c\u00e9\ud83d\ude00')},"plain","more plain text"]}`;
  for (let round = 0; round < 3; round++) {
    const loader = new SnapshotLoader();
    const bytes = Buffer.from(text);
    for (let i = 0; i < bytes.length; i += 97) loader.write(bytes.subarray(i, i + 97));
    loader.end();
  }
}

/**
 * Checks the references between the arrays. Damage that would break the analysis
 * (edge counts that do not add up) throws; odd data that V8 can write is repaired and
 * reported as a warning with a count: an edge to no node becomes a weak edge to the
 * root (so nothing counts it), a name that is not in the string table reads as "".
 * `edgeCheck`: the edges were checked (and repaired) where they were parsed.
 */
function checkSnapshot(snapshot: HeapSnapshot, rootIndex: number, edgeCheck: EdgeCheck | null): void {
  const { nodes, edges, layout, stringTable } = snapshot;
  const nfc = layout.nodeFieldCount;
  const efc = layout.edgeFieldCount;
  const edgeCountOffset = layout.nodeEdgeCountOffset;
  const nameOffset = layout.nodeNameOffset;
  const stringCount = stringTable.length;
  if (rootIndex !== 0)
    bad(`snapshot.root_index is ${rootIndex}; only snapshots whose root is the first node are supported.`);
  let edgeSum = 0;
  let badNodeNames = 0;
  for (let i = 0, n = nodes.length; i < n; i += nfc) {
    edgeSum += nodes[i + edgeCountOffset]!;
    if (nodes[i + nameOffset]! >= stringCount) badNodeNames++;
  }
  if (edgeSum !== snapshot.edgeCount) {
    bad(
      `the nodes' edge counts add up to ${edgeSum} but the header says edge_count is ${snapshot.edgeCount}; the snapshot is damaged.`,
    );
  }
  const { nowhere, badTypes, maxName } =
    edgeCheck ?? checkEdges(edges, edgeCheckLayout(layout, snapshot.nodeCount, rootIndex));
  const typeOffset = layout.edgeTypeOffset;
  const edgeNameOffset = layout.edgeNameOffset;
  const elementType = layout.edgeType.element;
  const hiddenType = layout.edgeType.hidden;
  let badEdgeNames = 0;
  if (maxName >= stringCount) {
    for (let e = 0, n = edges.length; e < n; e += efc) {
      const type = edges[e + typeOffset]!;
      if (type !== elementType && type !== hiddenType && edges[e + edgeNameOffset]! >= stringCount) badEdgeNames++;
    }
  }
  if (badNodeNames > 0 || badEdgeNames > 0) {
    // Point bad names at an empty string appended to the table.
    const empty = stringTable.push('');
    for (let i = 0, n = nodes.length; i < n; i += nfc)
      if (nodes[i + nameOffset]! >= stringCount) nodes[i + nameOffset] = empty;
    for (let e = 0, n = edges.length; e < n; e += efc) {
      const type = edges[e + typeOffset]!;
      if (type !== elementType && type !== hiddenType && edges[e + edgeNameOffset]! >= stringCount)
        edges[e + edgeNameOffset] = empty;
    }
  }
  if (nowhere > 0) snapshot.warnings.push(`${nowhere} edges point to no node; they are ignored.`);
  if (badTypes > 0) snapshot.warnings.push(`${badTypes} edges have an unknown type; they are treated as weak.`);
  if (badNodeNames > 0)
    snapshot.warnings.push(`${badNodeNames} nodes have a name outside the string table; shown as "".`);
  if (badEdgeNames > 0)
    snapshot.warnings.push(`${badEdgeNames} edges have a name outside the string table; shown as "".`);
}

export interface LoadFileOptions {
  /** Called as the file is read: bytes read so far and the file's size. */
  onProgress?: (bytes: number, total: number) => void;
  /**
   * Asked after each chunk (readFileChunks only): a file offset beyond the chunk makes
   * the reading go on from there.
   */
  skip?: () => number | undefined;
  /** Read size; the default suits the page cache and keeps memory flat. */
  chunkSize?: number;
}

/**
 * Loads a `.heapsnapshot` file. Reads it in chunks into one reused buffer, so memory
 * stays at the size of the typed arrays whatever the file's size.
 */
export function loadSnapshotFile(path: string, options: LoadFileOptions = {}): HeapSnapshot {
  const loader = new SnapshotLoader();
  readFileChunks(path, (chunk) => loader.write(chunk), options);
  return loader.end();
}

/** Reads `path` in chunks through `sink`; throws BAD_SNAPSHOT when the file cannot be read. */
export function readFileChunks(path: string, sink: (chunk: Buffer) => void, options: LoadFileOptions = {}): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message;
    throw new AppError('BAD_SNAPSHOT', `cannot read ${path}: ${why}.`, { cause: error });
  }
  try {
    const total = fstatSync(fd).size;
    const buffer = Buffer.allocUnsafe(options.chunkSize ?? 1 << 20);
    let done = 0;
    for (;;) {
      const skipTo = options.skip?.();
      if (skipTo !== undefined && skipTo > done) done = skipTo;
      let n: number;
      try {
        n = readSync(fd, buffer, 0, buffer.length, done);
      } catch (error) {
        throw new AppError('BAD_SNAPSHOT', `cannot read ${path}: ${(error as Error).message}.`, { cause: error });
      }
      if (n === 0) break;
      sink(n === buffer.length ? buffer : buffer.subarray(0, n));
      done += n;
      options.onProgress?.(done, total);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * As readFileChunks, but the next chunk is read (in libuv's thread pool) while `sink`
 * parses the current one, so the copy from the page cache overlaps the parsing.
 */
export async function readFileChunksAsync(
  path: string,
  sink: (chunk: Buffer) => void,
  options: LoadFileOptions = {},
): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message;
    throw new AppError('BAD_SNAPSHOT', `cannot read ${path}: ${why}.`, { cause: error });
  }
  try {
    const total = (await handle.stat()).size;
    const size = options.chunkSize ?? 1 << 20;
    let current = Buffer.allocUnsafe(size);
    let spare = Buffer.allocUnsafe(size);
    const read = async (into: Buffer): Promise<number> => {
      try {
        return (await handle.read(into, 0, size, null)).bytesRead;
      } catch (error) {
        throw new AppError('BAD_SNAPSHOT', `cannot read ${path}: ${(error as Error).message}.`, { cause: error });
      }
    };
    let n = await read(current);
    let done = 0;
    while (n > 0) {
      const next = read(spare);
      // If parsing throws, wait for the read in flight before the handle closes.
      try {
        sink(n === size ? current : current.subarray(0, n));
      } catch (error) {
        await next.catch(() => 0);
        throw error;
      }
      done += n;
      options.onProgress?.(done, total);
      n = await next;
      [current, spare] = [spare, current];
    }
  } finally {
    await handle.close();
  }
}
