/**
 * Trend lines: the server pages draw them as SVG markup, the browser client (ui/client/,
 * compiled from this same file) with DOM calls; both from `sparklinePoints`.
 */

/** Below this, a change is V8's own noise (the suspects' flat threshold). */
const NOISE_BYTES = 1024;

/**
 * The `points` attribute of a trend line's polyline. Long histories are thinned to at
 * most 60 points; the vertical span is at least a tenth of the largest value and at least
 * NOISE_BYTES, so a flat line with a few bytes of noise reads flat. '' for no values.
 */
export function sparklinePoints(history: readonly number[], width: number, height: number): string {
  const pad = 2;
  const values = thin(history, 60);
  if (values.length === 0) return '';
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const span = Math.max(max - min, Math.abs(max) / 10, NOISE_BYTES) || 1;
  const step = values.length > 1 ? (width - 2 * pad) / (values.length - 1) : 0;
  return values
    .map((v, i) => {
      const x = pad + i * step;
      const y = height - pad - ((v - min) / span) * (height - 2 * pad);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
}

/** A trend line as inline SVG markup. Only numbers go into it, so it needs no escaping. */
export function sparklineSvg(history: number[], width = 120, height = 28): string {
  const points = sparklinePoints(history, width, height);
  if (points === '') return '';
  return (
    `<svg class="spark" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" aria-hidden="true">` +
    `<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="${points}"/></svg>`
  );
}

function thin(values: readonly number[], most: number): readonly number[] {
  if (values.length <= most) return values;
  const out: number[] = [];
  for (let i = 0; i < most; i++) out.push(values[Math.round((i * (values.length - 1)) / (most - 1))]!);
  return out;
}
