/**
 * HTML reports of runs: evaluation (metrics, τ curves, best/worst images with overlays), localization (gallery of
 * boxes) and ablation tables. Self-contained pages (inline SVG, relative overlay PNGs beside the page), openable offline.
 */
import type { BoxMetrics } from '../evaluate/box-metrics.js';
import type { MaskMetrics } from '../evaluate/mask-metrics.js';
import { esc, gallery, htmlPage, htmlTable, svgLineChart, type Series, type Tile } from './html.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf'];

/** Rows [metric, value] of the box metrics that apply. */
export function boxMetricRows(m: BoxMetrics): [string, number][] {
  const rows: [string, number][] = [
    ['MaxBoxAcc (GT-known Loc, IoU ≥ 0.5)', m.MaxBoxAcc],
    ['MaxBoxAccV2 (wsolevaluation)', m.MaxBoxAccV2],
    ['MaxBoxAccV2 (release variant)', m.MaxBoxAccV2_release],
  ];
  for (const [d, v] of Object.entries(m.IoU)) rows.push([`IoU${d} (best τ per δ)`, v]);
  if (m.top1Loc !== undefined) rows.push(['Top-1 Loc', m.top1Loc]);
  if (m.top5Loc !== undefined) rows.push(['Top-5 Loc', m.top5Loc]);
  return rows;
}

/** τ-curve chart of BoxAcc per δ. */
export function boxCurves(m: BoxMetrics, title: string, markerTau?: number): string {
  // One colour per δ; the two box rules as a wide pale line (multi) under a thin dashed one (largest), so that both stay
  // visible where they coincide (one object per image).
  const series: Series[] = Object.entries(m.curves.boxAccV2).map(([d, ys], i) => ({ name: `IoU ≥ 0.${d.replace(/0$/, '')} (multi)`, xs: m.thresholds, ys, color: COLORS[i % COLORS.length]!, width: 5, opacity: 0.4 }));
  Object.entries(m.curves.release).forEach(([d, ys], i) => series.push({ name: `IoU ≥ 0.${d.replace(/0$/, '')} (largest)`, xs: m.thresholds, ys, color: COLORS[i % COLORS.length]!, width: 1.6, dash: '6 3' }));
  const o: Parameters<typeof svgLineChart>[1] = { title, xLabel: 'threshold τ', yLabel: 'BoxAcc (%)', yRange: [0, 100] };
  if (markerTau !== undefined) {
    o.markerX = markerTau;
    o.markerLabel = `τ = ${markerTau.toFixed(2)}`;
  }
  return svgLineChart(series, o);
}

/** Precision–recall and IoU curves of the mask metrics. */
export function maskCurves(m: MaskMetrics): string {
  const c = m.curves;
  const pr = svgLineChart([{ name: 'precision', xs: c.recall, ys: c.precision.map((v) => (Number.isFinite(v) ? v * 100 : 0)), color: COLORS[0]! }], {
    title: `pixel precision vs recall (PxAP ${m.PxAP.toFixed(2)})`,
    xLabel: 'recall',
    yLabel: 'precision (%)',
    yRange: [0, 100],
  });
  const iou = svgLineChart([{ name: 'pixel IoU', xs: c.thresholds.filter((t) => t <= 1), ys: c.iou.slice(0, c.thresholds.filter((t) => t <= 1).length).map((v) => v * 100), color: COLORS[1]! }], {
    title: `pixel IoU vs τ (PIoU ${m.PIoU.toFixed(2)})`,
    xLabel: 'τ',
    yLabel: 'IoU (%)',
    yRange: [0, 100],
  });
  return pr + iou;
}

/** One evaluated split for {@link evaluationReportHtml}. */
export interface ReportSplit {
  name: string;
  images: number;
  boxes?: BoxMetrics;
  masks?: MaskMetrics;
}

/** Inputs of {@link evaluationReportHtml}. */
export interface EvaluationReport {
  title: string;
  meta: Record<string, string>;
  protocolNote: string;
  splits: ReportSplit[];
  threshold: number;
  best: Tile[];
  worst: Tile[];
  skipped: { file?: string; id: string; error: string }[];
}

/** The evaluation report page. */
export function evaluationReportHtml(r: EvaluationReport): string {
  const parts: string[] = [];
  parts.push(`<p class="note">${esc(r.protocolNote)}</p>`);
  const header = ['metric (%)', ...r.splits.map((s) => `${s.name} (${s.images} images)`)];
  const first = r.splits.find((s) => s.boxes)?.boxes;
  const names = first ? boxMetricRows(first).map(([n]) => n) : [];
  const rows: (string | number | undefined)[][] = [header, ...names.map((n) => [n, ...r.splits.map((s) => (s.boxes ? boxMetricRows(s.boxes).find(([k]) => k === n)?.[1] : undefined))])];
  if (r.splits.some((s) => s.masks)) {
    rows.push(['PxAP', ...r.splits.map((s) => s.masks?.PxAP)]);
    rows.push(['PIoU', ...r.splits.map((s) => s.masks?.PIoU)]);
  }
  if (first) rows.push(['τ (release)', ...r.splits.map((s) => s.boxes?.bestThreshold)]);
  parts.push('<h2>Metrics</h2>', htmlTable(rows));
  if (first) parts.push('<h2>Box accuracy vs threshold</h2>');
  for (const s of r.splits) if (s.boxes) parts.push(boxCurves(s.boxes, `${s.name}: BoxAcc(τ, δ)`, r.threshold));
  for (const s of r.splits) if (s.masks) parts.push(`<h2>Masks (${esc(s.name)})</h2>`, maskCurves(s.masks));
  if (r.best.length) parts.push(`<h2>Best images at τ = ${r.threshold.toFixed(2)}</h2><p class="meta">green: ground truth · red: predicted box (largest contour)</p>`, gallery(r.best));
  if (r.worst.length) parts.push(`<h2>Worst images at τ = ${r.threshold.toFixed(2)}</h2>`, gallery(r.worst));
  if (r.skipped.length) {
    parts.push('<h2>Skipped images</h2>', htmlTable([['image', 'error'], ...r.skipped.map((s) => [s.file ?? s.id, s.error])]));
  }
  return htmlPage(r.title, parts.join('\n'), r.meta);
}

/** The localization report page: a gallery of every image (or the first `max`). */
export function localizationReportHtml(title: string, meta: Record<string, string>, tiles: Tile[], notes: string[] = [], max = 500): string {
  const parts = notes.map((n) => `<p class="note">${esc(n)}</p>`);
  parts.push(`<h2>Images (${tiles.length}${tiles.length > max ? `, first ${max} shown` : ''})</h2><p class="meta">red: predicted box (largest contour above τ); green: ground truth when known</p>`);
  parts.push(gallery(tiles.slice(0, max)));
  return htmlPage(title, parts.join('\n'), meta);
}

/** The ablation page: the paper-style table. */
export function ablationReportHtml(title: string, meta: Record<string, string>, rows: (string | number | undefined)[][], notes: string[] = []): string {
  return htmlPage(title, notes.map((n) => `<p class="note">${esc(n)}</p>`).join('') + '<h2>Results</h2>' + htmlTable(rows), meta);
}
