import { tokenizer, type Options } from 'acorn';
import { escapeHtml } from './html.js';

/**
 * Cheap syntax highlighting for the code browser with acorn's tokenizer (already a
 * dependency of the profiler): keywords, strings, numbers, regexps and comments get a
 * class. Source that acorn cannot tokenize (TypeScript, syntax errors) is shown plain.
 */

/** Above this the browser would get a very large page; such sources are shown plain. */
const MAX_HIGHLIGHTED = 2_000_000;

type Span = [start: number, end: number, cls: string];

/**
 * The source split into lines, each line as escaped HTML (without its newline), with
 * `<span class="tok-…">` around tokens. A token spanning lines (block comment,
 * template string) is closed at each line end and reopened on the next line, so every
 * line stands on its own.
 */
export function highlightLines(source: string): string[] {
  const spans = source.length <= MAX_HIGHLIGHTED ? tokenSpans(source) : undefined;
  return spans ? renderLines(source, spans) : splitLines(source).map(escapeHtml);
}

export function splitLines(source: string): string[] {
  const lines = source.split(/\r\n|\r|\n/);
  // A trailing newline ends the last line; it does not start an empty one.
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function tokenSpans(source: string): Span[] | undefined {
  for (const sourceType of ['module', 'script'] as const) {
    const spans: Span[] = [];
    const options: Options = {
      ecmaVersion: 'latest',
      sourceType,
      allowHashBang: true,
      allowReturnOutsideFunction: true,
      allowAwaitOutsideFunction: true,
      onComment: (_block, _text, start, end) => {
        spans.push([start, end, 'tok-com']);
      },
    };
    try {
      let previous = '';
      for (const token of tokenizer(source, options)) {
        // After `.` or `?.` a keyword is a property name (`map.delete`), not a keyword.
        const afterDot = previous === '.' || previous === '?.';
        const cls = tokenClass(token.type.label, afterDot ? undefined : token.type.keyword);
        if (cls) spans.push([token.start, token.end, cls]);
        previous = token.type.label;
      }
    } catch {
      continue; // CommonJS-only syntax as a module, or not JavaScript at all
    }
    // Comments arrive through the callback, interleaved with tokens by position already,
    // except that the callback runs before the token that follows: sort to be sure.
    return spans.sort((a, b) => a[0] - b[0]);
  }
  return undefined;
}

function tokenClass(label: string, keyword: string | undefined): string | undefined {
  if (keyword) return 'tok-kw';
  switch (label) {
    case 'string':
    case 'template':
    case '`':
      return 'tok-str';
    case 'num':
      return 'tok-num';
    case 'regexp':
      return 'tok-re';
    default:
      return undefined;
  }
}

function renderLines(source: string, spans: Span[]): string[] {
  const lines: string[] = [];
  let line = '';
  let open: string | undefined; // class of the span the cursor is in
  let spanIndex = 0;
  let pos = 0;
  // Emits source[from, to) inside the current span, breaking it at newlines.
  const emit = (from: number, to: number): void => {
    let start = from;
    for (let i = from; i < to; i++) {
      const ch = source.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      line += wrap(source.slice(start, i), open);
      if (ch === 13 && source.charCodeAt(i + 1) === 10) i++;
      lines.push(line);
      line = '';
      start = i + 1;
    }
    line += wrap(source.slice(start, to), open);
  };
  while (pos < source.length) {
    const span = spans[spanIndex];
    if (!span) {
      emit(pos, source.length);
      break;
    }
    if (span[0] < pos) {
      spanIndex++; // overlapping (should not happen): skip it
      continue;
    }
    emit(pos, span[0]);
    open = span[2];
    emit(span[0], span[1]);
    open = undefined;
    pos = span[1];
    spanIndex++;
  }
  // Like splitLines: a trailing newline does not start an empty line.
  if (line !== '' || lines.length === 0) lines.push(line);
  return lines;
}

function wrap(text: string, cls: string | undefined): string {
  if (text === '') return '';
  const escaped = escapeHtml(text);
  return cls ? `<span class="${cls}">${escaped}</span>` : escaped;
}
