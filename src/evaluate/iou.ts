/**
 * Box IoU with inclusive pixel boxes (wsolevaluation `calculate_multiple_iou`, the release's `calculate_IOU`), and the
 * summation order numpy uses, so floating-point results match the references to the last bit.
 */
import type { CornerBox } from '../util/box.js';

/**
 * IoU of two inclusive boxes [x0, y0, x1, y1]: area = (x1 − x0 + 1)(y1 − y0 + 1). A non-positive union gives 0
 * (wsolevaluation's guard). Integer inputs give the exact quotient numpy computes (both areas are exact doubles).
 */
export function boxIoU(ax0: number, ay0: number, ax1: number, ay1: number, bx0: number, by0: number, bx1: number, by1: number): number {
  const iw = Math.min(ax1, bx1) - Math.max(ax0, bx0) + 1;
  const ih = Math.min(ay1, by1) - Math.max(ay0, by0) + 1;
  const inter = Math.max(0, iw) * Math.max(0, ih);
  const den = (ax1 - ax0 + 1) * (ay1 - ay0 + 1) + (bx1 - bx0 + 1) * (by1 - by0 + 1) - inter;
  return den <= 0 ? 0 : inter / den;
}

/** Best IoU of `box` against any of `gts` (an image with several GT boxes scores its best match); 0 for no GT. */
export function bestIoU(box: Readonly<CornerBox>, gts: readonly Readonly<CornerBox>[]): number {
  let best = 0;
  for (const g of gts) {
    const v = boxIoU(box[0], box[1], box[2], box[3], g[0], g[1], g[2], g[3]);
    if (v > best) best = v;
  }
  return best;
}

/**
 * `np.sum` of a float64 vector: numpy's pairwise summation (blocks of ≤ 128 summed with 8 interleaved accumulators,
 * larger arrays split in halves rounded to multiples of 8).
 */
export function npSum(a: ArrayLike<number>, from = 0, n = a.length - from): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[from + i]!;
    return res;
  }
  if (n <= 128) {
    const r = [a[from]!, a[from + 1]!, a[from + 2]!, a[from + 3]!, a[from + 4]!, a[from + 5]!, a[from + 6]!, a[from + 7]!];
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[from + i + j]!;
    let res = r[0]! + r[1]! + (r[2]! + r[3]!) + (r[4]! + r[5]! + (r[6]! + r[7]!));
    for (; i < n; i++) res += a[from + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return npSum(a, from, n2) + npSum(a, from + n2, n - n2);
}
