import { describe, expect, it } from 'vitest';
import { escapeHtml } from './escape-html.js';
import { formatBytes } from './format-bytes.js';

describe('formatBytes', () => {
  it('writes whole bytes below 1 KB and one decimal above, in powers of 1024', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(256)).toBe('256 B');
    expect(formatBytes(1023.6)).toBe('1024 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(2048)).toBe('2.0 KB');
    expect(formatBytes(3 * 1024 * 1024)).toBe('3.0 MB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GB');
    expect(formatBytes(-1536)).toBe('-1.5 KB');
  });

  it('gives three significant digits for the pages', () => {
    const three = { precision: 'three-digits' } as const;
    expect(formatBytes(512, three)).toBe('512 B');
    expect(formatBytes(1536, three)).toBe('1.50 KB');
    expect(formatBytes(12.34 * 1024, three)).toBe('12.3 KB');
    expect(formatBytes(123.4 * 1024 * 1024, three)).toBe('123 MB');
  });

  it('spells the kilobyte as asked', () => {
    expect(formatBytes(5.2 * 1024, { kilo: 'kB' })).toBe('5.2 kB');
  });
});

describe('escapeHtml', () => {
  it('escapes the five characters that matter in content and quoted attributes', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
  });
});
