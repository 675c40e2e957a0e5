/**
 * Self-contained HTML reports (no external scripts, styles or fonts; open offline): headings, key/value and data
 * tables, SVG line charts (τ curves), and image galleries with captions.
 */

/** Escapes text for HTML element content and attribute values. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** One line of a chart. */
export interface Series {
  name: string;
  xs: number[];
  ys: number[];
  color: string;
  /** SVG stroke-dasharray (e.g. `6 4`); solid when absent. */
  dash?: string;
  /** Line width in pixels (default 2). */
  width?: number;
  /** Stroke opacity in [0,1] (default 1). */
  opacity?: number;
}

/** Options of {@link svgLineChart}. */
export interface ChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** y range; default [0, max]. */
  yRange?: [number, number];
  /** Vertical marker (e.g. the chosen τ). */
  markerX?: number;
  markerLabel?: string;
}

function niceTicks(lo: number, hi: number, n = 5): number[] {
  const span = hi - lo || 1;
  const step0 = span / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? step0;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

/** An inline SVG line chart. */
export function svgLineChart(series: Series[], o: ChartOptions = {}): string {
  const W = o.width ?? 620;
  const H = o.height ?? 300;
  const m = { l: 50, r: 170, t: o.title ? 28 : 12, b: 40 };
  const xs = series.flatMap((s) => s.xs);
  const ys = series.flatMap((s) => s.ys).filter((v) => Number.isFinite(v));
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const [y0, y1] = o.yRange ?? [0, Math.max(1e-9, ...ys)];
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((y - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" class="chart">`];
  if (o.title) parts.push(`<text x="${m.l}" y="18" class="ct">${esc(o.title)}</text>`);
  for (const t of niceTicks(y0, y1)) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${py(t)}" y2="${py(t)}" class="grid"/><text x="${m.l - 6}" y="${py(t) + 4}" text-anchor="end" class="tk">${t}</text>`);
  }
  for (const t of niceTicks(x0, x1)) {
    parts.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${H - m.b}" y2="${H - m.b + 4}" class="axis"/><text x="${px(t)}" y="${H - m.b + 16}" text-anchor="middle" class="tk">${t}</text>`);
  }
  parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" class="axis"/><line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" class="axis"/>`);
  if (o.xLabel) parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 6}" text-anchor="middle" class="lb">${esc(o.xLabel)}</text>`);
  if (o.yLabel) parts.push(`<text x="12" y="${(m.t + H - m.b) / 2}" transform="rotate(-90 12 ${(m.t + H - m.b) / 2})" text-anchor="middle" class="lb">${esc(o.yLabel)}</text>`);
  if (o.markerX !== undefined) {
    parts.push(`<line x1="${px(o.markerX)}" x2="${px(o.markerX)}" y1="${m.t}" y2="${H - m.b}" class="marker"/>`);
    if (o.markerLabel) parts.push(`<text x="${px(o.markerX) + 4}" y="${m.t + 12}" class="tk">${esc(o.markerLabel)}</text>`);
  }
  series.forEach((s, i) => {
    const pts = s.xs.map((x, k) => `${px(x).toFixed(1)},${py(s.ys[k]!).toFixed(1)}`).join(' ');
    const stroke = `stroke="${esc(s.color)}" stroke-width="${s.width ?? 2}"${s.dash ? ` stroke-dasharray="${esc(s.dash)}"` : ''}${s.opacity !== undefined ? ` stroke-opacity="${s.opacity}"` : ''}`;
    parts.push(`<polyline fill="none" ${stroke} points="${pts}"/>`);
    parts.push(`<line x1="${W - m.r + 8}" x2="${W - m.r + 30}" y1="${m.t + i * 18 + 1}" y2="${m.t + i * 18 + 1}" ${stroke}/><text x="${W - m.r + 36}" y="${m.t + i * 18 + 5}" class="tk">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** A table from rows of cells; the first row is the header. Numbers are formatted with `digits` decimals. */
export function htmlTable(rows: (string | number | undefined)[][], digits = 2): string {
  const cell = (v: string | number | undefined, tag: string) =>
    `<${tag}${typeof v === 'number' ? ' class="num"' : ''}>${v === undefined ? '' : typeof v === 'number' ? esc(v.toFixed(digits)) : esc(v)}</${tag}>`;
  const [head, ...body] = rows;
  return `<table><thead><tr>${(head ?? []).map((v) => cell(v, 'th')).join('')}</tr></thead><tbody>${body
    .map((r) => `<tr>${r.map((v) => cell(v, 'td')).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/** One gallery tile: an image (relative path or data: URL) and caption lines. */
export interface Tile {
  src: string;
  title: string;
  lines?: string[];
}

/** A responsive image gallery. */
export function gallery(tiles: Tile[]): string {
  return `<div class="gallery">${tiles
    .map(
      (t) =>
        `<figure><img loading="lazy" src="${esc(t.src)}" alt="${esc(t.title)}"/><figcaption><b>${esc(t.title)}</b>${(t.lines ?? [])
          .map((l) => `<br/>${esc(l)}`)
          .join('')}</figcaption></figure>`,
    )
    .join('')}</div>`;
}

const CSS = `body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#1d232a;background:#fbfbfc}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde1e6;padding-bottom:4px}
.meta{color:#5b6570;font-size:12.5px}.meta code{background:#eef1f4;padding:1px 4px;border-radius:3px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #dde1e6;padding:4px 10px;text-align:left}th{background:#f0f3f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:12px}
figure{margin:0;background:#fff;border:1px solid #dde1e6;border-radius:6px;overflow:hidden}figure img{width:100%;display:block}
figcaption{padding:6px 8px;font-size:12px;color:#333;overflow-wrap:anywhere}.chart{background:#fff;border:1px solid #dde1e6;border-radius:6px;margin:6px 8px 6px 0}
.chart .grid{stroke:#eceff2}.chart .axis{stroke:#8a949e}.chart .tk{font-size:11px;fill:#4a545e}.chart .lb{font-size:12px;fill:#333}.chart .ct{font-size:13px;font-weight:600}
.chart .marker{stroke:#c0392b;stroke-dasharray:4 3}.note{background:#fff8e1;border:1px solid #f0d98a;padding:6px 10px;border-radius:4px}`;

/** A complete HTML document. `body` is trusted HTML built with the helpers above. */
export function htmlPage(title: string, body: string, meta: Record<string, string> = {}): string {
  const m = Object.entries(meta)
    .map(([k, v]) => `${esc(k)}: <code>${esc(v)}</code>`)
    .join(' · ');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"/><meta name="viewport" content="width=device-width,initial-scale=1"/><title>${esc(title)}</title><style>${CSS}</style></head><body><h1>${esc(title)}</h1><div class="meta">${m}</div>${body}</body></html>\n`;
}
