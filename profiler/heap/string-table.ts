/**
 * A heap snapshot's string table, kept as V8 wrote it: the raw bytes of the "strings"
 * section and where each string starts and ends in them. A string becomes a JS string
 * only when it is read (and is then cached). An analysis reads a few thousand of the
 * hundreds of thousands of strings a snapshot has; making them all up front costs
 * more than the rest of the loading of the section, and garbage collections that copy
 * them around, and keeps tens of MB more in the JS heap than their bytes take here.
 *
 * Strings with escapes (V8 writes every non-ASCII character as a \u escape, so these
 * are rare) are decoded while loading: a bad escape is a bad snapshot, found then.
 *
 * @example
 *   const builder = new StringTableBuilder();
 *   let next = builder.write(chunk, i, chunk.length, bytesBefore); // -1: not done
 *   const table = builder.finish();
 *   table.get(3); // 'system / Context'
 */
import { AppError } from '../../contract/errors.js';
import { releaseBuffer } from './release-buffer.js';

const C_QUOTE = 34;
const C_BACKSLASH = 92;
const C_COMMA = 44;
const C_CLOSE_BRACKET = 93;

/** Plain ASCII: decoded as Latin-1 (one byte per character, the cheapest decode). */
const K_ASCII = 0;
/** Raw bytes of 0x80 and above, no escapes: UTF-8. */
const K_UTF8 = 1;
/** Decoded already (escapes, or added after loading): in `decoded`. */
const K_DECODED = 2;

/** Buffer's native slice decoders (skip toString's argument checks; strings are short). */
type Slice = (this: Buffer, start: number, end: number) => string;
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: Slice }).latin1Slice;
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice: Slice }).utf8Slice;

function bad(message: string): never {
  throw new AppError('BAD_SNAPSHOT', message);
}

/** A bigger copy; the old array's memory is freed at once (see releaseBuffer). */
function grow(array: Uint32Array<ArrayBuffer>, need: number): Uint32Array<ArrayBuffer> {
  if (array.length >= need) return array;
  const bigger = new Uint32Array(Math.max(need, array.length * 2));
  bigger.set(array);
  releaseBuffer(array.buffer);
  return bigger;
}

export class StringTable {
  /**
   * Decoded strings by index. A Map, not an array as long as the table: an analysis
   * reads a few thousand strings, and an array slot per string would be MBs.
   */
  private readonly cache = new Map<number, string>();

  constructor(
    private raw: Buffer,
    private starts: Uint32Array,
    private ends: Uint32Array,
    private kinds: Uint8Array,
    private count: number,
    private readonly decoded: Map<number, string>,
  ) {
    this.loaded = count;
  }

  /** Strings that came with the table (those added later by push have no bytes). */
  private readonly loaded: number;

  /** A table over JS strings (for snapshots built in memory). */
  static from(strings: readonly string[]): StringTable {
    const decoded = new Map<number, string>();
    strings.forEach((s, i) => {
      decoded.set(i, s);
    });
    const kinds = new Uint8Array(strings.length).fill(K_DECODED);
    return new StringTable(
      Buffer.alloc(0),
      new Uint32Array(strings.length),
      new Uint32Array(strings.length),
      kinds,
      strings.length,
      decoded,
    );
  }

  get length(): number {
    return this.count;
  }

  /** Decodes string `i` without caching it. */
  private decode(i: number): string {
    const kind = this.kinds[i]!;
    if (kind === K_ASCII) return latin1Slice.call(this.raw, this.starts[i]!, this.ends[i]!);
    if (kind === K_UTF8) return utf8Slice.call(this.raw, this.starts[i]!, this.ends[i]!);
    return this.decoded.get(i) ?? '';
  }

  /** String number `i`; "" when there is none. */
  get(i: number): string {
    if (!(i >= 0 && i < this.count)) return '';
    let text = this.cache.get(i);
    if (text === undefined) {
      text = this.decode(i);
      this.cache.set(i, text);
    }
    return text;
  }

  /** The length of string `i` (for an ASCII string, without decoding it). */
  lengthOf(i: number): number {
    if (!(i >= 0 && i < this.count)) return 0;
    return this.kinds[i] === K_ASCII ? this.ends[i]! - this.starts[i]! : this.get(i).length;
  }

  /** `get(i).charCodeAt(k)` (NaN out of range), without decoding an ASCII string. */
  charCodeAt(i: number, k: number): number {
    if (!(i >= 0 && i < this.count)) return NaN;
    if (this.kinds[i] !== K_ASCII) return this.get(i).charCodeAt(k);
    const at = this.starts[i]! + k;
    return k >= 0 && at < this.ends[i]! ? this.raw[at]! : NaN;
  }

  /** The index of the first string equal to `text`, or -1. */
  indexOf(text: string): number {
    for (let i = 0; i < this.count; i++) if (this.equals(i, text)) return i;
    return -1;
  }

  /**
   * The indexes of the strings whose text, as the snapshot writes it (escapes not
   * decoded), contains `fragment` (plain ASCII without quotes or backslashes). A native
   * search through the bytes: much faster than testing string by string when few do.
   */
  containing(fragment: string): number[] {
    const needle = Buffer.from(fragment, 'latin1');
    const found = new Set<number>();
    // Decoded strings may have no bytes here (added with push, or a table made by from()).
    for (const [i, text] of this.decoded) if (text.includes(fragment)) found.add(i);
    const loaded = this.loaded;
    if (loaded === 0 || needle.length === 0) return [...found].sort((a, b) => a - b);
    const { starts, ends } = this;
    const bytes = this.raw.subarray(0, ends[loaded - 1]);
    let at = bytes.indexOf(needle);
    while (at !== -1) {
      // The last string that starts at or before the hit.
      let lo = 0;
      let hi = loaded - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid]! <= at) lo = mid;
        else hi = mid - 1;
      }
      const end = ends[lo]!;
      if (at + needle.length <= end) {
        found.add(lo);
        at = bytes.indexOf(needle, end);
      } else at = bytes.indexOf(needle, at + 1);
    }
    return [...found].sort((a, b) => a - b);
  }

  /** True when string `i` is `text`, without decoding it when it is plain ASCII. */
  equals(i: number, text: string): boolean {
    if (!(i >= 0 && i < this.count)) return false;
    if (this.kinds[i] !== K_ASCII) return this.get(i) === text;
    const start = this.starts[i]!;
    if (this.ends[i]! - start !== text.length) return false;
    const raw = this.raw;
    for (let k = 0; k < text.length; k++) if (raw[start + k] !== text.charCodeAt(k)) return false;
    return true;
  }

  /**
   * For every string equal to a key of `wanted`, writes the key's value at its index in
   * `into` (made when not given). Compares bytes: nothing is decoded.
   */
  match(wanted: ReadonlyMap<string, number>, into = new Uint8Array(this.count)): Uint8Array {
    const test = this.matcher(wanted);
    for (let i = 0; i < this.count; i++) {
      const value = test(i);
      if (value !== 0) into[i] = value;
    }
    return into;
  }

  /**
   * A test of one string against the keys of `wanted`: the key's value, or 0. For
   * lookups of a few strings out of many (match does them all).
   */
  matcher(wanted: ReadonlyMap<string, number>): (i: number) => number {
    // ASCII keys by length, then by first byte: most strings have a length or a first
    // byte no key has, and are skipped after two array reads.
    const candidates: ([Buffer, number][] | undefined)[] = [];
    const firstBytes: Uint8Array[] = [];
    let other = false;
    for (const [key, value] of wanted) {
      const bytes = Buffer.from(key, 'utf8');
      if (bytes.length !== key.length || bytes.length === 0) {
        other = true;
        continue;
      }
      (candidates[bytes.length] ??= []).push([bytes, value]);
      (firstBytes[bytes.length] ??= new Uint8Array(256))[bytes[0]!] = 1;
    }
    const maxLength = candidates.length - 1;
    return (i) => {
      if (!(i >= 0 && i < this.count)) return 0;
      const kind = this.kinds[i];
      if (kind !== K_ASCII) return kind === K_DECODED || other ? (wanted.get(this.get(i)) ?? 0) : 0;
      const { raw, starts, ends } = this;
      const start = starts[i]!;
      const length = ends[i]! - start;
      if (length > maxLength) return 0;
      const first = firstBytes[length];
      if (first === undefined || first[raw[start]!] === 0) return 0;
      const list = candidates[length]!;
      for (let c = 0; c < list.length; c++) {
        const [bytes, value] = list[c]!;
        let k = 0;
        while (k < length && raw[start + k] === bytes[k]) k++;
        if (k === length) return value;
      }
      return 0;
    };
  }

  /** Appends a string (e.g. "" for names outside the table); returns its index. */
  push(text: string): number {
    const i = this.count++;
    if (this.kinds.length <= i) {
      const kinds = new Uint8Array(Math.max(16, this.kinds.length * 2));
      kinds.set(this.kinds);
      this.kinds = kinds;
    }
    this.kinds[i] = K_DECODED;
    this.decoded.set(i, text);
    this.cache.set(i, text);
    return i;
  }

  /** Every string, decoded (what `HeapSnapshot.strings` gives). */
  toArray(): string[] {
    const out = new Array<string>(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.cache.get(i) ?? this.decode(i);
    return out;
  }
}

/**
 * Reads the "strings" array of a snapshot from just after its `[`, chunk by chunk: the
 * section's bytes are copied as they are (one copy per chunk) and each string's start
 * and end noted.
 */
export class StringTableBuilder {
  // Its own memory (never Node's shared pool), so that it can be released on growth.
  private raw = Buffer.allocUnsafeSlow(1 << 20);
  private rawLength = 0;
  private starts = new Uint32Array(1 << 16);
  private ends = new Uint32Array(1 << 16);
  private kinds = new Uint8Array(1 << 16);
  private count = 0;
  private readonly decoded = new Map<number, string>();
  // Scanner state across chunks.
  private inString = false;
  private escape = false;
  private hasEscape = false;
  private high = 0;
  private start = 0;
  /** Escaped strings finished in this chunk, decoded once their bytes are copied. */
  private pending: number[] = [];

  /**
   * Reads from `buf[i]`; returns the index after the closing `]`, or -1 when the
   * section goes on in the next chunk. `offset` is the file position of `buf[0]` (for
   * messages).
   */
  write(buf: Buffer, i: number, end: number, offset: number): number {
    const base = this.rawLength - i;
    let inString = this.inString;
    // biome-ignore lint/suspicious/noShadowRestrictedNames: the parser's own state (this.escape), not the global.
    let escape = this.escape;
    let hasEscape = this.hasEscape;
    let high = this.high;
    let start = this.start;
    // At most one string per three bytes (`"",`): make room once per chunk, so that
    // the loop below stores into local arrays without checks.
    this.reserve(this.count + Math.ceil((end - i) / 3) + 1);
    const starts = this.starts;
    const ends = this.ends;
    const kinds = this.kinds;
    let count = this.count;
    let k = i;
    let done = false;
    while (k < end) {
      if (inString) {
        if (escape) {
          escape = false;
          k++;
          continue;
        }
        // The hot loop: the bytes of a string.
        let c = 0;
        while (k < end) {
          c = buf[k]!;
          if (c === C_QUOTE || c === C_BACKSLASH) break;
          high |= c;
          k++;
        }
        if (k === end) break;
        k++;
        if (c === C_BACKSLASH) {
          escape = true;
          hasEscape = true;
          continue;
        }
        starts[count] = start;
        ends[count] = base + k - 1;
        if (hasEscape) {
          kinds[count] = K_DECODED;
          this.pending.push(count);
        } else kinds[count] = high >= 0x80 ? K_UTF8 : K_ASCII;
        count++;
        inString = false;
        continue;
      }
      const c = buf[k]!;
      k++;
      if (c === C_QUOTE) {
        inString = true;
        start = base + k;
        hasEscape = false;
        high = 0;
      } else if (c === C_CLOSE_BRACKET) {
        done = true;
        break;
      } else if (c !== C_COMMA && c !== 10 && c !== 32 && c !== 13 && c !== 9) {
        bad(`unexpected character ${JSON.stringify(String.fromCharCode(c))} in "strings" at byte ${offset + k - 1}.`);
      }
    }
    this.count = count;
    this.inString = inString;
    this.escape = escape;
    this.hasEscape = hasEscape;
    this.high = high;
    this.start = start;
    this.append(buf, i, k);
    if (this.pending.length > 0) this.decodePending();
    return done ? k : -1;
  }

  /** True while a string is open (for "truncated" messages). */
  get open(): boolean {
    return this.inString;
  }

  finish(): StringTable {
    return new StringTable(this.raw, this.starts, this.ends, this.kinds, this.count, this.decoded);
  }

  private reserve(need: number): void {
    if (need <= this.starts.length) return;
    this.starts = grow(this.starts, need);
    this.ends = grow(this.ends, need);
    const kinds = new Uint8Array(this.starts.length);
    kinds.set(this.kinds);
    releaseBuffer(this.kinds.buffer);
    this.kinds = kinds;
  }

  private append(buf: Buffer, from: number, to: number): void {
    const need = this.rawLength + (to - from);
    if (need > this.raw.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(need, this.raw.length * 2));
      this.raw.copy(bigger, 0, 0, this.rawLength);
      releaseBuffer(this.raw.buffer);
      this.raw = bigger;
    }
    buf.copy(this.raw, this.rawLength, from, to);
    this.rawLength = need;
  }

  private decodePending(): void {
    for (const i of this.pending) {
      // With its quotes, so that JSON.parse decodes the escapes.
      const quoted = utf8Slice.call(this.raw, this.starts[i]! - 1, this.ends[i]! + 1);
      try {
        this.decoded.set(i, JSON.parse(quoted) as string);
      } catch {
        bad(`a string in "strings" has a bad escape sequence (string #${i}).`);
      }
    }
    this.pending = [];
  }
}
