import { describe, expect, it } from 'vitest';
import type { GrowthPath } from '../contract/record.js';
import { formatCountRate, growthText } from './format.js';
import { growthPathText } from './growth-text.js';

function path(elements: number, type: string, name: string): GrowthPath {
  return {
    steps: [
      {
        id: 1,
        edge: '',
        type: 'closure',
        name: 'MainPage',
        retained_size: 9000,
        length: 3,
        bytes_per_request: 1280,
        elements_per_request: 0,
      },
      {
        id: 2,
        edge: 'history',
        type,
        name,
        retained_size: 8000,
        length: 7,
        bytes_per_request: 951,
        elements_per_request: elements,
      },
    ],
    summary: '',
    expression: 'MainPage.history',
    bytes_per_request: 951,
    elements_per_request: elements,
    from_index: 3,
    to_index: 8,
    requests: 5,
  };
}

describe('formatCountRate', () => {
  it('counts whole things: a fitted 0.96 is one element, 2.4 are two', () => {
    expect(formatCountRate(0.96, 'element', 'elements')).toBe('+1 element per request');
    expect(formatCountRate(2.4, 'entry', 'entries')).toBe('+2 entries per request');
    expect(formatCountRate(-1, 'element', 'elements')).toBe('−1 element per request');
  });
  it('says "per N requests" below one half per request, and nothing for no change', () => {
    expect(formatCountRate(0.25, 'property', 'properties')).toBe('+1 property per 4 requests');
    expect(formatCountRate(0, 'element', 'elements')).toBe('');
  });
});

describe('growthText', () => {
  it('shows no figure for a flat object, the past rate for a plateaued one, the rate for a growing one', () => {
    expect(growthText('flat', 98)).toBe('—');
    expect(growthText('plateaued', 512)).toBe('was +512 B/req');
    expect(growthText('growing', 1280)).toBe('+1.25 KB/req');
  });
});

describe('growthPathText', () => {
  it('names where it grows in whole elements and carries no byte figure of its own', () => {
    expect(growthPathText(path(0.96, 'object', 'Array'))).toBe('MainPage.history → Array: +1 element per request');
    expect(growthPathText(path(1, 'object', 'Map'))).toBe('MainPage.history → Map: +1 entry per request');
    expect(growthPathText(path(0, 'concatenated string', ''))).toBe('MainPage.history → string');
    expect(growthPathText(path(0.96, 'object', 'Array'))).not.toMatch(/\d\s?(B|KB|MB)\b/);
    expect(growthPathText(null)).toBeNull();
  });
});
