/**
 * Small renderers for resource curves in benchmark results: CSV, a Markdown sparkline and a two-panel SVG line chart.
 * Hand-written: a few lines of string building, where a charting dependency would be far heavier than the chart.
 */
import type { ResourceSample } from './monitor.js';

const MB = 1024 * 1024;
const BARS = '▁▂▃▄▅▆▇█';

/** CSV of item samples: `item,t_ms,rss_mb,heap_used_mb,external_mb,wasm_heap_mb,tensors,tensor_mb`. */
export function samplesCsv(samples: readonly ResourceSample[]): string {
  const rows = ['item,t_ms,rss_mb,heap_used_mb,external_mb,wasm_heap_mb,tensors,tensor_mb'];
  for (const s of samples) {
    if (s.item === undefined) continue;
    rows.push([s.item, s.t.toFixed(0), (s.rss / MB).toFixed(2), (s.heapUsed / MB).toFixed(2), (s.external / MB).toFixed(2),
      s.wasmHeap !== undefined ? (s.wasmHeap / MB).toFixed(2) : '', s.numTensors, (s.numBytes / MB).toFixed(2)].join(','));
  }
  return rows.join('\n') + '\n';
}

/** Means of `values` over `buckets` equal slices (fewer when there are fewer values). */
export function bucketMeans(values: readonly number[], buckets: number): number[] {
  const n = Math.min(buckets, values.length);
  const out: number[] = [];
  for (let b = 0; b < n; b++) {
    const lo = Math.floor((b * values.length) / n);
    const hi = Math.max(lo + 1, Math.floor(((b + 1) * values.length) / n));
    let s = 0;
    for (let i = lo; i < hi; i++) s += values[i]!;
    out.push(s / (hi - lo));
  }
  return out;
}

/** A sparkline of `values` scaled between `lo` and `hi` (default: their min and max; flat input gives flat bars). */
export function sparkline(values: readonly number[], lo = Math.min(...values), hi = Math.max(...values)): string {
  if (values.length === 0) return '';
  const span = hi - lo;
  return values.map((v) => BARS[span > 0 ? Math.min(7, Math.max(0, Math.round(((v - lo) / span) * 7))) : 0]!).join('');
}

function polyline(xs: number[], ys: number[], x0: number, y0: number, w: number, h: number, lo: number, hi: number): string {
  const xmax = Math.max(...xs, 1);
  const span = hi - lo || 1;
  return xs.map((x, i) => `${(x0 + (x / xmax) * w).toFixed(1)},${(y0 + h - ((ys[i]! - lo) / span) * h).toFixed(1)}`).join(' ');
}

/**
 * SVG with two panels over the item axis: RSS (MB, with the wasm heap) and live tensors. Axes start at 0 so a flat
 * curve looks flat.
 */
export function samplesSvg(samples: readonly ResourceSample[], title: string): string {
  const items = samples.filter((s) => s.item !== undefined);
  const xs = items.map((s) => s.item!);
  const rss = items.map((s) => s.rss / MB);
  const wasm = items.map((s) => (s.wasmHeap ?? 0) / MB);
  const tensors = items.map((s) => s.numTensors);
  const W = 720;
  const H = 420;
  const L = 70;
  const pw = W - L - 20;
  const ph = 140;
  const rssHi = Math.max(...rss, ...wasm, 1) * 1.1;
  const tHi = Math.max(...tensors, 1) * 1.25;
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const axis = (y0: number, hi: number, unit: string): string =>
    [0, 0.5, 1]
      .map((f) => `<text x="${L - 6}" y="${(y0 + ph - f * ph + 4).toFixed(1)}" text-anchor="end">${(hi * f).toFixed(0)}${unit}</text>` +
        `<line x1="${L}" x2="${L + pw}" y1="${(y0 + ph - f * ph).toFixed(1)}" y2="${(y0 + ph - f * ph).toFixed(1)}" stroke="#ddd"/>`)
      .join('');
  const xmax = Math.max(...xs, 1);
  const xticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="${(L + f * pw).toFixed(1)}" y="${H - 8}" text-anchor="middle">${Math.round(f * xmax)}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">
<text x="${L}" y="16" font-size="13">${esc(title)}</text>
<text x="${L}" y="40">RSS (blue) and wasm heap (grey), MB</text>${axis(46, rssHi, '')}
<polyline fill="none" stroke="#999" stroke-width="1.5" points="${polyline(xs, wasm, L, 46, pw, ph, 0, rssHi)}"/>
<polyline fill="none" stroke="#1f6fd0" stroke-width="1.5" points="${polyline(xs, rss, L, 46, pw, ph, 0, rssHi)}"/>
<text x="${L}" y="222">live tensors</text>${axis(228, tHi, '')}
<polyline fill="none" stroke="#d0461f" stroke-width="1.5" points="${polyline(xs, tensors, L, 228, pw, ph, 0, tHi)}"/>
${xticks}<text x="${L + pw / 2}" y="${H - 22}" text-anchor="middle">images done</text>
</svg>
`;
}
