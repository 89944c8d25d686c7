import { describe, expect, it } from 'vitest';
import { highlightLines, splitLines } from './highlight.js';

/** The text a browser shows for a line of our HTML: tags dropped, entities decoded. */
function text(html: string): string {
  return html
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

const JS = `#!/usr/bin/env node
/* a block
   comment */
const re = /a<b>c/g, s = 'x & y';
const t = \`line one
line \${two} <three>\`;
if (s) { return 0x1f; } // trailing
`;

describe('highlightLines', () => {
  it('keeps every line, and each line reads as its source', () => {
    const lines = highlightLines(JS);
    expect(lines.map(text)).toEqual(splitLines(JS));
    expect(lines).toHaveLength(7);
  });

  it('marks keywords, strings, numbers, regexps and comments, closing spans at line ends', () => {
    const lines = highlightLines(JS);
    expect(lines[1]).toBe('<span class="tok-com">/* a block</span>');
    expect(lines[2]).toBe('<span class="tok-com">   comment */</span>');
    expect(lines[3]).toContain('<span class="tok-kw">const</span>');
    expect(lines[3]).toContain('<span class="tok-re">/a&lt;b&gt;c/g</span>');
    expect(lines[3]).toContain('<span class="tok-str">&#39;x &amp; y&#39;</span>');
    expect(lines[6]).toContain('<span class="tok-num">0x1f</span>');
    expect(lines[6]).toContain('<span class="tok-com">// trailing</span>');
    for (const line of lines) {
      expect(line.split('<span').length).toBe(line.split('</span>').length);
    }
  });

  it('leaves keywords used as property names alone', () => {
    const [line] = highlightLines('cache.delete(key); new Map();\n');
    expect(line).toBe('cache.delete(key); <span class="tok-kw">new</span> Map();');
  });

  it('shows what acorn cannot tokenize plain and escaped', () => {
    const broken = 'const x = new Map();\nconst s = "<b> unterminated\n';
    expect(highlightLines(broken)).toEqual(['const x = new Map();', 'const s = &quot;&lt;b&gt; unterminated']);
  });

  it('highlights TypeScript as far as its tokens are JavaScript tokens', () => {
    const lines = highlightLines('const x: Map<string, number> = new Map();\n');
    expect(lines[0]).toContain('<span class="tok-kw">const</span> x: Map&lt;string, number&gt;');
  });

  it('handles CRLF, a missing final newline and an empty source', () => {
    expect(highlightLines('a\r\nb').map(text)).toEqual(['a', 'b']);
    expect(highlightLines('')).toEqual(['']);
    expect(splitLines('a\n\nb\n')).toEqual(['a', '', 'b']);
  });
});
