/**
 * Streaming box-localization metrics (docs/method.md §6). The evaluator never sees a model: feed it score maps one by one
 * with their ground-truth boxes (and optionally the classifier's rank of the true class), then `compute()`.
 *
 * Quantities, as the field computes them:
 * - **wsolevaluation** (Choe et al., `BoxEvaluator`): boxes clipped to [0, W−1]×[0, H−1], an empty mask counts as the box
 *   [0, 0, 0, 0]. BoxAcc(τ, δ) = 100·hits/images. **MaxBoxAcc** = max_τ BoxAcc(τ, 50) with the largest contour
 *   (= GT-known Loc). **MaxBoxAccV2** = mean over δ ∈ {30, 50, 70} of max_τ BoxAcc(τ, δ) — each δ its own best τ —
 *   where every contour's box competes (multi-contour); `IoU[δ]` are those per-δ maxima.
 * - **the authors' release** (`validation.py`): largest contour only, raw cv2 box (not clipped), no contour = miss;
 *   accuracy (hits/seen)·100; its "MaxBoxAccV2" is max_τ of (acc70 + acc50 + acc30)/3 — a shared τ, ≤ the official
 *   value — reported here as `MaxBoxAccV2_release` with that τ as `bestThreshold`.
 * - **Top-1 / Top-5 Loc**: IoU ≥ 0.5 and the true class ranked 1st / within the top 5, at MaxBoxAcc's τ (the release
 *   reports each one's own maximum over τ: `release.top1Loc`, `release.top5Loc`).
 *
 * Counts are exact integers; the final floating-point operations follow the references' order (numpy's pairwise sum,
 * `count*100/n` vs `(count/n)*100`), so results equal them bit for bit. The chosen τ of every metric is reported and
 * can be fed to a second evaluator with the same grid (`compute({ chosen })`: val → test protocol).
 */
import { analyzeCuts, BoxWorkspace, type BoxEngine } from '../localize/boxes.js';
import type { CornerBox } from '../util/box.js';
import { grayCut, releaseThresholds, toGrayMax, type GrayPrecision, type ScoreMap } from '../localize/gray.js';
import { uniqueCuts } from '../localize/sweep.js';
import { UsageError } from '../util/errors.js';
import { bestIoU, boxIoU, npSum } from './iou.js';

/** One image for {@link BoxEvaluator.accumulate}. */
export interface BoxSample {
  /** Score map `[H, W]` in [0, 1], at the size the GT boxes are expressed in. */
  map: ScoreMap;
  height: number;
  width: number;
  /** Ground-truth boxes [x0, y0, x1, y1], inclusive integer pixel coordinates in the map's frame (≥ 1 box). */
  gtBoxes: readonly Readonly<CornerBox>[];
  /** 1-based rank of the true class in the classifier's scores (1 = top-1). Give it for all images or none. */
  classRank?: number;
  /** Image id, kept in per-image results. */
  id?: string;
}

/** Options for {@link BoxEvaluator}. */
export interface BoxEvaluatorOptions {
  /** τ grid, each in [0, 1]; default the release's `np.arange(0.01, 1, 0.01)` (99 values). */
  thresholds?: ArrayLike<number>;
  /** IoU thresholds δ in percent (integers 1…100); default [30, 50, 70]. */
  iouThresholds?: readonly number[];
  /** `sweep` (default, one pass for all τ) or `trace` (OpenCV border following per τ; same results). */
  engine?: BoxEngine;
  /** Precision of the 255·map product; default the array's own (numpy semantics). */
  precision?: GrayPrecision;
  /** Keep per-image IoUs and boxes for best/worst-image reports (≈ 24 bytes × thresholds per image). Default true. */
  keepPerImage?: boolean;
}

/** τ picked for each metric: returned by `compute()`, accepted back by `compute({ chosen })` on another split. */
export interface BoxThresholdChoice {
  /** τ of MaxBoxAcc (largest contour, δ = 50); also used for Top-1/Top-5 Loc. */
  maxBoxAcc: number;
  /** τ per δ of MaxBoxAccV2 (multi-contour), keyed by δ in percent. */
  maxBoxAccV2: Record<string, number>;
  /** τ of the release's MaxBoxAccV2 (shared τ, largest contour); = `bestThreshold`. */
  release: number;
}

/** Per-image result at the release's chosen τ. */
export interface ImageBoxResult {
  id: string;
  /** The τ the values below are read at. */
  threshold: number;
  /** Largest contour's raw cv2 box [x, y, x + w, y + h], null when nothing is above τ. */
  box: CornerBox | null;
  /** Best IoU of that box against the GT boxes (0 when no box); float32 precision. */
  iou: number;
  /** Best IoU over every contour's clipped box (wsolevaluation multi-contour); float32 precision. */
  iouMulti: number;
}

/** Result of {@link BoxEvaluator.compute}; accuracies in percent. */
export interface BoxMetrics {
  images: number;
  thresholds: number[];
  iouThresholds: number[];
  /** wsolevaluation MaxBoxAcc (largest contour, δ = 50) = GT-known Loc. */
  MaxBoxAcc: number;
  /** wsolevaluation MaxBoxAccV2 (multi-contour, per-δ best τ, mean over δ). */
  MaxBoxAccV2: number;
  /** Per-δ components of MaxBoxAccV2, keyed by δ in percent ("30", "50", "70"). */
  IoU: Record<string, number>;
  /** The release's MaxBoxAccV2: max over one shared τ of the mean over δ, largest contour only. */
  MaxBoxAccV2_release: number;
  /** τ of MaxBoxAccV2_release. */
  bestThreshold: number;
  /** Top-1 / Top-5 Loc at MaxBoxAcc's τ (only when class ranks were given). */
  top1Loc?: number;
  top5Loc?: number;
  /** The release's own per-δ maxima and Top-1/Top-5 (each its own max over τ). */
  release: { IoU: Record<string, number>; top1Loc?: number; top5Loc?: number };
  /**
   * The Top-1/Top-5 Loc the release's progress line prints (not its results JSON): at the first τ maximising its IoU50
   * accuracy (with `chosen`: at the chosen release τ). Only when class ranks were given.
   */
  releaseProgress?: { threshold: number; top1Loc: number; top5Loc: number };
  /** τ used for each metric (picked by argmax here, or as given in `compute({ chosen })`). */
  chosen: BoxThresholdChoice;
  /** Per-threshold curves (percent), for plots. */
  curves: {
    /** Multi-contour BoxAcc per δ (wsolevaluation). */
    boxAccV2: Record<string, number[]>;
    /** Largest-contour BoxAcc per δ (wsolevaluation clipping). */
    boxAcc: Record<string, number[]>;
    /** The release's accuracy per δ. */
    release: Record<string, number[]>;
    top1Loc?: number[];
    top5Loc?: number[];
  };
  /** Per-image results at `bestThreshold` (when keepPerImage). */
  perImage?: ImageBoxResult[];
}

const NO_BOX = -1;

/** Streaming box evaluator. */
export class BoxEvaluator {
  readonly thresholds: Float64Array;
  readonly iouThresholds: number[];
  private readonly deltas: number[];
  private readonly engine: BoxEngine;
  private readonly precision: GrayPrecision;
  private readonly keepPerImage: boolean;
  private readonly ws = new BoxWorkspace();
  private n = 0;
  private ranked: boolean | undefined;
  // hits per δ (index into `deltas`) per τ.
  private readonly hitsV2: Float64Array[];
  private readonly hitsLargest: Float64Array[];
  private readonly hitsRelease: Float64Array[];
  private readonly top1: Float64Array;
  private readonly top5: Float64Array;
  private readonly top1Release: Float64Array;
  private readonly top5Release: Float64Array;
  private readonly images: { id: string; iou: Float32Array; iouMulti: Float32Array; boxes: Int32Array }[] = [];

  constructor(opts: BoxEvaluatorOptions = {}) {
    this.thresholds = Float64Array.from(opts.thresholds ?? releaseThresholds());
    if (this.thresholds.length === 0) throw new UsageError('box evaluator: the threshold grid is empty');
    for (const t of this.thresholds) if (!(t >= 0 && t <= 1)) throw new UsageError(`box evaluator: threshold ${t} is outside [0, 1]`);
    this.iouThresholds = [...(opts.iouThresholds ?? [30, 50, 70])];
    for (const d of this.iouThresholds) {
      if (!Number.isInteger(d) || d < 1 || d > 100) throw new UsageError(`box evaluator: IoU threshold ${d} must be an integer percentage in 1…100`);
    }
    if (new Set(this.iouThresholds).size !== this.iouThresholds.length) throw new UsageError('box evaluator: repeated IoU threshold');
    this.deltas = this.iouThresholds.includes(50) ? [...this.iouThresholds] : [...this.iouThresholds, 50];
    this.engine = opts.engine ?? 'sweep';
    this.precision = opts.precision ?? 'auto';
    this.keepPerImage = opts.keepPerImage ?? true;
    const T = this.thresholds.length;
    const mk = (): Float64Array[] => this.deltas.map(() => new Float64Array(T));
    this.hitsV2 = mk();
    this.hitsLargest = mk();
    this.hitsRelease = mk();
    this.top1 = new Float64Array(T);
    this.top5 = new Float64Array(T);
    this.top1Release = new Float64Array(T);
    this.top5Release = new Float64Array(T);
  }

  /** Number of images accumulated so far. */
  get count(): number {
    return this.n;
  }

  /**
   * Adds one image.
   * @throws UsageError for an invalid map (NaN, outside [0, 1], size), invalid GT boxes (negative, x1 < x0, not
   *   integers, none) or a class rank given for some images only.
   */
  accumulate(s: BoxSample): void {
    const { height: H, width: W } = s;
    const id = s.id ?? `#${this.n}`;
    if (!s.gtBoxes.length) throw new UsageError(`${id}: no ground-truth box`);
    for (const g of s.gtBoxes) {
      if (g.length !== 4 || !g.every((v) => Number.isInteger(v) && v >= 0) || g[2] < g[0] || g[3] < g[1]) {
        throw new UsageError(`${id}: ground-truth box [${g.join(', ')}] must be non-negative integers with x1 ≥ x0, y1 ≥ y0`);
      }
    }
    const hasRank = s.classRank !== undefined;
    if (hasRank && !(Number.isInteger(s.classRank) && s.classRank! >= 1)) throw new UsageError(`${id}: class rank ${s.classRank} must be an integer ≥ 1`);
    if (this.ranked !== undefined && this.ranked !== hasRank) throw new UsageError(`${id}: class ranks must be given for every image or for none`);
    let gray: Uint8Array;
    let mg: number;
    try {
      ({ gray, max: mg } = toGrayMax(s.map, H, W, this.precision));
    } catch (e) {
      throw new UsageError(`${id}: ${(e as Error).message}`);
    }
    this.ranked = hasRank;

    const T = this.thresholds.length;
    const cutOf = new Int32Array(T);
    for (let k = 0; k < T; k++) cutOf[k] = grayCut(this.thresholds[k]!, mg);
    const cuts = uniqueCuts(cutOf);
    const m = cuts.length;
    const hasLargest = new Uint8Array(m);
    const largest = new Int32Array(m * 4);
    const multi = new Float64Array(m).fill(-1);
    const gts = s.gtBoxes;
    analyzeCuts(
      gray,
      H,
      W,
      cuts,
      {
        largest: (j, x0, y0, x1, y1) => {
          hasLargest[j] = 1;
          largest[4 * j] = x0;
          largest[4 * j + 1] = y0;
          largest[4 * j + 2] = x1;
          largest[4 * j + 3] = y1;
        },
        contour: (j, x0, y0, x1, y1) => {
          const cx1 = Math.min(x1, W - 1);
          const cy1 = Math.min(y1, H - 1);
          let best = multi[j]!;
          for (const g of gts) {
            const v = boxIoU(x0, y0, cx1, cy1, g[0], g[1], g[2], g[3]);
            if (v > best) best = v;
          }
          multi[j] = best;
        },
      },
      this.engine,
      this.ws,
    );

    const emptyIoU = bestIoU([0, 0, 0, 0], gts);
    const rec = this.keepPerImage ? { id, iou: new Float32Array(T), iouMulti: new Float32Array(T), boxes: new Int32Array(4 * T).fill(NO_BOX) } : undefined;
    const rank = s.classRank ?? Infinity;
    const index = new Map<number, number>();
    for (let j = 0; j < m; j++) index.set(cuts[j]!, j);
    for (let k = 0; k < T; k++) {
      const j = index.get(cutOf[k]!)!;
      let iouRel = -1;
      let iouLargest = emptyIoU;
      if (hasLargest[j]) {
        const b: CornerBox = [largest[4 * j]!, largest[4 * j + 1]!, largest[4 * j + 2]!, largest[4 * j + 3]!];
        iouRel = bestIoU(b, gts);
        iouLargest = bestIoU([b[0], b[1], Math.min(b[2], W - 1), Math.min(b[3], H - 1)], gts);
        if (rec) rec.boxes.set(b, 4 * k);
      }
      const iouMulti = multi[j]! >= 0 ? multi[j]! : emptyIoU;
      if (rec) {
        rec.iou[k] = Math.max(0, iouRel);
        rec.iouMulti[k] = iouMulti;
      }
      for (let d = 0; d < this.deltas.length; d++) {
        const thr = this.deltas[d]! / 100;
        if (iouMulti >= thr) this.hitsV2[d]![k]++;
        if (iouLargest >= thr) this.hitsLargest[d]![k]++;
        if (iouRel >= thr) this.hitsRelease[d]![k]++;
      }
      if (iouLargest >= 0.5) {
        if (rank <= 1) this.top1[k]++;
        if (rank <= 5) this.top5[k]++;
      }
      if (iouRel >= 0.5) {
        if (rank <= 1) this.top1Release[k]++;
        if (rank <= 5) this.top5Release[k]++;
      }
    }
    if (rec) this.images.push(rec);
    this.n++;
  }

  /**
   * Final metrics. With `chosen` (from `compute()` on another split with the same grid), every metric is read at the
   * given τ instead of the best one.
   * @throws UsageError when no image was accumulated or a chosen τ is not on this evaluator's grid.
   */
  compute(opts: { chosen?: BoxThresholdChoice } = {}): BoxMetrics {
    if (this.n === 0) throw new UsageError('box evaluator: no image was accumulated');
    const T = this.thresholds.length;
    const n = this.n;
    const taus = Array.from(this.thresholds);
    const key = (d: number): string => String(d);
    // wsolevaluation: num_correct * 100. / cnt.  The release: (hits / seen) * 100.
    const wsolAcc = (h: Float64Array): number[] => Array.from(h, (v) => (v * 100) / n);
    const relAcc = (h: Float64Array): number[] => Array.from(h, (v) => (v / n) * 100);
    const argmax = (a: ArrayLike<number>): number => {
      let b = 0;
      for (let i = 1; i < a.length; i++) if (a[i]! > a[b]!) b = i;
      return b;
    };
    const indexOf = (t: number, what: string): number => {
      const i = taus.indexOf(t);
      if (i < 0) throw new UsageError(`chosen threshold ${t} for ${what} is not on this evaluator's grid`);
      return i;
    };

    const curvesV2: Record<string, number[]> = {};
    const curvesLargest: Record<string, number[]> = {};
    const curvesRelease: Record<string, number[]> = {};
    this.deltas.forEach((d, i) => {
      curvesLargest[key(d)] = wsolAcc(this.hitsLargest[i]!);
      if (this.iouThresholds.includes(d)) {
        curvesV2[key(d)] = wsolAcc(this.hitsV2[i]!);
        curvesRelease[key(d)] = relAcc(this.hitsRelease[i]!);
      }
    });

    // MaxBoxAcc: largest contour, δ = 50.
    const c50 = curvesLargest['50']!;
    const kMax = opts.chosen ? indexOf(opts.chosen.maxBoxAcc, 'MaxBoxAcc') : argmax(c50);
    // MaxBoxAccV2: per-δ best τ, multi-contour; np.average over the δ list.
    const IoU: Record<string, number> = {};
    const v2Chosen: Record<string, number> = {};
    const perDelta: number[] = [];
    for (const d of this.iouThresholds) {
      const c = curvesV2[key(d)]!;
      const given = opts.chosen?.maxBoxAccV2[key(d)];
      if (opts.chosen && given === undefined) throw new UsageError(`chosen thresholds lack MaxBoxAccV2 δ=${d}`);
      const k = given !== undefined ? indexOf(given, `MaxBoxAccV2 δ=${d}`) : argmax(c);
      IoU[key(d)] = c[k]!;
      v2Chosen[key(d)] = taus[k]!;
      perDelta.push(c[k]!);
    }
    const MaxBoxAccV2 = npSum(perDelta) / perDelta.length;
    // The release: mean over δ at a shared τ, summed from the largest δ down ((iou70 + iou50 + iou30) / 3).
    const desc = [...this.iouThresholds].sort((a, b) => b - a);
    const relMean = new Float64Array(T);
    for (let k = 0; k < T; k++) {
      let s = 0;
      for (const d of desc) s += curvesRelease[key(d)]![k]!;
      relMean[k] = s / desc.length;
    }
    const kRel = opts.chosen ? indexOf(opts.chosen.release, 'the release MaxBoxAccV2') : argmax(relMean);
    const releaseIoU: Record<string, number> = {};
    for (const d of this.iouThresholds) {
      const c = curvesRelease[key(d)]!;
      releaseIoU[key(d)] = opts.chosen ? c[kRel]! : c[argmax(c)]!;
    }

    const out: BoxMetrics = {
      images: n,
      thresholds: taus,
      iouThresholds: [...this.iouThresholds],
      MaxBoxAcc: c50[kMax]!,
      MaxBoxAccV2,
      IoU,
      MaxBoxAccV2_release: relMean[kRel]!,
      bestThreshold: taus[kRel]!,
      release: { IoU: releaseIoU },
      chosen: { maxBoxAcc: taus[kMax]!, maxBoxAccV2: v2Chosen, release: taus[kRel]! },
      curves: { boxAccV2: curvesV2, boxAcc: curvesLargest, release: curvesRelease },
    };
    if (this.ranked) {
      const t1 = wsolAcc(this.top1);
      const t5 = wsolAcc(this.top5);
      out.top1Loc = t1[kMax]!;
      out.top5Loc = t5[kMax]!;
      out.curves.top1Loc = t1;
      out.curves.top5Loc = t5;
      const r1 = relAcc(this.top1Release);
      const r5 = relAcc(this.top5Release);
      out.release.top1Loc = opts.chosen ? r1[kRel]! : r1[argmax(r1)]!;
      out.release.top5Loc = opts.chosen ? r5[kRel]! : r5[argmax(r5)]!;
      const k50 = opts.chosen ? kRel : argmax(relAcc(this.hitsRelease[this.deltas.indexOf(50)]!));
      out.releaseProgress = { threshold: taus[k50]!, top1Loc: r1[k50]!, top5Loc: r5[k50]! };
    }
    if (this.keepPerImage) {
      out.perImage = this.images.map((r) => {
        const b = r.boxes.subarray(4 * kRel, 4 * kRel + 4);
        return {
          id: r.id,
          threshold: taus[kRel]!,
          box: b[0] === NO_BOX ? null : [b[0]!, b[1]!, b[2]!, b[3]!],
          iou: r.iou[kRel]!,
          iouMulti: r.iouMulti[kRel]!,
        };
      });
    }
    return out;
  }
}
