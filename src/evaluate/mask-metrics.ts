/**
 * Streaming pixel-mask metrics (docs/method.md §6; wsolevaluation `MaskEvaluator`, the release's `segmentation`):
 * - scores of ground-truth foreground pixels (mask 1) and background pixels (mask 0) are histogrammed over the bin
 *   edges `thresholds ∪ {1, 2, 3}` exactly as `np.histogram` does (bins [e_i, e_{i+1}), the last one closed); pixels
 *   marked 255 (ignore) are left out;
 * - **PxAP** = 100 · Σ_l P(l)·(R(l) − R(l−1)) over the thresholds from high to low, as wsolevaluation sums it;
 * - **PIoU** = 100 · max_l TP/(TP + FN + FP) accumulated over the whole set (the release's `p-IOU`).
 * Counts are exact; the final sums follow numpy's order (pairwise summation), so results equal the references.
 */
import { checkScoreMap, npArange, type ScoreMap } from '../localize/gray.js';
import { UsageError } from '../util/errors.js';
import { npSum } from './iou.js';

/** One image for {@link MaskEvaluator.accumulate}. */
export interface MaskSample {
  /** Score map `[H, W]` in [0, 1]. */
  map: ScoreMap;
  height: number;
  width: number;
  /** Ground truth `[H, W]`: 1 foreground, 0 background, 255 ignore. */
  mask: Uint8Array;
  /** Image id (error messages). */
  id?: string;
}

/** Options for {@link MaskEvaluator}. */
export interface MaskEvaluatorOptions {
  /** Left bin edges below 1: strictly increasing, starting at 0, < 1. Default `np.arange(0, 1, 0.01)`. */
  thresholds?: ArrayLike<number>;
}

/** Result of {@link MaskEvaluator.compute}; percentages. */
export interface MaskMetrics {
  images: number;
  /** Area under the pixel precision–recall curve (×100). */
  PxAP: number;
  /** Best pixel IoU over thresholds (×100). */
  PIoU: number;
  /** Threshold (left bin edge) at which PIoU is reached. */
  PIoUThreshold: number;
  /** Ground-truth foreground / background pixels counted (ignore pixels excluded). */
  positives: number;
  negatives: number;
  /** Curves over the bin edges from high (3) to low (0), as wsolevaluation orders them; precision NaN where nothing is predicted. */
  curves: { thresholds: number[]; precision: number[]; recall: number[]; iou: number[] };
}

/** Streaming PxAP / PIoU evaluator. */
export class MaskEvaluator {
  /** Bin edges: thresholds followed by 1, 2, 3. */
  readonly edges: Float64Array;
  private readonly trueHist: Float64Array;
  private readonly falseHist: Float64Array;
  private n = 0;

  constructor(opts: MaskEvaluatorOptions = {}) {
    const t = Float64Array.from(opts.thresholds ?? npArange(0, 1, 0.01));
    if (t.length === 0 || t[0] !== 0) throw new UsageError('mask evaluator: thresholds must start at 0 (scores below the first edge would fall outside every bin)');
    for (let i = 1; i < t.length; i++) if (!(t[i]! > t[i - 1]!)) throw new UsageError(`mask evaluator: thresholds must increase strictly (${t[i - 1]} then ${t[i]})`);
    if (!(t[t.length - 1]! < 1)) throw new UsageError('mask evaluator: thresholds must be < 1 (1, 2 and 3 are appended as bin edges)');
    this.edges = Float64Array.from([...t, 1, 2, 3]);
    this.trueHist = new Float64Array(this.edges.length - 1);
    this.falseHist = new Float64Array(this.edges.length - 1);
  }

  /** Number of images accumulated so far. */
  get count(): number {
    return this.n;
  }

  /**
   * Adds one image.
   * @throws UsageError for an invalid map or a mask of the wrong size or with values other than 0, 1, 255.
   */
  accumulate(s: MaskSample): void {
    const id = s.id ?? `#${this.n}`;
    try {
      checkScoreMap(s.map, s.height, s.width);
    } catch (e) {
      throw new UsageError(`${id}: ${(e as Error).message}`);
    }
    if (s.mask.length !== s.map.length) throw new UsageError(`${id}: mask has ${s.mask.length} pixels, the score map ${s.height}×${s.width}`);
    // Validate before counting anything, so a bad image leaves the evaluator unchanged.
    for (let i = 0; i < s.mask.length; i++) {
      const m = s.mask[i]!;
      if (m > 1 && m !== 255) throw new UsageError(`${id}: mask value ${m} at (y=${Math.floor(i / s.width)}, x=${i % s.width}) is not 0, 1 or 255`);
    }
    const e = this.edges;
    const nb = e.length - 1;
    // Fast bin guess for the uniform part, corrected against the exact edges (np.histogram compares to the edges).
    const nt = nb - 2; // number of threshold bins below 1
    const step = nt > 1 ? e[nt - 1]! / (nt - 1) : 1;
    for (let i = 0; i < s.map.length; i++) {
      const m = s.mask[i]!;
      if (m === 255) continue;
      const v = s.map[i]!;
      let b: number;
      if (v >= 1) {
        b = nb - 2; // [1, 2): maps are in [0, 1]
      } else {
        b = Math.min(nt - 1, Math.max(0, Math.floor(v / step)));
        while (b > 0 && v < e[b]!) b--;
        while (b < nt - 1 && v >= e[b + 1]!) b++;
      }
      if (m === 1) this.trueHist[b]++;
      else this.falseHist[b]++;
    }
    this.n++;
  }

  /**
   * Final metrics.
   * @throws UsageError when nothing was accumulated or there is no positive pixel.
   */
  compute(): MaskMetrics {
    if (this.n === 0) throw new UsageError('mask evaluator: no image was accumulated');
    const nb = this.trueHist.length;
    // Arrays in wsolevaluation's order: index 0 = the highest bin ([2, 3]), cumulated downwards.
    const tp = new Float64Array(nb);
    const fp = new Float64Array(nb);
    for (let k = 0, accT = 0, accF = 0; k < nb; k++) {
      accT += this.trueHist[nb - 1 - k]!;
      accF += this.falseHist[nb - 1 - k]!;
      tp[k] = accT;
      fp[k] = accF;
    }
    const numTrue = npSum(this.trueHist);
    const numFalse = npSum(this.falseHist);
    if (numTrue <= 0) throw new UsageError('mask evaluator: no positive ground-truth pixel in the evaluation set');
    if (tp.every((v, k) => v + fp[k]! <= 0)) throw new UsageError('mask evaluator: no positive prediction in the evaluation set');
    const precision = new Float64Array(nb);
    const recall = new Float64Array(nb);
    const iou = new Float64Array(nb);
    for (let k = 0; k < nb; k++) {
      precision[k] = tp[k]! / (tp[k]! + fp[k]!);
      recall[k] = tp[k]! / (tp[k]! + (numTrue - tp[k]!));
      iou[k] = (tp[k]! / (numTrue + fp[k]!)) * 100;
    }
    const terms: number[] = [];
    for (let k = 1; k < nb; k++) if (tp[k]! + fp[k]! !== 0) terms.push(precision[k]! * (recall[k]! - recall[k - 1]!));
    const PxAP = npSum(terms) * 100;
    let best = 0;
    for (let k = 1; k < nb; k++) if (iou[k]! > iou[best]!) best = k;
    return {
      images: this.n,
      PxAP,
      PIoU: iou[best]!,
      PIoUThreshold: this.edges[nb - 1 - best]!,
      positives: numTrue,
      negatives: numFalse,
      curves: {
        thresholds: Array.from({ length: nb }, (_, k) => this.edges[nb - 1 - k]!),
        precision: Array.from(precision),
        recall: Array.from(recall),
        iou: Array.from(iou),
      },
    };
  }
}
