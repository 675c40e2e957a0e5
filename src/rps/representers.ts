/**
 * Global sample importance α, representer values and representer points (docs/method.md §1, §3).
 *
 * Frame. A predictor stores the unit direction w = w_opt/‖w_opt‖ (maps are scale-free). Throughout this module α is
 * given in that *unit frame*: α_i = −∂L_i/∂ŷ_i / (2λN‖w_opt‖), so that at the optimum Σ_i α_i f̂_i = w exactly, and the
 * raw score of a test position q splits into representer values: ⟨w, f̂_q⟩ = Σ_i α_i⟨f̂_i, f̂_q⟩. (The paper's α is
 * ‖w_opt‖ times ours; `wNorm` is recorded in the predictor.)
 *
 * For a closed-form predictor the same holds with the linear loss (see optimize.ts): α_i = s_i / ‖Σ_j s_j f̂_j‖ with
 * s_i = ‖f_i‖/c − 1, and Σ_j s_j f̂_j = N(v/c − u) comes from the stored statistics — so every predictor can be
 * explained.
 *
 * Representer points: one streaming pass keeps, with bounded heaps (exact top-K, O(K) memory), the K most excitatory
 * (largest α) and K most inhibitory (most negative α) training points with their image id, grid position, α and f̂.
 * The same pass accumulates Σα_i f̂_i (float64) for the representer-theorem residual ‖w − Σα_i f̂_i‖/‖w‖.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../util/errors.js';
import { classRow, type Predictor } from './predictor.js';
import { getLoss, type LossName, type LossParams } from './losses.js';
import { CLASSWISE_EXTRA, decodeClasswise } from './classwise-fit.js';
import type { ItemSpan, PointBatch, PointStream } from './point-source.js';
import { base64ToBytes, bytesToBase64, floatBytes } from '../util/base64.js';

/** What α of a predictor is computed from. */
export interface AlphaModel {
  loss: LossName;
  params: LossParams;
  /** Regularisation λ > 0. */
  lambda: number;
  /** Number of training points N. */
  points: number;
  /** The raw (unnormalised) optimum w_opt, [C] float64. */
  wRaw: Float64Array;
  /**
   * Class-wise model: only the training points of images of this class carry α (the others have α = 0 and are not
   * counted); `points` is that class's point count. Sources must then give every item its class index.
   */
  classIndex?: number;
}

function norm2(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s);
}

function numParam(p: Predictor, key: string, file: string): number {
  const v = p.method.params?.[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new UsageError(`${file}: method.params.${key} is missing or not a number`);
  return v;
}

/** w_opt = v/c − u of a closed-form statistics block (the linear loss with λ = 1/2, t = 1: w_opt = (1/N)Σ s_i f̂_i). */
function closedFormRaw(b: Predictor['statistics'][number]): Float64Array {
  const wRaw = new Float64Array(b.sumF.length);
  for (let i = 0; i < wRaw.length; i++) wRaw[i] = b.sumF[i]! / b.points / b.c - b.sumFhat[i]! / b.points;
  return wRaw;
}

/**
 * The α model of a predictor's w: for `optimize` from its stored parameters, for `closed-form` from its statistics
 * (linear loss). With `classIndex` (class-wise predictors): the model of that class's w_k, whose α live on that class's
 * training points only — w_k is fitted on class-k images, so Σ_{i∈k} α_i f̂_i = w_k (closed form: from the class's
 * statistics; optimised: from the class's stored c_k, N_k and ‖w_opt,k‖).
 * @throws UsageError when the predictor lacks what is needed (statistics, the class, a class-wise fit).
 */
export function alphaModelFromPredictor(p: Predictor, file = '<predictor>', classIndex?: number): AlphaModel {
  if (classIndex !== undefined) {
    if (!p.classwise || !p.perClassWeights) throw new UsageError(`${file}: not a class-wise predictor (fit with --classwise to explain class ${classIndex})`);
    if (classRow(p, classIndex) < 0) {
      throw new UsageError(`${file}: class ${classIndex} has no w (classes: ${p.classes.map((c) => (c.name ? `${c.index}=${c.name}` : String(c.index))).join(', ')})`);
    }
    if (p.method.name === 'optimize') {
      // Class-wise optimised fit: class k's classifier, its c_k, N_k and ‖w_opt,k‖ (optimize.ts fitClasswise).
      const cw = decodeClasswise(p.extras, file);
      const fit = cw?.classes.find((c) => c.index === classIndex);
      if (!fit) throw new UsageError(`${file}: no class-wise fit parameters for class ${classIndex} (extras.${CLASSWISE_EXTRA})`);
      const row = classRow(p, classIndex);
      const C = p.weights.length;
      const unit = p.perClassWeights.subarray(row * C, (row + 1) * C);
      return {
        loss: getLoss(String(p.method.params?.loss ?? '')).name,
        params: { c: fit.c, kappa: numParam(p, 'kappa', file), scale: numParam(p, 'scale', file) },
        lambda: numParam(p, 'lambda', file),
        points: fit.points,
        wRaw: Float64Array.from(unit, (v) => v * fit.wNorm),
        classIndex,
      };
    }
    const b = p.statistics.find((s) => s.key === String(classIndex));
    if (!b || !(b.points > 0)) throw new UsageError(`${file}: no statistics for class ${classIndex}: cannot compute its α`);
    return { loss: 'linear', params: { c: b.c, kappa: 1, scale: 1 }, lambda: 0.5, points: b.points, wRaw: closedFormRaw(b), classIndex };
  }
  if (p.method.name === 'optimize') {
    const loss = getLoss(String(p.method.params?.loss ?? '')).name;
    const wNorm = numParam(p, 'wNorm', file);
    return {
      loss,
      params: { c: numParam(p, 'c', file), kappa: numParam(p, 'kappa', file), scale: numParam(p, 'scale', file) },
      lambda: numParam(p, 'lambda', file),
      points: numParam(p, 'points', file),
      wRaw: Float64Array.from(p.weights, (x) => x * wNorm),
    };
  }
  const g = p.statistics.find((s) => s.key === 'global');
  if (!g || !(g.points > 0)) throw new UsageError(`${file}: closed-form predictor without global statistics: cannot compute α`);
  return { loss: 'linear', params: { c: g.c, kappa: 1, scale: 1 }, lambda: 0.5, points: g.points, wRaw: closedFormRaw(g) };
}

/**
 * α (unit frame) of a batch of points as tf ops.
 * @param fhat [B,C] normalised features. @param norms [B,1] ‖f‖. @param wRaw [C,1] float32 w_opt.
 * @returns [B,1] float32.
 */
export function alphaOf(m: AlphaModel, fhat: tf.Tensor2D, norms: tf.Tensor2D, wRaw: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const loss = getLoss(m.loss);
    const yhat = tf.matMul(fhat, wRaw) as tf.Tensor2D;
    const d = loss.derivative(yhat, loss.labels(norms, m.params), m.params);
    return tf.mul(d, -1 / (2 * m.lambda * m.points * norm2(m.wRaw))) as tf.Tensor2D;
  });
}

// ---------------------------------------------------------------- bounded top-K

/** Keeps the K entries with the largest keys (ties: the earlier-seen entry wins). */
export class TopK<T> {
  private readonly heap: { key: number; seq: number; value: T }[] = [];
  constructor(readonly k: number) {
    if (!Number.isInteger(k) || k < 0) throw new UsageError(`top-K size ${k} must be an integer ≥ 0`);
  }

  private worse(a: { key: number; seq: number }, b: { key: number; seq: number }): boolean {
    return a.key < b.key || (a.key === b.key && a.seq > b.seq);
  }

  /** Smallest key an entry must beat to get in (−∞ while not full). */
  threshold(): number {
    if (this.k === 0) return Infinity;
    return this.heap.length < this.k ? -Infinity : this.heap[0]!.key;
  }

  /** Offers an entry; `seq` orders ties (smaller wins). */
  offer(key: number, seq: number, value: () => T): void {
    if (this.k === 0 || Number.isNaN(key)) return;
    const e = { key, seq, value: undefined as unknown as T };
    const h = this.heap;
    if (h.length < this.k) {
      e.value = value();
      h.push(e);
      let i = h.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!this.worse(h[i]!, h[p]!)) break;
        [h[i], h[p]] = [h[p]!, h[i]!];
        i = p;
      }
      return;
    }
    if (!this.worse(h[0]!, e)) return;
    e.value = value();
    h[0] = e;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let w = i;
      if (l < h.length && this.worse(h[l]!, h[w]!)) w = l;
      if (r < h.length && this.worse(h[r]!, h[w]!)) w = r;
      if (w === i) break;
      [h[i], h[w]] = [h[w]!, h[i]!];
      i = w;
    }
  }

  /** Entries, best first. */
  sorted(): T[] {
    return [...this.heap].sort((a, b) => (this.worse(a, b) ? 1 : this.worse(b, a) ? -1 : 0)).map((e) => e.value);
  }

  get size(): number {
    return this.heap.length;
  }
}

// ---------------------------------------------------------------- representer points

/** One training point kept as a representer point. */
export interface RepresenterPoint {
  /** Training image id. */
  id: string;
  /** Training image file, when the source knew it. */
  imageFile?: string;
  /** Input frame [H,W] the features were computed on, when known. */
  inputSize?: [number, number];
  /** Decoded size [H,W] of the training image file at fit time, when known. */
  imageSize?: [number, number];
  /** Feature grid [h,w] of the image. */
  grid: [number, number];
  /** Grid row and column (0-based). */
  row: number;
  col: number;
  /** α in the unit frame (> 0 excitatory, < 0 inhibitory). */
  alpha: number;
  /** ‖f‖. */
  norm: number;
  /** f̂, [C] float32. */
  feature: Float32Array;
}

/** Representer points and the residual check of one pass. */
export interface RepresenterSet {
  /** Up to K points with the largest α, largest first. */
  excitatory: RepresenterPoint[];
  /** Up to K points with the most negative α, most negative first. */
  inhibitory: RepresenterPoint[];
  /** Relative residual ‖w − Σα_i f̂_i‖/‖w‖ (unit frame). */
  residual: number;
  /** Σα_i f̂_i, [C] float64. */
  aggregate: Float64Array;
  /** Counts and ranges of α. */
  summary: { points: number; positive: number; negative: number; min: number; max: number; sum: number };
}

/** Options of {@link scanPoints}. */
export interface ScanOptions {
  /** Points kept per side. */
  k: number;
  /**
   * Rank by representer value α_i⟨f̂_i, q⟩ for this query direction q ([C]; e.g. the mean f̂ of a test region) instead of
   * by α alone.
   */
  query?: Float32Array;
  stage?: string;
}

/** A scanned point with its ranking key. */
export interface ScoredPoint extends RepresenterPoint {
  /** ⟨f̂_i, q⟩ (only with a query). */
  similarity?: number;
  /** α_i⟨f̂_i, q⟩ with a query, else α_i. */
  key: number;
}

/** Result of {@link scanPoints}. */
export interface ScanResult {
  /** Largest keys first. */
  top: ScoredPoint[];
  /** Most negative keys first. */
  bottom: ScoredPoint[];
  /** Σ_i key_i (float64): with a query, the sum of all representer values. */
  keySum: number;
  /** Σα_i f̂_i, [C] float64. */
  aggregate: Float64Array;
  summary: RepresenterSet['summary'];
}

/** 1 for the rows of items of class `k`, else 0. @throws UsageError for an item without a class index. */
function classMask(b: PointBatch, k: number): Float32Array {
  const m = new Float32Array(b.size);
  for (const sp of b.items) {
    if (sp.classIndex === undefined) throw new UsageError(`${sp.id}: training image without a class label; a class-wise explanation needs the labelled training set (e.g. --train-dataset)`);
    if (sp.classIndex === k) m.fill(1, sp.start, sp.start + sp.count);
  }
  return m;
}

function spanAt(items: ItemSpan[], row: number): ItemSpan {
  let lo = 0;
  let hi = items.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (items[mid]!.start <= row) lo = mid;
    else hi = mid - 1;
  }
  return items[lo]!;
}

/**
 * One streaming pass over all training points: α of every point (tf ops, per batch), exact top-K / bottom-K by α (or by
 * representer value for a query), Σα f̂ and Σ key. Memory: O(K·C) on the host plus one batch.
 */
export async function scanPoints(stream: PointStream, m: AlphaModel, o: ScanOptions): Promise<ScanResult> {
  const top = new TopK<ScoredPoint>(o.k);
  const bottom = new TopK<ScoredPoint>(o.k);
  let keySum = 0;
  let aggregate: Float64Array | undefined;
  const summary = { points: 0, positive: 0, negative: 0, min: Infinity, max: -Infinity, sum: 0 };
  const C = m.wRaw.length;
  const wT = tf.tensor2d(Float32Array.from(m.wRaw), [C, 1]);
  const qT = o.query ? tf.tensor2d(o.query, [C, 1]) : undefined;
  let seq = 0;
  try {
    await stream.pass(async (b: PointBatch) => {
      if (b.fhat.shape[1] !== C) throw new UsageError(`training features have ${b.fhat.shape[1]} channels but the predictor has ${C}`);
      const include = m.classIndex === undefined ? undefined : classMask(b, m.classIndex);
      const [alphaT, aggT, simT] = tf.tidy(() => {
        const a0 = alphaOf(m, b.fhat, b.norms, wT);
        const alpha = include ? tf.mul(a0, tf.tensor2d(include, [b.size, 1])) : a0;
        const agg = tf.matMul(tf.reshape(alpha, [1, b.size]), b.fhat);
        const sim = qT ? tf.matMul(b.fhat, qT) : undefined;
        return [alpha, agg, sim] as const;
      });
      let alpha: Float32Array;
      let agg: Float32Array;
      let sim: Float32Array | undefined;
      let norms: Float32Array;
      try {
        [alpha, agg, sim, norms] = (await Promise.all([alphaT.data(), aggT.data(), simT?.data(), b.norms.data()])) as [
          Float32Array,
          Float32Array,
          Float32Array | undefined,
          Float32Array,
        ];
      } finally {
        tf.dispose([alphaT, aggT, ...(simT ? [simT] : [])]);
      }
      aggregate ??= new Float64Array(C);
      for (let j = 0; j < C; j++) aggregate[j]! += agg[j]!;
      const keys = sim ? alpha.map((a, i) => a * sim![i]!) : alpha;
      // Rows that may enter a heap: the batch's own top-K and bottom-K that beat the current thresholds (thresholds only
      // rise, so this is a superset of what gets in), so at most 2K feature rows leave the engine per batch.
      const tTop = top.threshold();
      const tBot = bottom.threshold();
      const bt = new TopK<number>(o.k);
      const bb = new TopK<number>(o.k);
      for (let i = 0; i < b.size; i++) {
        if (include && !include[i]) continue;
        const a = alpha[i]!;
        summary.points++;
        if (a > 0) summary.positive++;
        else if (a < 0) summary.negative++;
        summary.min = Math.min(summary.min, a);
        summary.max = Math.max(summary.max, a);
        summary.sum += a;
        keySum += keys[i]!;
        if (keys[i]! >= tTop) bt.offer(keys[i]!, i, () => i);
        if (-keys[i]! >= tBot) bb.offer(-keys[i]!, i, () => i);
      }
      const rows = [...new Set([...bt.sorted(), ...bb.sorted()])].sort((x, y) => x - y);
      if (rows.length === 0 || o.k === 0) {
        seq += b.size;
        return;
      }
      const featsT = tf.tidy(() => tf.gather(b.fhat, tf.tensor1d(rows, 'int32')));
      let feats: Float32Array;
      try {
        feats = (await featsT.data()) as Float32Array;
      } finally {
        featsT.dispose();
      }
      rows.forEach((i, n) => {
        const make = (): ScoredPoint => {
          const sp = spanAt(b.items, i);
          const k = i - sp.start;
          const p: ScoredPoint = {
            id: sp.id,
            grid: sp.grid,
            row: Math.floor(k / sp.grid[1]),
            col: k % sp.grid[1],
            alpha: alpha[i]!,
            norm: norms[i]!,
            feature: feats.slice(n * C, (n + 1) * C),
            key: keys[i]!,
          };
          if (sp.imageFile !== undefined) p.imageFile = sp.imageFile;
          if (sp.inputSize) p.inputSize = sp.inputSize;
          if (sp.imageSize) p.imageSize = sp.imageSize;
          if (sim) p.similarity = sim[i]!;
          return p;
        };
        top.offer(keys[i]!, seq + i, make);
        bottom.offer(-keys[i]!, seq + i, make);
      });
      seq += b.size;
    }, o.stage ?? 'representers');
  } finally {
    wT.dispose();
    qT?.dispose();
  }
  return { top: top.sorted(), bottom: bottom.sorted(), keySum, aggregate: aggregate ?? new Float64Array(C), summary };
}

/**
 * Representer points of a predictor's global w over a training stream, with the representer-theorem residual.
 * @param unitW the predictor's w ([C], unit norm) the residual is measured against (default: w_opt/‖w_opt‖ of `m`).
 */
export async function collectRepresenters(stream: PointStream, m: AlphaModel, k: number, unitW?: ArrayLike<number>): Promise<RepresenterSet> {
  const r = await scanPoints(stream, m, { k });
  const nw = norm2(m.wRaw);
  const w = unitW ?? Array.from(m.wRaw, (x) => x / nw);
  let num = 0;
  let den = 0;
  for (let j = 0; j < w.length; j++) {
    num += (w[j]! - r.aggregate[j]!) ** 2;
    den += w[j]! ** 2;
  }
  const strip = (p: ScoredPoint): RepresenterPoint => {
    const { key: _key, similarity: _sim, ...rest } = p;
    return rest;
  };
  return {
    excitatory: r.top.filter((p) => p.alpha > 0).map(strip),
    inhibitory: r.bottom.filter((p) => p.alpha < 0).map(strip),
    residual: Math.sqrt(num / den),
    aggregate: r.aggregate,
    summary: r.summary,
  };
}

// ---------------------------------------------------------------- storage in predictor.extras

/** Format tag of representer points stored in `predictor.extras.representers`. */
export const REPRESENTERS_FORMAT = 'uol-rps-representers';

/** A representer point as stored in a predictor: f̂ as base64 float32 little-endian. */
type StoredPoint = Omit<RepresenterPoint, 'feature'> & { feature: string };

/** JSON form of a {@link RepresenterSet} (without the aggregate). */
export interface StoredRepresenters {
  format: typeof REPRESENTERS_FORMAT;
  version: 1;
  /** α frame: always `unit-w` (Σα f̂ = the stored unit w). */
  frame: 'unit-w';
  /** How the points were selected. */
  selection: 'exact top-K by alpha (streaming pass)';
  k: number;
  residual: number;
  summary: RepresenterSet['summary'];
  excitatory: StoredPoint[];
  inhibitory: StoredPoint[];
}

function encPoint(p: RepresenterPoint): StoredPoint {
  const s: StoredPoint = {
    id: p.id,
    grid: p.grid,
    row: p.row,
    col: p.col,
    alpha: p.alpha,
    norm: p.norm,
    feature: bytesToBase64(floatBytes(p.feature)),
  };
  if (p.imageFile !== undefined) s.imageFile = p.imageFile;
  if (p.inputSize) s.inputSize = p.inputSize;
  if (p.imageSize) s.imageSize = p.imageSize;
  return s;
}

/** JSON-safe form for `predictor.extras.representers`. */
export function encodeRepresenters(r: RepresenterSet, k: number): StoredRepresenters {
  return {
    format: REPRESENTERS_FORMAT,
    version: 1,
    frame: 'unit-w',
    selection: 'exact top-K by alpha (streaming pass)',
    k,
    residual: r.residual,
    summary: r.summary,
    excitatory: r.excitatory.map(encPoint),
    inhibitory: r.inhibitory.map(encPoint),
  };
}

/**
 * Reads the representer points stored in a predictor, or undefined when it has none.
 * @throws UsageError for malformed content (naming `file`).
 */
export function storedRepresenters(p: Predictor, file = '<predictor>'): { excitatory: RepresenterPoint[]; inhibitory: RepresenterPoint[]; k: number } | undefined {
  const r = p.extras?.representers as Partial<StoredRepresenters> | undefined;
  if (r === undefined) return undefined;
  if (!r || r.format !== REPRESENTERS_FORMAT || r.version !== 1) throw new UsageError(`${file}: extras.representers: not a version-1 ${REPRESENTERS_FORMAT} block`);
  const C = p.backbone.channels;
  const dec = (s: StoredPoint, i: number, side: string): RepresenterPoint => {
    const where = `${file}: extras.representers.${side}[${i}]`;
    if (!s || typeof s.id !== 'string' || !Array.isArray(s.grid) || typeof s.alpha !== 'number' || typeof s.feature !== 'string') {
      throw new UsageError(`${where}: malformed point`);
    }
    const pair = (v: unknown): boolean => Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x) && (x as number) > 0);
    if (!pair(s.grid)) throw new UsageError(`${where}: grid must be two positive integers, got ${JSON.stringify(s.grid)}`);
    if (!Number.isInteger(s.row) || !Number.isInteger(s.col) || s.row < 0 || s.col < 0 || s.row >= s.grid[0] || s.col >= s.grid[1]) {
      throw new UsageError(`${where}: cell (${String(s.row)}, ${String(s.col)}) is outside its ${s.grid[0]}×${s.grid[1]} grid`);
    }
    if (s.imageFile !== undefined && typeof s.imageFile !== 'string') throw new UsageError(`${where}: imageFile must be a string`);
    for (const k of ['inputSize', 'imageSize'] as const) {
      if (s[k] !== undefined && !pair(s[k])) throw new UsageError(`${where}: ${k} must be two positive integers [H,W], got ${JSON.stringify(s[k])}`);
    }
    const buf = base64ToBytes(s.feature);
    if (!buf) throw new UsageError(`${where}: feature is not base64`);
    if (buf.length !== C * 4) throw new UsageError(`${where}: feature has ${buf.length} bytes, expected ${C * 4}`);
    const feature = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    const p: RepresenterPoint = { id: s.id, grid: s.grid, row: s.row, col: s.col, alpha: s.alpha, norm: s.norm, feature };
    if (s.imageFile !== undefined) p.imageFile = s.imageFile;
    if (s.inputSize) p.inputSize = s.inputSize;
    if (s.imageSize) p.imageSize = s.imageSize;
    return p;
  };
  return {
    excitatory: (r.excitatory ?? []).map((s, i) => dec(s, i, 'excitatory')),
    inhibitory: (r.inhibitory ?? []).map((s, i) => dec(s, i, 'inhibitory')),
    k: Number(r.k ?? 0),
  };
}

/**
 * α (unit frame) of every training point, image by image: `fn` receives each item's span and its α as [h·w] row-major
 * (0 on images of other classes for a class-wise model). One streaming pass; memory is one batch.
 */
export async function forEachAlpha(stream: PointStream, m: AlphaModel, fn: (span: ItemSpan, alpha: Float32Array) => void | Promise<void>): Promise<void> {
  const C = m.wRaw.length;
  const wT = tf.tensor2d(Float32Array.from(m.wRaw), [C, 1]);
  try {
    await stream.pass(async (b) => {
      if (b.fhat.shape[1] !== C) throw new UsageError(`training features have ${b.fhat.shape[1]} channels but the predictor has ${C}`);
      const aT = alphaOf(m, b.fhat, b.norms, wT);
      let a: Float32Array;
      try {
        a = (await aT.data()) as Float32Array;
      } finally {
        aT.dispose();
      }
      if (m.classIndex !== undefined) {
        const keep = classMask(b, m.classIndex);
        for (let i = 0; i < a.length; i++) if (!keep[i]) a[i] = 0;
      }
      for (const sp of b.items) await fn(sp, a.slice(sp.start, sp.start + sp.count));
    }, 'alpha');
  } finally {
    wT.dispose();
  }
}
