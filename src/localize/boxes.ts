/**
 * Boxes from score maps with the wsolevaluation / authors'-release semantics (docs/method.md §5):
 * gray = uint8(255·map) (truncation), foreground = gray > int(τ·max(gray)), contours of cv2.findContours(RETR_TREE,
 * CHAIN_APPROX_SIMPLE), the largest by cv2.contourArea (ties: the first in cv2's order), box = [x, y, x + w, y + h]
 * of cv2.boundingRect. The multi-contour variant returns the box of every contour, hole borders included.
 *
 * Two engines give identical results: `trace` runs the OpenCV border following once per threshold; `sweep` computes
 * all thresholds in one pass over the level-sorted pixels (src/localize/sweep.ts).
 */
import { ContourWorkspace, findContoursIn, largestContourIndex } from './contours.js';
import { grayCut, maxGray, toGray, type GrayPrecision, type ScoreMap } from './gray.js';
import { SweepWorkspace, sweepCuts, uniqueCuts } from './sweep.js';
import type { CornerBox } from '../util/box.js';

/** Which implementation computes boxes at many thresholds. */
export type BoxEngine = 'sweep' | 'trace';

/** Options for {@link boxesFromMap}. */
export interface BoxesFromMapOptions {
  /** Every contour's box (cv2 order) instead of the largest contour's only. Default false. */
  multi?: boolean;
  /** Clip x1 to width − 1 and y1 to height − 1 (wsolevaluation); default false (the release's raw cv2 box). */
  clip?: boolean;
  /** Precision of the 255·map product (default: the array's own, as numpy). */
  precision?: GrayPrecision;
}

/**
 * Boxes of a score map at one threshold τ.
 * @param map `[H, W]` values in [0, 1] (Float32Array computes 255·v in float32, Float64Array in float64).
 * @param tau threshold in [0, 1]: foreground is `gray > int(τ·max(gray))`.
 * @returns `[]` when nothing is above the threshold; else the largest contour's box, or every contour's box in
 *   cv2's order with `multi`.
 * @throws UsageError for a map with NaN or values outside [0, 1], or a size mismatch.
 */
export function boxesFromMap(map: ScoreMap, height: number, width: number, tau: number, opts: BoxesFromMapOptions = {}): CornerBox[] {
  if (!(tau >= 0 && tau <= 1)) throw new RangeError(`boxesFromMap: tau ${tau} is outside [0, 1]`);
  const gray = toGray(map, height, width, opts.precision);
  return boxesFromGray(gray, height, width, grayCut(tau, maxGray(gray)), opts);
}

/** {@link boxesFromMap} on an 8-bit gray image and an integer cut (foreground = gray > cut). */
export function boxesFromGray(gray: Uint8Array, height: number, width: number, cut: number, opts: BoxesFromMapOptions = {}): CornerBox[] {
  const contours = findContoursIn(new ContourWorkspace(gray, height, width), cut);
  const pick = opts.multi ? contours : contours.length ? [contours[largestContourIndex(contours)]!] : [];
  return pick.map((c) => {
    let x1 = c.x + c.width;
    let y1 = c.y + c.height;
    if (opts.clip) {
      x1 = Math.min(x1, width - 1);
      y1 = Math.min(y1, height - 1);
    }
    return [c.x, c.y, x1, y1];
  });
}

/** Receives per-cut results of {@link analyzeCuts}. Boxes are unclipped cv2 boxes [x, y, x + w, y + h]. */
export interface CutVisitor {
  /** Largest contour at cut index j (not called when the cut leaves no foreground). */
  largest?(j: number, x0: number, y0: number, x1: number, y1: number, twiceArea: number): void;
  /** Every contour at cut index j (order unspecified). */
  contour?(j: number, x0: number, y0: number, x1: number, y1: number, isHole: boolean): void;
}

/** Reusable buffers for {@link analyzeCuts} (one per worker; grown to the largest map seen). */
export class BoxWorkspace {
  private readonly sweep = new SweepWorkspace();
  /** @internal The sweep buffers (grown to the largest map seen). */
  sweepFor(): SweepWorkspace {
    return this.sweep;
  }
}

/**
 * Contours of `gray > cut` for every cut of `cuts` (distinct ascending integers, see {@link uniqueCuts}).
 * @param engine `sweep` (default; one pass) or `trace` (OpenCV border following per cut).
 */
export function analyzeCuts(gray: Uint8Array, height: number, width: number, cuts: Int32Array, visitor: CutVisitor, engine: BoxEngine = 'sweep', ws?: BoxWorkspace): void {
  if (engine === 'sweep') {
    sweepCuts(gray, height, width, cuts, visitor, ws?.sweepFor());
    return;
  }
  const cw = new ContourWorkspace(gray, height, width);
  for (let j = 0; j < cuts.length; j++) {
    const cs = findContoursIn(cw, cuts[j]!);
    if (cs.length === 0) continue;
    if (visitor.largest) {
      const c = cs[largestContourIndex(cs)]!;
      visitor.largest(j, c.x, c.y, c.x + c.width, c.y + c.height, c.twiceArea);
    }
    if (visitor.contour) for (const c of cs) visitor.contour(j, c.x, c.y, c.x + c.width, c.y + c.height, c.isHole);
  }
}

/** Per-threshold boxes of one map (see {@link boxesAtThresholds}). */
export interface ThresholdBoxes {
  /** The integer cut int(τ·max(gray)) per threshold. */
  cuts: Int32Array;
  /** Largest contour's box per threshold, or null when nothing is above the threshold. */
  largest: (CornerBox | null)[];
  /** Every contour's box per threshold (with `multi`; order unspecified for the sweep engine). */
  all?: CornerBox[][];
}

/**
 * Boxes at many thresholds (e.g. the 99 of the release grid) in one call.
 * @param taus thresholds in [0, 1].
 */
export function boxesAtThresholds(
  map: ScoreMap,
  height: number,
  width: number,
  taus: ArrayLike<number>,
  opts: { multi?: boolean; engine?: BoxEngine; precision?: GrayPrecision } = {},
): ThresholdBoxes {
  const gray = toGray(map, height, width, opts.precision);
  const mg = maxGray(gray);
  const cutsPerTau = new Int32Array(taus.length);
  for (let k = 0; k < taus.length; k++) {
    const t = taus[k]!;
    if (!(t >= 0 && t <= 1)) throw new RangeError(`boxesAtThresholds: tau ${t} is outside [0, 1]`);
    cutsPerTau[k] = grayCut(t, mg);
  }
  const cuts = uniqueCuts(cutsPerTau);
  const largest: (CornerBox | null)[] = new Array<CornerBox | null>(cuts.length).fill(null);
  const all: CornerBox[][] | undefined = opts.multi ? cuts.length ? Array.from({ length: cuts.length }, () => []) : [] : undefined;
  const visitor: CutVisitor = {
    largest: (j, x0, y0, x1, y1) => {
      largest[j] = [x0, y0, x1, y1];
    },
  };
  if (all) visitor.contour = (j, x0, y0, x1, y1) => void all[j]!.push([x0, y0, x1, y1]);
  analyzeCuts(gray, height, width, cuts, visitor, opts.engine ?? 'sweep');
  const index = new Map<number, number>();
  cuts.forEach((c, j) => index.set(c, j));
  const out: ThresholdBoxes = { cuts: cutsPerTau, largest: Array.from(cutsPerTau, (c) => largest[index.get(c)!] ?? null) };
  if (all) out.all = Array.from(cutsPerTau, (c) => all[index.get(c)!]!);
  return out;
}

/**
 * Mean of a map inside a box: the box score of boxes.json.
 * @param map row-major H×W map (values in [0,1] for activation maps).
 * @param b cv2.boundingRect corners [x,y,x+w,y+h] in the map's frame (clipped to it).
 * @returns the mean over the covered cells, 0 for an empty box.
 */
export function meanInsideBox(map: Float32Array, W: number, H: number, b: CornerBox): number {
  let s = 0;
  let n = 0;
  for (let y = Math.max(0, b[1]); y < Math.min(H, b[3]); y++) {
    for (let x = Math.max(0, b[0]); x < Math.min(W, b[2]); x++) {
      s += map[y * W + x]!;
      n++;
    }
  }
  return n ? s / n : 0;
}
