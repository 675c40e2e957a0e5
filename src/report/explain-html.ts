/**
 * The `uol explain` report: a self-contained HTML page (inline CSS, inline base64 PNGs, no scripts, works offline)
 * with the test image and its region, the map overlay, and the training crops with the largest (and most negative)
 * representer values; `explain.json` with every number and geometry beside it; the PNGs also as files.
 */
import * as path from 'node:path';
import { writeFileAtomic } from '../util/fs.js';
import { readImageRGB, resizeRGB, type RGBImage } from '../data/image-io.js';
import { cellBox, contextBox, upsampledCellMap, type ExplainedPoint, type ExplainResult } from '../rps/explain.js';
import { relativeTo, scaleToPixels, type HalfOpenBox } from '../util/box.js';
import type { Predictor } from '../rps/predictor.js';
import { cloneRGB, cropRGB, dimOutside, drawRect, encodePNG, fitSize, heatmapOverlay, pngDataUrl } from './draw.js';
import { COLORS } from './overlay.js';

/** Options of {@link writeExplanation}. */
export interface WriteExplanationOptions {
  /** The decoded test image (original size). Without it the page shows no test panels. */
  testImage?: RGBImage;
  /** Test image file (recorded). */
  testFile?: string;
  predictor: Predictor;
  predictorFile?: string;
  /** Image file of a training image id when the point does not carry one. */
  imageFor?: (id: string) => string | undefined;
  /** Cells of context around a training patch (default 1). */
  context?: number;
  /** Longest side of a crop on the page (default 192). */
  cropSide?: number;
  /** Longest side of the test panels (default 448). */
  displaySide?: number;
}

/** A point as written to explain.json. */
export interface ExplainedPointJSON extends ExplainedPoint {
  side: 'excitatory' | 'inhibitory';
  /** Cell rectangle [x0,y0,x1,y1) in the training image's pixels. */
  cellBox?: HalfOpenBox;
  /** Crop rectangle (cell plus context) in the training image's pixels. */
  cropBox?: HalfOpenBox;
  /** Crop PNG (cell plus context, cell outlined, scaled to fit the page), relative to the output directory. */
  crop?: string;
  /** The cell's own pixels at the training image's resolution (unscaled, unmarked) PNG, relative to the output directory. */
  cellCrop?: string;
  /** The whole training image, small, with the cell outlined, PNG relative to the output directory. */
  thumb?: string;
  /** Why there is no crop. */
  cropMissing?: string;
}

/** Files written by {@link writeExplanation}. */
export interface ExplanationFiles {
  html: string;
  json: string;
  pngs: string[];
  points: ExplainedPointJSON[];
}

const REGION_COLOR: [number, number, number] = [255, 255, 255];
const CELL_COLOR: [number, number, number] = [255, 230, 0];

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function fmt(x: number | undefined, digits = 4): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  if (Math.abs(x) !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e4)) return x.toExponential(digits - 1);
  return String(Number(x.toPrecision(digits)));
}

async function testPanels(r: ExplainResult, img: RGBImage, side: number): Promise<{ region: RGBImage; overlay: RGBImage }> {
  const [dw, dh] = fitSize(img.width, img.height, side);
  const disp = await resizeRGB(img, dw, dh, 'bilinear');
  const [h, w] = r.test.grid;
  const sx = dw / img.width;
  const sy = dh / img.height;
  const region = cloneRGB(disp);
  dimOutside(region, (x, y) => r.region.mask[Math.min(h - 1, Math.floor((y * h) / dh)) * w + Math.min(w - 1, Math.floor((x * w) / dw))] === 1);
  drawRect(region, scaleToPixels(r.region.bounds, sx, sy), REGION_COLOR, 2);
  const overlay = heatmapOverlay(disp, await upsampledCellMap(r.map, [h, w], [dh, dw]), 0.5);
  if (r.region.box) {
    // The given or predicted box (red, as `uol localize` overlays draw predictions) on both panels.
    const pb = scaleToPixels(r.region.box, sx, sy);
    drawRect(region, pb, COLORS.predicted, 2);
    drawRect(overlay, pb, COLORS.predicted, 2);
  } else drawRect(overlay, scaleToPixels(r.region.bounds, sx, sy), REGION_COLOR, 2);
  return { region, overlay };
}

/**
 * Writes `index.html`, `explain.json` and the PNGs (`test-region.png`, `test-map.png`, `crops/*.png`) to `outDir`.
 * Crops come from the training image files; a point whose image is unknown or unreadable is listed without a crop.
 */
export async function writeExplanation(outDir: string, r: ExplainResult, o: WriteExplanationOptions): Promise<ExplanationFiles> {
  const context = o.context ?? 1;
  const cropSide = o.cropSide ?? 192;
  const pngs: string[] = [];
  const urls = new Map<string, string>();
  const writePng = async (rel: string, img: RGBImage): Promise<void> => {
    const png = await encodePNG(img);
    const f = path.join(outDir, rel);
    await writeFileAtomic(f, png);
    pngs.push(f);
    urls.set(rel, pngDataUrl(png));
  };
  if (o.testImage) {
    const t = await testPanels(r, o.testImage, o.displaySide ?? 448);
    await writePng('test-region.png', t.region);
    await writePng('test-map.png', t.overlay);
  }
  const images = new Map<string, RGBImage | string>();
  const points: ExplainedPointJSON[] = [];
  for (const [side, list] of [['excitatory', r.excitatory], ['inhibitory', r.inhibitory]] as const) {
    for (const p of list) {
      const e: ExplainedPointJSON = { ...p, side };
      const file = p.imageFile ?? o.imageFor?.(p.id);
      if (file === undefined) e.cropMissing = 'no image file known for this training id';
      else {
        e.imageFile = file;
        if (!images.has(file)) {
          try {
            images.set(file, await readImageRGB(file));
          } catch (err) {
            images.set(file, (err as Error).message);
          }
        }
        const img = images.get(file)!;
        if (typeof img === 'string') e.cropMissing = img;
        else if (p.imageSize && (p.imageSize[0] !== img.height || p.imageSize[1] !== img.width)) {
          // The file changed since the fit: its cells would not be the patches the features came from.
          e.cropMissing = `${file} is ${img.width}×${img.height} now but was ${p.imageSize[1]}×${p.imageSize[0]} at fit time`;
        } else {
          const cb = cellBox(p.grid, p.row, p.col, img.width, img.height);
          const xb = contextBox(p.grid, p.row, p.col, img.width, img.height, context);
          const crop = cropRGB(img, xb);
          const [cw, ch] = fitSize(crop.width, crop.height, cropSide);
          const disp = await resizeRGB(crop, cw, ch, 'bilinear');
          const sx = cw / crop.width;
          const sy = ch / crop.height;
          drawRect(disp, scaleToPixels(relativeTo(cb, xb[0], xb[1]), sx, sy), CELL_COLOR, 2);
          const rel = `crops/${side}_${String(p.rank).padStart(2, '0')}.png`;
          await writePng(rel, disp);
          // The whole training photo, small, with the cell outlined: where the patch sits.
          const [tw, th] = fitSize(img.width, img.height, 112);
          const thumb = await resizeRGB(img, tw, th, 'bilinear');
          drawRect(thumb, scaleToPixels(cb, tw / img.width, th / img.height), CELL_COLOR, 2);
          const thumbRel = `crops/${side}_${String(p.rank).padStart(2, '0')}_where.png`;
          await writePng(thumbRel, thumb);
          e.thumb = thumbRel;
          const cellRel = `crops/${side}_${String(p.rank).padStart(2, '0')}_cell.png`;
          await writeFileAtomic(path.join(outDir, cellRel), await encodePNG(cropRGB(img, cb)));
          pngs.push(path.join(outDir, cellRel));
          e.cellBox = cb;
          e.cropBox = xb;
          e.crop = rel;
          e.cellCrop = cellRel;
        }
      }
      points.push(e);
    }
  }
  const json = {
    format: 'uol-rps-explanation',
    version: 1,
    mode: r.mode,
    note: r.note,
    predictor: { file: o.predictorFile, method: o.predictor.method, backbone: o.predictor.backbone.id },
    weights: r.weights,
    test: { ...r.test, imageFile: o.testFile },
    region: { kind: r.region.kind, threshold: r.region.threshold, box: r.region.box, predicted: r.region.predicted, cells: r.region.cells, bounds: r.region.bounds, mask: Array.from(r.region.mask) },
    regionScore: r.regionScore,
    representerSum: r.representerSum,
    decompositionError: r.decompositionError,
    pointsConsidered: r.pointsConsidered,
    rawScores: Array.from(r.rawScores),
    map: Array.from(r.map),
    excitatory: points.filter((p) => p.side === 'excitatory'),
    inhibitory: points.filter((p) => p.side === 'inhibitory'),
  };
  const jsonFile = path.join(outDir, 'explain.json');
  await writeFileAtomic(jsonFile, JSON.stringify(json, null, 1) + '\n');
  const htmlFile = path.join(outDir, 'index.html');
  await writeFileAtomic(htmlFile, renderHtml(r, o, points, urls));
  return { html: htmlFile, json: jsonFile, pngs, points };
}

/** A training id for the page: ids relative to a working directory elsewhere (`../../x/y.jpg`) or absolute show their file name. */
function displayId(id: string): string {
  return id.startsWith('..') || path.isAbsolute(id) ? path.basename(id) : id;
}

function card(p: ExplainedPointJSON, urls: Map<string, string>): string {
  const img = p.crop ? `<img src="${urls.get(p.crop)}" alt="training patch ${esc(p.id)} (${p.row},${p.col})">` : `<div class="nocrop">${esc(p.cropMissing ?? 'no crop')}</div>`;
  const thumb = p.thumb ? `<img class="thumb" src="${urls.get(p.thumb)}" alt="where in ${esc(p.id)}" title="the whole training image; the cell is outlined">` : '';
  const where = p.cellBox ? ` · px [${p.cellBox.join(', ')})` : '';
  return `<figure class="card ${p.side}">${img}<figcaption><div class="head" title="${esc(p.imageFile ?? p.id)}"><b>#${p.rank}</b> ${esc(displayId(p.id))}</div>
<div class="row">${thumb}<span class="pos">cell (${p.row}, ${p.col}) of ${p.grid[0]}×${p.grid[1]}${where}</span></div>
<table><tr><th>representer value</th><td>${fmt(p.representerValue)}</td></tr><tr><th>α</th><td>${fmt(p.alpha)}</td></tr><tr><th>similarity</th><td>${fmt(p.similarity)}</td></tr><tr><th>‖f‖</th><td>${fmt(p.norm)}</td></tr></table></figcaption></figure>`;
}

function renderHtml(r: ExplainResult, o: WriteExplanationOptions, points: ExplainedPointJSON[], urls: Map<string, string>): string {
  const m = o.predictor.method;
  const params = m.params ? Object.entries(m.params).filter(([k]) => ['loss', 'lambda', 'scale', 'kappa', 'c'].includes(k)).map(([k, v]) => `${k}=${typeof v === 'number' ? fmt(v) : String(v)}`).join(', ') : '';
  const boxText = `[${(r.region.box ?? []).map((v) => fmt(v, 6)).join(', ')})`;
  const regionText =
    r.region.kind === 'pixel'
      ? `foreground cells (map above τ = ${fmt(r.region.threshold)})`
      : r.region.kind === 'box'
        ? r.region.predicted
          ? `cells inside the predicted box ${boxText} (τ = ${fmt(r.region.threshold)}, as uol localize)`
          : `cells inside the box ${boxText}`
        : 'one cell';
  const wText = r.weights.kind === 'global' ? 'global w' : `class ${r.weights.index}${r.weights.name !== undefined ? ` (${r.weights.name})` : ''}: w of that class, α over its training images`;
  const rows: [string, string][] = [
    ['predictor', `${esc(o.predictorFile ?? '')} — ${esc(m.name)}${params ? ` (${esc(params)})` : ''}, backbone ${esc(o.predictor.backbone.id)}`],
    ['explained', esc(wText)],
    ['test image', `${esc(o.testFile ?? r.test.id)}: ${r.test.imageSize[1]}×${r.test.imageSize[0]} px, resized whole to ${r.test.inputSize[1]}×${r.test.inputSize[0]}, ${r.test.grid[1]}×${r.test.grid[0]} cells`],
    ['mode', `<b>${r.mode}</b>: ${esc(r.note)}`],
    ['region', `${esc(regionText)}: ${r.region.cells} of ${r.test.grid[0] * r.test.grid[1]} cells, pixels [${r.region.bounds.join(', ')})`],
    ['region score ⟨w, m_R⟩', fmt(r.regionScore, 6)],
    [r.mode === 'exact' ? 'Σ representer values (all points)' : 'Σ representer values (stored points only)', fmt(r.representerSum, 6)],
  ];
  if (r.decompositionError !== undefined) rows.push(['decomposition error', fmt(r.decompositionError, 2)]);
  rows.push(['training points considered', String(r.pointsConsidered)]);
  const panels = urls.has('test-region.png')
    ? `<div class="panels"><figure><img src="${urls.get('test-region.png')}" alt="test image with region"><figcaption>test image: region cells (bright, white outline)${r.region.box ? '; red: the box' : ''}</figcaption></figure>
<figure><img src="${urls.get('test-map.png')}" alt="activation map"><figcaption>activation map (clamp, min-max, bilinear)</figcaption></figure></div>`
    : '';
  const side = (s: 'excitatory' | 'inhibitory') => points.filter((p) => p.side === s).map((p) => card(p, urls)).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>uol explain — ${esc(r.test.id)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d1d1f;background:#fafafa}
h1{font-size:20px;margin:0 0 12px}h2{font-size:16px;margin:24px 0 8px}
table.summary{border-collapse:collapse;margin-bottom:16px}table.summary th{text-align:left;padding:2px 12px 2px 0;color:#555;font-weight:500;vertical-align:top}
.panels{display:flex;gap:16px;flex-wrap:wrap}.panels figure{margin:0}.panels img{display:block;border-radius:4px}
figcaption{font-size:12px;color:#444;margin-top:4px}
.grid{display:flex;flex-wrap:wrap;gap:12px}.card{margin:0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px;width:232px}
.card img{display:block;max-width:192px;max-height:192px;margin:auto}.card .head{overflow-wrap:anywhere}.card .row{display:flex;align-items:center;gap:8px;margin:4px 0}.card img.thumb{max-width:64px;max-height:64px;margin:0;border:1px solid #ccc;flex:none}.card th{white-space:nowrap}.card.excitatory{border-top:4px solid #2a9d2a}.card.inhibitory{border-top:4px solid #c0392b}
.card table{font-size:12px;border-collapse:collapse}.card th{text-align:left;font-weight:400;color:#666;padding-right:8px}.pos{color:#666}
.nocrop{height:96px;display:flex;align-items:center;justify-content:center;color:#888;font-size:12px;text-align:center}
.help{color:#555;max-width:900px}
</style></head><body>
<h1>Why is this foreground? — ${esc(r.test.id)}</h1>
<table class="summary">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('')}</table>
${panels}
<p class="help">Each training patch i contributes a representer value α<sub>i</sub>·⟨f̂<sub>i</sub>, m<sub>R</sub>⟩ to the region's score, where α<sub>i</sub> is its global importance (positive: excitatory, negative: inhibitory) and ⟨f̂<sub>i</sub>, m<sub>R</sub>⟩ its mean cosine similarity to the region's cells. Yellow rectangles mark the patch's feature cell in its training image.</p>
<h2>Excitatory: patches that make the region foreground</h2>
<div class="grid">${side('excitatory') || '<p>none</p>'}</div>
<h2>Inhibitory: patches that argue against it</h2>
<div class="grid">${side('inhibitory') || '<p>none</p>'}</div>
</body></html>
`;
}
