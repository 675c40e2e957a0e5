/**
 * Boxes: one named type per coordinate convention, and the conversions between them. Every box is `[x0, y0, x1, y1]`
 * (or COCO's `[x, y, w, h]`) in the pixels of some image; the types say how the corners are meant. They are aliases of
 * one tuple type, so TypeScript does not stop a mix-up: the name is the documentation, the functions here are the
 * only places a convention is converted. Pure functions, no imports: every layer may use them.
 *
 * | type | corners | made by |
 * |---|---|---|
 * | {@link CornerBox} | integer corner pixels, cv2 `[x, y, x+w, y+h]` | `boxesFromMap` (cv2.boundingRect), dataset GT boxes |
 * | {@link EdgeBox} | continuous edges, `x1`/`y1` exclusive | `uol localize` boxes.json `box`, `uol explain --box` |
 * | {@link HalfOpenBox} | integer pixel ranges `[x0, x1) × [y0, y1)` | crops and outlines in reports, explanation cells |
 * | {@link XYWHBox} | `[x, y, width, height]` | COCO `bbox` |
 * | {@link NormalizedBox} | edges as fractions of width/height, in [0, 1] | frame-independent exchange (browser overlays) |
 */

/**
 * Corner pixels as the authors' release and wsolevaluation hold them: cv2.boundingRect's `[x, y, x + w, y + h]` for
 * predictions (optionally clipped to `W − 1`, `H − 1`) and the datasets' GT boxes; IoU counts
 * `(x1 − x0 + 1)·(y1 − y0 + 1)` pixels (evaluate/iou.ts), i.e. both corners inclusive. Integers.
 */
export type CornerBox = [number, number, number, number];

/** Continuous edges `[x0, y0, x1, y1]` in pixels: the box covers x0 ≤ x < x1, y0 ≤ y < y1; not necessarily integers. */
export type EdgeBox = [number, number, number, number];

/** Integer pixel ranges `[x0, x1) × [y0, y1)`: the pixels a crop copies or an outline surrounds. */
export type HalfOpenBox = [number, number, number, number];

/** COCO `bbox`: `[x, y, width, height]` with the edges of an {@link EdgeBox}. */
export type XYWHBox = [number, number, number, number];

/** An {@link EdgeBox} divided by the image width (x) and height (y): values in [0, 1]. */
export type NormalizedBox = [number, number, number, number];

/** Each coordinate rounded to the nearest integer (`Math.round`, halves up): a box for drawing. */
export function roundBox(b: readonly number[]): [number, number, number, number] {
  return [Math.round(b[0]!), Math.round(b[1]!), Math.round(b[2]!), Math.round(b[3]!)];
}

/** Rounds to 1/100 pixel, the precision of boxes in output files. */
export function roundCenti(v: number): number {
  return Math.round(v * 100) / 100;
}

/**
 * A {@link CornerBox} of a network input frame back in the original image: `x ↦ (x + left)·scaleX` (y likewise),
 * clipped to [0, width] × [0, height] and rounded to 1/100 px, as continuous edges. The cv2 `x + w` end becomes the
 * exclusive edge.
 * @param frame where the input frame sits: its offset (crop) in resized pixels and the resized → original scale.
 */
export function cornerToImageEdges(
  b: CornerBox,
  frame: { left: number; top: number; scaleX: number; scaleY: number; width: number; height: number },
): EdgeBox {
  const cx = (v: number) => roundCenti(Math.min(frame.width, Math.max(0, (v + frame.left) * frame.scaleX)));
  const cy = (v: number) => roundCenti(Math.min(frame.height, Math.max(0, (v + frame.top) * frame.scaleY)));
  return [cx(b[0]), cy(b[1]), cx(b[2]), cy(b[3])];
}

/** COCO `[x, y, w, h]` of an {@link EdgeBox} (width and height at least 0), each rounded to 1/100 px. */
export function edgesToXYWH(b: EdgeBox): XYWHBox {
  const [x0, y0, x1, y1] = b;
  return [roundCenti(x0), roundCenti(y0), roundCenti(Math.max(0, x1 - x0)), roundCenti(Math.max(0, y1 - y0))];
}

/** Area of an {@link EdgeBox} (0 when empty). */
export function edgeArea(b: EdgeBox): number {
  return Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
}

/**
 * The pixels an {@link EdgeBox} (or a {@link HalfOpenBox}) covers after scaling by (sx, sy): edges scaled, then grown
 * outwards to whole pixels (floor the start, ceil the end).
 */
export function scaleToPixels(b: EdgeBox | HalfOpenBox, sx: number, sy: number): HalfOpenBox {
  return [Math.floor(b[0] * sx), Math.floor(b[1] * sy), Math.ceil(b[2] * sx), Math.ceil(b[3] * sy)];
}

/** `b` moved by (−dx, −dy): its coordinates relative to a point (e.g. a crop's origin). */
export function relativeTo(b: HalfOpenBox, dx: number, dy: number): HalfOpenBox {
  return [b[0] - dx, b[1] - dy, b[2] - dx, b[3] - dy];
}

/** From `first`'s start corner to `last`'s end corner (the span of a run of cells given its first and last). */
export function spanBox(first: HalfOpenBox, last: HalfOpenBox): HalfOpenBox {
  return [first[0], first[1], last[2], last[3]];
}

/** An {@link EdgeBox} as fractions of a width×height image. */
export function normalizeBox(b: EdgeBox, width: number, height: number): NormalizedBox {
  return [b[0] / width, b[1] / height, b[2] / width, b[3] / height];
}

/** A {@link NormalizedBox} in the pixels of a width×height image. */
export function denormalizeBox(b: NormalizedBox, width: number, height: number): EdgeBox {
  return [b[0] * width, b[1] * height, b[2] * width, b[3] * height];
}
