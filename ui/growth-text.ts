import type { GrowthPath, GrowthStep } from '../contract/record.js';
import { formatCountRate } from './format.js';

/**
 * How the UI names where a suspect grows, in the suspects table (ui/client/overview.ts)
 * and on the code page alike: `MainPage.history → Array: +1 element per request`.
 * It carries no byte figure of its own: the one rate per object is the suspect's
 * `growth_per_request`, shown beside it, so the two can never disagree.
 */
export function growthPathText(path: GrowthPath | null | undefined): string | null {
  if (!path) return null;
  const end = path.steps[path.steps.length - 1];
  if (!end) return null;
  const [one, many] = countUnit(end);
  const count = formatCountRate(path.elements_per_request, one, many);
  return `${path.expression} → ${siteName(end)}${count ? `: ${count}` : ''}`;
}

/** What holds the growth: `Array`, `Map`, `function render`, `string`. */
export function siteName(step: Pick<GrowthStep, 'type' | 'name'>): string {
  if (step.type === 'closure') return step.name === '' ? 'function' : `function ${step.name}`;
  if (step.type.endsWith('string')) return 'string';
  return step.name === '' ? step.type : step.name;
}

/** What it gains: a Map's or Set's entries, an object's properties, an array's elements. */
export function countUnit(step: Pick<GrowthStep, 'type' | 'name'>): [string, string] {
  if (step.type === 'object' && ['Map', 'Set', 'WeakMap', 'WeakSet'].includes(step.name)) return ['entry', 'entries'];
  if ((step.type === 'object' && step.name !== 'Array') || step.type === 'closure') return ['property', 'properties'];
  return ['element', 'elements'];
}
