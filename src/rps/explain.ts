/**
 * Explanations by representer points (docs/method.md §1): which training patches made the predictor call a test region
 * foreground.
 *
 * For a test region R (a set of feature cells) with mean normalised feature m_R = (1/|R|)Σ_{q∈R} f̂_q, the mean raw
 * score splits exactly over the training points:
 *
 *     ⟨w, m_R⟩ = Σ_i α_i ⟨f̂_i, m_R⟩ = Σ_i RV_i,     RV_i = α_i · sim_i,   sim_i = ⟨f̂_i, m_R⟩ (mean cosine to R's cells)
 *
 * (α in the unit frame, representers.ts). The training patches shown are those with the largest RV_i (excitatory:
 * they push R towards foreground) and the most negative RV_i (inhibitory).
 *
 * Two modes:
 * - **exact** (a training source is given): one streaming pass recomputes α_i for every training point and keeps the
 *   exact top-K/bottom-K by RV_i with bounded heaps; Σ_i RV_i is accumulated over all points and compared with
 *   ⟨w, m_R⟩ (`decompositionError`).
 * - **stored** (no source): ranks only the representer points stored in the predictor (the top-K by |α| per side,
 *   chosen at fit time without knowing R). This is an approximation: a point with a moderate α but a very high
 *   similarity to R can have a larger RV than any stored point and is then missed. The result says so.
 *
 * Regions (RegionSpec): by default the box `uol localize` predicts at τ (the predictor's stored τ, else 0.5) — the
 * cells whose centre lies in it; or a given box, the foreground cells, or the one cell at a pixel.
 *
 * Class-wise predictors: with `classIndex` k the map and region use w_k, and α is that class's: w_k is fitted on class-k
 * images only (closed form: the linear loss on class-k points; `--method optimize --classwise`: the class's own
 * classifier), so Σ_{i∈k} α_i f̂_i = w_k and points of other classes carry no α. Only the exact mode can give them (a
 * labelled training source): the points stored at fit time belong to the global w, so the stored mode refuses a class.
 * Without `classIndex` the global w is explained.
 *
 * Geometry: features are assumed to come from the whole image resized to the network input (no crop), as in the fit
 * (docs/method.md §3). Cell (r, c) of an h×w grid then covers [c·W/w, (c+1)·W/w) × [r·H/h, (r+1)·H/h) of a W×H image
 * (for a stride-s network with input side S = s·w this is the cell [c·s, (c+1)·s) of the input frame mapped back).
 */
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import type { PixelBox } from '../report/draw.js';
import { grayCut, toGrayMax } from '../localize/gray.js';
import { boxesFromMap } from '../localize/boxes.js';
import { assertCompatible, classRow, type Predictor } from './predictor.js';
import { normalizeMaps, rawScores, upsampleMaps } from './activation.js';
import { PointStream, type HostFeatureMap, type TrainingSource } from './point-source.js';
import { alphaModelFromPredictor, scanPoints, storedRepresenters, type RepresenterPoint } from './representers.js';
import { resolveThreshold } from './threshold.js';

/** Which test cells to explain. Coordinates are pixels of the original test image. */
export type RegionSpec =
  /**
   * Foreground cells: cells whose normalised map value passes the box rule at τ (⌊255·m⌋ > ⌊τ·max⌊255·m⌋⌋, docs/method.md
   * §5, on the cell grid). τ defaults to the predictor's stored one, else 0.5.
   */
  | { kind: 'pixel'; threshold?: number }
  /**
   * Cells whose centre lies in `box` [x0,x1) × [y0,y1) of the test image. Without `box`: the box `uol localize` predicts
   * at τ (map upsampled to the input frame, largest contour, mapped back to the image), default τ as for `pixel`.
   */
  | { kind: 'box'; box?: [number, number, number, number]; threshold?: number }
  /** The single cell containing pixel (x, y). */
  | { kind: 'at'; x: number; y: number };

/** The test input of an explanation. */
export interface TestInput {
  /** Name used in reports. */
  id: string;
  /** Test features: host [h,w,C] or a tensor [1,h,w,C] (not disposed). */
  features: HostFeatureMap | tf.Tensor4D;
  /** Original test image size [H,W] in pixels (region coordinates and boxes refer to it). */
  imageSize: [number, number];
  /**
   * Input frame [H,W] the features were computed on (the whole image resized to it). The predicted box is found on the
   * map upsampled to this frame, as `uol localize` does. Default: `imageSize`.
   */
  inputSize?: [number, number];
}

/** Options of {@link explain}. */
export interface ExplainOptions {
  predictor: Predictor;
  /** Predictor file name for messages. */
  predictorFile?: string;
  test: TestInput;
  /** Default `{ kind: 'box' }` (the predicted box). */
  region?: RegionSpec;
  /** Points per side (default 8). */
  top?: number;
  /** Training points for the exact mode (the same set the predictor was fitted on). */
  training?: TrainingSource;
  /**
   * Class-wise predictors: explain class k's w*_k with that class's α (α lives on class-k training images only). Needs
   * the exact mode with a labelled training source: stored representer points belong to the global w.
   */
  classIndex?: number;
  batchPoints?: number;
  onProgress?: ProgressCallback;
}

/** One explaining training patch: a representer point (without its feature vector) with its value for the region. */
export interface ExplainedPoint extends Omit<RepresenterPoint, 'feature'> {
  /** 1-based rank within its side. */
  rank: number;
  /** ⟨f̂_i, m_R⟩: the mean cosine similarity to the region's cells. */
  similarity: number;
  /** RV_i = α_i · similarity. */
  representerValue: number;
}

/** The explained region. */
export interface ExplainedRegion {
  kind: RegionSpec['kind'];
  /** Threshold τ used (foreground cells, or the predicted box). */
  threshold?: number;
  /** The box given or predicted (box regions), image pixels [x0,y0,x1,y1) (continuous edges). */
  box?: [number, number, number, number];
  /** True when `box` is the predicted box (not given). */
  predicted?: boolean;
  /** Number of cells. */
  cells: number;
  /** 1 for cells in the region, row-major [h·w]. */
  mask: Uint8Array;
  /** Bounding box of the region's cells in image pixels [x0,y0,x1,y1) (integers). */
  bounds: PixelBox;
}

/** Result of {@link explain}. */
export interface ExplainResult {
  mode: 'exact' | 'stored';
  /** What the mode means for the numbers. */
  note: string;
  test: { id: string; grid: [number, number]; imageSize: [number, number]; inputSize: [number, number] };
  /** Which w was explained: the global one, or class k's. */
  weights: { kind: 'global' } | { kind: 'class'; index: number; name?: string };
  region: ExplainedRegion;
  /** Raw scores ⟨w, f̂_q⟩ before clamping, row-major [h·w], in [−1,1]. */
  rawScores: Float32Array;
  /** The map after clamp and min-max, [h·w] in [0,1]. */
  map: Float32Array;
  /** ⟨w, m_R⟩ = the mean raw score over the region. */
  regionScore: number;
  /** Σ RV over the points considered (all training points in exact mode; the stored candidates otherwise). */
  representerSum: number;
  /** Exact mode: |representerSum − regionScore| / max(|regionScore|, 1e-2). */
  decompositionError?: number;
  /** Training points considered. */
  pointsConsidered: number;
  excitatory: ExplainedPoint[];
  inhibitory: ExplainedPoint[];
}

/** Pixel rectangle [x0,y0,x1,y1) of cell (row, col) of a `grid` over a width×height image (integers, clipped). */
export function cellBox(grid: [number, number], row: number, col: number, width: number, height: number): PixelBox {
  const [h, w] = grid;
  return [
    Math.max(0, Math.floor((col * width) / w)),
    Math.max(0, Math.floor((row * height) / h)),
    Math.min(width, Math.ceil(((col + 1) * width) / w)),
    Math.min(height, Math.ceil(((row + 1) * height) / h)),
  ];
}

/** Cell box grown by `context` cells on every side (clipped): the crop shown for a training patch. */
export function contextBox(grid: [number, number], row: number, col: number, width: number, height: number, context = 1): PixelBox {
  const a = cellBox(grid, Math.max(0, row - context), Math.max(0, col - context), width, height);
  const b = cellBox(grid, Math.min(grid[0] - 1, row + context), Math.min(grid[1] - 1, col + context), width, height);
  return [a[0], a[1], b[2], b[3]];
}

function hostFeatures(t: TestInput): Promise<HostFeatureMap> | HostFeatureMap {
  if (!(t.features instanceof tf.Tensor)) return t.features;
  const s = t.features.shape;
  if (s.length !== 4 || s[0] !== 1) throw new UsageError(`${t.id}: test features must be [1,h,w,C], got [${s.join(',')}]`);
  return t.features.data().then((d) => ({ shape: [s[1], s[2], s[3]] as [number, number, number], data: d as Float32Array }));
}

/**
 * The box `uol localize` predicts from a cell map: upsample (bilinear, align_corners) to the input frame, largest
 * contour at τ (localize/boxes.ts), cv2 box [x, y, x+w, y+h] scaled back to the image (continuous edges, rounded to
 * 1/100 px as pipeline/localize.ts `toOriginal` does). Undefined when nothing passes τ.
 */
async function predictedBox(map: Float32Array, grid: [number, number], frame: [number, number], size: [number, number], tau: number): Promise<[number, number, number, number] | undefined> {
  const [Hs, Ws] = frame;
  const up = tf.tidy(() => upsampleMaps(tf.tensor3d(map, [1, grid[0], grid[1]]), frame));
  let m: Float32Array;
  try {
    m = (await up.data()) as Float32Array;
  } finally {
    up.dispose();
  }
  const b = boxesFromMap(m, Hs, Ws, tau)[0];
  if (!b) return undefined;
  const [H, W] = size;
  const r = (v: number) => Math.round(v * 100) / 100;
  const cx = (v: number) => r(Math.min(W, Math.max(0, (v * W) / Ws)));
  const cy = (v: number) => r(Math.min(H, Math.max(0, (v * H) / Hs)));
  return [cx(b[0]), cy(b[1]), cx(b[2]), cy(b[3])];
}

async function selectRegion(spec: RegionSpec, map: Float32Array, grid: [number, number], size: [number, number], frame: [number, number], tau: number, id: string): Promise<ExplainedRegion> {
  const [h, w] = grid;
  const [H, W] = size;
  const mask = new Uint8Array(h * w);
  const boundsOf = (m: Uint8Array): PixelBox => {
    let r0 = h;
    let r1 = -1;
    let c0 = w;
    let c1 = -1;
    for (let i = 0; i < m.length; i++) {
      if (!m[i]) continue;
      const r = Math.floor(i / w);
      const c = i % w;
      r0 = Math.min(r0, r);
      r1 = Math.max(r1, r);
      c0 = Math.min(c0, c);
      c1 = Math.max(c1, c);
    }
    const a = cellBox(grid, r0, c0, W, H);
    const b = cellBox(grid, r1, c1, W, H);
    return [a[0], a[1], b[2], b[3]];
  };
  const cellAt = (x: number, y: number): number => Math.min(h - 1, Math.floor((y * h) / H)) * w + Math.min(w - 1, Math.floor((x * w) / W));
  const region: ExplainedRegion = { kind: spec.kind, cells: 0, mask, bounds: [0, 0, 0, 0] };
  if (spec.kind === 'pixel') {
    const { gray, max } = toGrayMax(map, h, w);
    const cut = grayCut(tau, max);
    for (let i = 0; i < mask.length; i++) mask[i] = gray[i]! > cut ? 1 : 0;
    if (!mask.some((x) => x)) throw new UsageError(`${id}: no foreground cell at threshold ${tau} (the map is flat)`);
    region.threshold = tau;
  } else if (spec.kind === 'box') {
    let box = spec.box;
    if (!box) {
      box = await predictedBox(map, grid, frame, size, tau);
      if (!box) throw new UsageError(`${id}: no box at threshold ${tau} (the map is flat); give --box or --at`);
      region.threshold = tau;
      region.predicted = true;
    }
    const [x0, y0, x1, y1] = box;
    if (!(x1 > x0 && y1 > y0)) throw new UsageError(`box ${box.join(',')}: expected x0,y0,x1,y1 with x1 > x0 and y1 > y0`);
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        const cx = ((c + 0.5) * W) / w;
        const cy = ((r + 0.5) * H) / h;
        if (cx >= x0 && cx < x1 && cy >= y0 && cy < y1) mask[r * w + c] = 1;
      }
    }
    if (!mask.some((x) => x)) {
      // A predicted box narrower than a cell: the cell holding its centre.
      if (region.predicted) mask[cellAt(Math.min(W - 1, (x0 + x1) / 2), Math.min(H - 1, (y0 + y1) / 2))] = 1;
      else throw new UsageError(`box ${box.join(',')}: contains no feature-cell centre of the ${w}×${h} grid over the ${W}×${H} image`);
    }
    region.box = box;
  } else {
    const { x, y } = spec;
    if (!(x >= 0 && x < W && y >= 0 && y < H)) throw new UsageError(`point ${x},${y}: outside the ${W}×${H} test image`);
    mask[cellAt(x, y)] = 1;
  }
  region.cells = mask.reduce((a, b) => a + b, 0);
  region.bounds = boundsOf(mask);
  return region;
}

/**
 * Explains a test region by its training patches with the largest (and most negative) representer values.
 * @throws UsageError for incompatible features, an empty region, or a predictor that cannot give α.
 */
export async function explain(o: ExplainOptions): Promise<ExplainResult> {
  const p = o.predictor;
  const file = o.predictorFile ?? '<predictor>';
  const top = o.top ?? 8;
  if (!Number.isInteger(top) || top < 1) throw new UsageError(`--top ${top}: expected an integer ≥ 1`);
  const feats = await hostFeatures(o.test);
  const [h, w, C] = feats.shape;
  assertCompatible(p, { ...p.backbone, channels: C }, file);
  // Which w: the global one, or class k's (checked, with its α model, before any work).
  const k = o.classIndex;
  const model = alphaModelFromPredictor(p, file, k);
  if (model.wRaw.length !== C) throw new UsageError(`${file}: predictor has ${model.wRaw.length} channels, test features ${C}`);
  let weights: ExplainResult['weights'] = { kind: 'global' };
  let wVec: Float32Array = p.weights;
  if (k !== undefined) {
    const row = classRow(p, k);
    wVec = p.perClassWeights!.subarray(row * C, (row + 1) * C);
    weights = { kind: 'class', index: k };
    const name = p.classes[row]!.name;
    if (name !== undefined) weights.name = name;
    if (!o.training) {
      throw new UsageError(
        `${file}: class-wise explanations need the exact mode (the stored representer points belong to the global w): give the labelled training set (--train-dataset D --train-data-dir DIR, or --train-features DIR --train-labels CSV)`,
      );
    }
  }
  const [rawT, mapT] = tf.tidy(() => {
    const x = tf.tensor4d(feats.data, [1, h, w, C]);
    const raw = rawScores(x, tf.tensor1d(wVec));
    return [raw, normalizeMaps(raw)];
  });
  let raw: Float32Array;
  let map: Float32Array;
  try {
    [raw, map] = (await Promise.all([rawT.data(), mapT.data()])) as [Float32Array, Float32Array];
  } finally {
    tf.dispose([rawT, mapT]);
  }
  const tau = resolveThreshold(p, o.region && 'threshold' in o.region ? o.region.threshold : undefined).value;
  const inputSize = o.test.inputSize ?? o.test.imageSize;
  const region = await selectRegion(o.region ?? { kind: 'box' }, map, [h, w], o.test.imageSize, inputSize, tau, o.test.id);
  // m_R = mean f̂ over the region (float64 on the host: |R|·C values).
  const mR = new Float64Array(C);
  let regionScore = 0;
  for (let q = 0; q < h * w; q++) {
    if (!region.mask[q]) continue;
    const f = feats.data.subarray(q * C, (q + 1) * C);
    let n = 0;
    for (let j = 0; j < C; j++) n += f[j]! * f[j]!;
    n = Math.max(Math.sqrt(n), 1e-12);
    for (let j = 0; j < C; j++) mR[j]! += f[j]! / n / region.cells;
    regionScore += raw[q]! / region.cells;
  }
  const toExplained = (pt: RepresenterPoint, sim: number, rv: number, rank: number): ExplainedPoint => {
    const e: ExplainedPoint = { rank, id: pt.id, grid: pt.grid, row: pt.row, col: pt.col, alpha: pt.alpha, norm: pt.norm, similarity: sim, representerValue: rv };
    if (pt.imageFile !== undefined) e.imageFile = pt.imageFile;
    if (pt.inputSize) e.inputSize = pt.inputSize;
    if (pt.imageSize) e.imageSize = pt.imageSize;
    return e;
  };
  const base = { test: { id: o.test.id, grid: [h, w] as [number, number], imageSize: o.test.imageSize, inputSize }, weights, region, rawScores: raw, map, regionScore };
  if (o.training) {
    const sopts: ConstructorParameters<typeof PointStream>[1] = { cacheBytes: 0 };
    if (o.batchPoints !== undefined) sopts.batchPoints = o.batchPoints;
    if (o.onProgress) sopts.onProgress = o.onProgress;
    const stream = new PointStream(o.training, sopts);
    try {
      const s = await scanPoints(stream, model, { k: top, query: Float32Array.from(mR), stage: 'explain' });
      if (s.summary.points !== model.points) {
        const what = k === undefined ? 'training features have' : `training images of class ${k} have`;
        throw new UsageError(`the ${what} ${s.summary.points} points but ${file} was fitted on ${model.points}: give the fit's training set`);
      }
      return {
        mode: 'exact',
        note: `every training point${k === undefined ? '' : ` of class ${k}`} was scanned; Σ RV over all points reproduces the region score`,
        ...base,
        representerSum: s.keySum,
        decompositionError: Math.abs(s.keySum - regionScore) / Math.max(Math.abs(regionScore), 1e-2),
        pointsConsidered: s.summary.points,
        excitatory: s.top.filter((x) => x.key > 0).map((x, i) => toExplained(x, x.similarity!, x.key, i + 1)),
        inhibitory: s.bottom.filter((x) => x.key < 0).map((x, i) => toExplained(x, x.similarity!, x.key, i + 1)),
      };
    } finally {
      stream.dispose();
    }
  }
  const stored = storedRepresenters(p, file);
  if (!stored || stored.excitatory.length + stored.inhibitory.length === 0) {
    throw new UsageError(`${file}: has no stored representer points; refit with --top-k K, or give the training set for the exact mode (--train-images, --train-dataset or --train-features)`);
  }
  const scored = [...stored.excitatory, ...stored.inhibitory].map((pt) => {
    let sim = 0;
    for (let j = 0; j < C; j++) sim += pt.feature[j]! * mR[j]!;
    return { pt, sim, rv: pt.alpha * sim };
  });
  const pos = scored.filter((s) => s.rv > 0).sort((a, b) => b.rv - a.rv);
  const neg = scored.filter((s) => s.rv < 0).sort((a, b) => a.rv - b.rv);
  return {
    mode: 'stored',
    note: `approximate: only the ${scored.length} representer points stored at fit time (top ${stored.k} by α per side) were ranked; give the training set for the exact top representer values`,
    ...base,
    representerSum: scored.reduce((a, s) => a + s.rv, 0),
    pointsConsidered: scored.length,
    excitatory: pos.slice(0, top).map((s, i) => toExplained(s.pt, s.sim, s.rv, i + 1)),
    inhibitory: neg.slice(0, top).map((s, i) => toExplained(s.pt, s.sim, s.rv, i + 1)),
  };
}

/** Options of {@link explainImage}. */
export interface ExplainImageOptions extends Omit<ExplainOptions, 'test'> {
  /**
   * Network input size [H,W] the test image is resized to, whole (default: the input frame the stored representer
   * points were computed on, else the backbone's default square size — as `uol localize IMAGES` does).
   */
  size?: [number, number];
  /** Test id for reports (default: the file name without extension). */
  id?: string;
}

/** The input frame of a predictor's fit when its stored representer points record it. */
export function fitInputSize(p: Predictor, file = '<predictor>'): [number, number] | undefined {
  const st = storedRepresenters(p, file);
  return (st?.excitatory[0] ?? st?.inhibitory[0])?.inputSize;
}
