/**
 * Quick localisation checks of score maps against ground-truth boxes, for comparing map methods on a handful of real
 * photos (e.g. closed form vs logistic representer fit): the *pointing game* (is the map's peak inside a box?) and
 * the *box IoU* of the box a threshold gives.
 *
 * Box from a map at τ: gray = ⌊255·A⌋, foreground = gray > ⌊τ·max gray⌋ (as METHOD.md §5), then the bounding box of the
 * largest 8-connected foreground component by *pixel count*. The official protocol (src/localize, wsolevaluation)
 * takes the largest *contour by polygon area*; on compact blobs the two agree, and this module is a sanity comparison,
 * not the benchmark metric. Boxes are inclusive pixel boxes [x0,y0,x1,y1] (area (x1−x0+1)(y1−y0+1)).
 */

/** An inclusive pixel box [x0, y0, x1, y1]. */
export type Box = [number, number, number, number];

/** Row-major map [H·W] with its size. */
export interface ScoreMap {
  width: number;
  height: number;
  /** Values in [0,1]. */
  data: ArrayLike<number>;
}

/** Position of the first maximum (row-major). */
export function argmax(m: ScoreMap): { x: number; y: number } {
  let best = -Infinity;
  let at = 0;
  for (let i = 0; i < m.data.length; i++) {
    if (m.data[i]! > best) {
      best = m.data[i]!;
      at = i;
    }
  }
  return { x: at % m.width, y: Math.floor(at / m.width) };
}

/** Pointing game: the peak lies inside (inclusive) at least one box. */
export function pointingHit(m: ScoreMap, boxes: Box[]): boolean {
  const { x, y } = argmax(m);
  return boxes.some((b) => x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3]);
}

/** IoU of inclusive pixel boxes. */
export function boxIoU(a: Box, b: Box): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]) + 1;
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]) + 1;
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const area = (q: Box) => (q[2] - q[0] + 1) * (q[3] - q[1] + 1);
  return inter / (area(a) + area(b) - inter);
}

/** Box of the largest 8-connected component above τ (see the module doc), or undefined when nothing is above. */
export function thresholdBox(m: ScoreMap, tau: number): Box | undefined {
  const { width: W, height: H } = m;
  const gray = new Uint8Array(W * H);
  let mx = 0;
  for (let i = 0; i < gray.length; i++) {
    gray[i] = Math.floor(255 * Math.min(1, Math.max(0, m.data[i]!)));
    mx = Math.max(mx, gray[i]!);
  }
  const cut = Math.floor(tau * mx);
  const label = new Int32Array(W * H).fill(-1);
  const stack: number[] = [];
  let best: { n: number; box: Box } | undefined;
  for (let s = 0; s < gray.length; s++) {
    if (gray[s]! <= cut || label[s] !== -1) continue;
    let n = 0;
    const box: Box = [W, H, -1, -1];
    label[s] = s;
    stack.push(s);
    while (stack.length) {
      const i = stack.pop()!;
      const x = i % W;
      const y = (i - x) / W;
      n++;
      box[0] = Math.min(box[0], x);
      box[1] = Math.min(box[1], y);
      box[2] = Math.max(box[2], x);
      box[3] = Math.max(box[3], y);
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          const yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= W || yy >= H) continue;
          const j = yy * W + xx;
          if (gray[j]! > cut && label[j] === -1) {
            label[j] = s;
            stack.push(j);
          }
        }
      }
    }
    if (!best || n > best.n) best = { n, box };
  }
  return best?.box;
}

/** Summary of one method over a set of images. */
export interface LocalizationSummary {
  images: number;
  /** Images whose peak is inside a box. */
  pointingHits: number;
  /** Mean over images of the best IoU against any box, at the τ that maximises the mean. */
  meanIoU: number;
  /** τ giving `meanIoU`. */
  bestTau: number;
  /** Images with IoU ≥ 0.5 at `boxAccTau`, maximised over τ (MaxBoxAcc-like, with this module's box rule). */
  boxAccHits: number;
  boxAccTau: number;
  /** Per image: hit, IoU at bestTau. */
  perImage: { hit: boolean; iou: number }[];
}

/**
 * Pointing game and threshold-box IoU of maps against boxes.
 * @param taus thresholds to scan (default 0.05, 0.10, …, 0.95).
 */
export function summarizeLocalization(items: { map: ScoreMap; boxes: Box[] }[], taus: number[] = Array.from({ length: 19 }, (_, i) => (i + 1) / 20)): LocalizationSummary {
  const ious = taus.map((t) =>
    items.map(({ map, boxes }) => {
      const b = thresholdBox(map, t);
      return b ? Math.max(...boxes.map((g) => boxIoU(b, g))) : 0;
    }),
  );
  const mean = ious.map((row) => row.reduce((a, v) => a + v, 0) / Math.max(1, row.length));
  const acc = ious.map((row) => row.filter((v) => v >= 0.5).length);
  const bi = mean.indexOf(Math.max(...mean));
  const ai = acc.indexOf(Math.max(...acc));
  const hits = items.map(({ map, boxes }) => pointingHit(map, boxes));
  return {
    images: items.length,
    pointingHits: hits.filter((h) => h).length,
    meanIoU: mean[bi]!,
    bestTau: taus[bi]!,
    boxAccHits: acc[ai]!,
    boxAccTau: taus[ai]!,
    perImage: items.map((_, i) => ({ hit: hits[i]!, iou: ious[bi]![i]! })),
  };
}
