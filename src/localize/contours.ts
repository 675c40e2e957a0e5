/**
 * Contours of a thresholded gray image with the exact semantics of OpenCV 4.x
 * `cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)` (Suzuki–Abe border following), plus
 * `cv2.contourArea` and `cv2.boundingRect` of each contour.
 *
 * Hand-written (no npm package reproduces OpenCV's contour order, hierarchy and CHAIN_APPROX_SIMPLE output; opencv.js
 * would be a 10 MB wasm dependency): every convention below is OpenCV's, re-implemented from its documented behaviour
 * and checked against cv2 on thousands of maps (spec/boxes.spec.ts):
 * - the image is surrounded by a 1-pixel frame of zeros; foreground pixels are 8-connected, background 4-connected;
 * - the raster scan starts an outer border at a 0→1 transition (unvisited 1) and a hole border at a (≥1)→0 transition,
 *   marks traced pixels with a 7-bit label (2…127, then wrapping to 3…) and a "right border" flag, and finds each new
 *   contour's parent through the last border met on the row (lnbd) exactly as OpenCV does, label wrap included;
 * - contours are returned in the order of a depth-first walk of the tree in which each new contour is prepended to its
 *   parent's children (so top-level contours come out in reverse discovery order, each followed by its subtree);
 * - contourArea is |Σ(x_i·y_{i+1} − x_{i+1}·y_i)|/2 over the CHAIN_APPROX_SIMPLE polygon (equal to the same sum over
 *   the full chain: dropped points are collinear), computed here in exact integer arithmetic as OpenCV's double sum is;
 * - boundingRect is [min x, min y, max x − min x + 1, max y − min y + 1] of the contour points.
 */

/** One contour as cv2 returns it (coordinates in the unpadded image). */
export interface Contour {
  /** True for a hole border (odd depth in the hierarchy). */
  isHole: boolean;
  /** Index of the parent contour in the returned list, −1 for top level (cv2 hierarchy[..., 3]). */
  parent: number;
  /** 2 · cv2.contourArea(contour): an exact non-negative integer. */
  twiceArea: number;
  /** cv2.boundingRect: left x, top y, width, height (width, height ≥ 1). */
  x: number;
  y: number;
  width: number;
  height: number;
  /** CHAIN_APPROX_SIMPLE points [x0, y0, x1, y1, …] in cv2's order, when asked for. */
  points?: Int32Array;
}

/** Options for {@link findContours}. */
export interface FindContoursOptions {
  /** Also return each contour's CHAIN_APPROX_SIMPLE points (default false: area and rect only). */
  points?: boolean;
}

const DX = [1, 1, 0, -1, -1, -1, 0, 1] as const;
const DY = [0, -1, -1, -1, 0, 1, 1, 1] as const;
const FRAME = -1;
const NONE = -2;

/** Reusable buffers for one image size (the padded label plane is the big one). */
export class ContourWorkspace {
  readonly height: number;
  readonly width: number;
  /** Padded width (w + 2). */
  readonly pw: number;
  /** Padded gray plane, 0 on the frame. */
  readonly gray: Uint8Array;
  /** Labels written by border following (0 = untouched), padded. */
  readonly lab: Int8Array;
  /** 16 neighbour offsets (8 directions, repeated) in the padded plane. */
  readonly deltas: Int32Array;
  private touched: Int32Array;
  private nTouched = 0;

  constructor(gray: Uint8Array, height: number, width: number) {
    if (gray.length !== height * width) throw new Error(`ContourWorkspace: ${gray.length} pixels for ${height}×${width}`);
    this.height = height;
    this.width = width;
    const pw = width + 2;
    this.pw = pw;
    this.gray = new Uint8Array(pw * (height + 2));
    for (let y = 0; y < height; y++) this.gray.set(gray.subarray(y * width, (y + 1) * width), (y + 1) * pw + 1);
    this.lab = new Int8Array(this.gray.length);
    this.deltas = new Int32Array(16);
    const d = [1, -pw + 1, -pw, -pw - 1, -1, pw - 1, pw, pw + 1];
    for (let i = 0; i < 16; i++) this.deltas[i] = d[i & 7]!;
    this.touched = new Int32Array(64);
    // Box of the pixels brighter than each level (padded coordinates): fgBox[4c..4c+3] = minx, maxx, miny, maxy of
    // gray > c (empty: minx > maxx). Lets a scan at cut c skip the rows and columns that are all background.
    const lv = new Int32Array(256 * 4);
    for (let v = 0; v < 256; v++) {
      lv[4 * v] = pw;
      lv[4 * v + 1] = -1;
      lv[4 * v + 2] = height + 2;
      lv[4 * v + 3] = -1;
    }
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const o = 4 * gray[y * width + x]!;
        if (x + 1 < lv[o]!) lv[o] = x + 1;
        if (x + 1 > lv[o + 1]!) lv[o + 1] = x + 1;
        if (y + 1 < lv[o + 2]!) lv[o + 2] = y + 1;
        if (y + 1 > lv[o + 3]!) lv[o + 3] = y + 1;
      }
    }
    this.fgBox = new Int32Array(256 * 4);
    let mnx = pw;
    let mxx = -1;
    let mny = height + 2;
    let mxy = -1;
    for (let c = 255; c >= 0; c--) {
      this.fgBox[4 * c] = mnx;
      this.fgBox[4 * c + 1] = mxx;
      this.fgBox[4 * c + 2] = mny;
      this.fgBox[4 * c + 3] = mxy;
      mnx = Math.min(mnx, lv[4 * c]!);
      mxx = Math.max(mxx, lv[4 * c + 1]!);
      mny = Math.min(mny, lv[4 * c + 2]!);
      mxy = Math.max(mxy, lv[4 * c + 3]!);
    }
  }

  /** Per cut 0…255: padded box (minx, maxx, miny, maxy) of the foreground gray > cut. */
  readonly fgBox: Int32Array;

  /** Marks pixel `i` with label `v` (remembered so {@link reset} can undo it cheaply). */
  mark(i: number, v: number): void {
    if (this.lab[i] === 0) {
      if (this.nTouched === this.touched.length) {
        const t = new Int32Array(this.touched.length * 2);
        t.set(this.touched);
        this.touched = t;
      }
      this.touched[this.nTouched++] = i;
    }
    this.lab[i] = v;
  }

  /** Clears every label written since the last reset. */
  reset(): void {
    for (let k = 0; k < this.nTouched; k++) this.lab[this.touched[k]!] = 0;
    this.nTouched = 0;
  }
}

/** Per-contour bookkeeping while scanning (struct of arrays, grown on demand). */
class ContourTable {
  n = 0;
  isHole = new Uint8Array(16);
  parent = new Int32Array(16);
  originIdx = new Int32Array(16);
  rx = new Int32Array(16);
  ry = new Int32Array(16);
  rw = new Int32Array(16);
  rh = new Int32Array(16);
  area2 = new Float64Array(16);
  nextSameLabel = new Int32Array(16);
  firstChild = new Int32Array(16);
  nextSibling = new Int32Array(16);
  points: (Int32Array | undefined)[] = [];

  add(): number {
    if (this.n === this.isHole.length) {
      const grow = <T extends Uint8Array | Int32Array | Float64Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.isHole = grow(this.isHole);
      this.parent = grow(this.parent);
      this.originIdx = grow(this.originIdx);
      this.rx = grow(this.rx);
      this.ry = grow(this.ry);
      this.rw = grow(this.rw);
      this.rh = grow(this.rh);
      this.area2 = grow(this.area2);
      this.nextSameLabel = grow(this.nextSameLabel);
      this.firstChild = grow(this.firstChild);
      this.nextSibling = grow(this.nextSibling);
    }
    const c = this.n++;
    this.firstChild[c] = -1;
    this.nextSibling[c] = -1;
    return c;
  }
}

/** Growable int list for CHAIN_APPROX_SIMPLE points. */
class PointList {
  data = new Int32Array(64);
  n = 0;
  push(x: number, y: number): void {
    if (this.n + 2 > this.data.length) {
      const d = new Int32Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.n++] = x;
    this.data[this.n++] = y;
  }
}

/**
 * All contours of `gray > cut` (cv2.threshold THRESH_BINARY then findContours RETR_TREE / CHAIN_APPROX_SIMPLE), in
 * cv2's order.
 * @param gray `[H, W]` uint8 gray image (see {@link toGray}); for a binary mask use cut = 0.
 * @param cut integer cut ≥ 0: a pixel is foreground when `gray > cut`.
 */
export function findContours(gray: Uint8Array, height: number, width: number, cut: number, opts: FindContoursOptions = {}): Contour[] {
  return findContoursIn(new ContourWorkspace(gray, height, width), cut, opts);
}

/** {@link findContours} on a prepared workspace (reuse it across cuts of the same image). */
export function findContoursIn(ws: ContourWorkspace, cut: number, opts: FindContoursOptions = {}): Contour[] {
  if (!Number.isInteger(cut) || cut < 0) throw new Error(`findContours: cut ${cut} must be an integer ≥ 0`);
  ws.reset();
  const { gray, lab, deltas, pw } = ws;
  const H2 = ws.height + 2;
  const W2 = pw;
  const t = new ContourTable();
  const labelHead = new Int32Array(128).fill(-1);
  let frameFirstChild = -1;
  const wantPoints = opts.points === true;
  const pts = new PointList();

  /** The pixel value OpenCV's scanner would see: its label if traced, else 1/0 for foreground/background. */
  const val = (i: number): number => {
    const l = lab[i]!;
    return l !== 0 ? l : gray[i]! > cut ? 1 : 0;
  };

  /**
   * The border-following start (OpenCV's icvTraceContour / icvFetchContourEx prologue): from direction `sEnd0` (4 for
   * an outer border, 0 for a hole) turn clockwise to the first non-zero neighbour of `i0`; `sEnd0` itself when there is
   * none (a single-pixel border).
   */
  const firstNeighbour = (i0: number, sEnd0: number): number => {
    let s = sEnd0;
    do s = (s - 1) & 7;
    while (val(i0 + deltas[s]!) === 0 && s !== sEnd0);
    return s;
  };

  /** icvTraceContour: follows the border from contour c's origin; 1 when it proves (stop) is on it as the last border. */
  const traceReaches = (c: number, stop: number): boolean => {
    const i0 = t.originIdx[c]!;
    const sEnd0 = t.isHole[c] ? 0 : 4;
    let s = firstNeighbour(i0, sEnd0);
    const i1 = i0 + deltas[s]!;
    let i3 = i0;
    if (s === sEnd0) return i3 === stop;
    for (;;) {
      let i4 = 0;
      while (s < 15) {
        i4 = i3 + deltas[++s]!;
        if (val(i4) !== 0) break;
      }
      if (i3 === stop) {
        if ((val(i3) & 0x80) === 0) return true;
        let u = s;
        for (;;) {
          u = (u - 1) & 7;
          if (val(i3 + deltas[u]!) !== 0) break;
          if (u === 0) return true;
        }
      }
      if (i4 === i0 && i3 === i1) break;
      i3 = i4;
      s = (s + 4) & 7;
    }
    return false;
  };

  /** icvFetchContourEx: traces, labels, measures one border starting at padded (ox, oy). */
  const fetch = (c: number, ox: number, oy: number, isHole: number, nbd: number): void => {
    const i0 = oy * W2 + ox;
    const right = (nbd | 0x80) << 24 >> 24; // schar(nbd | 0x80)
    const sEnd0 = isHole ? 0 : 4;
    let s = firstNeighbour(i0, sEnd0);
    const i1 = i0 + deltas[s]!;
    let minx = ox;
    let maxx = ox;
    let miny = oy;
    let maxy = oy;
    let area2 = 0;
    pts.n = 0;
    if (s === sEnd0) {
      ws.mark(i0, right);
      if (wantPoints) pts.push(ox - 1, oy - 1);
    } else {
      let i3 = i0;
      let prevS = s ^ 4;
      let x = ox;
      let y = oy;
      for (;;) {
        const sEnd = s;
        let i4 = 0;
        while (s < 15) {
          i4 = i3 + deltas[++s]!;
          if (val(i4) !== 0) break;
        }
        s &= 7;
        if (s - 1 >= 0 && s - 1 < sEnd) ws.mark(i3, right);
        else if (val(i3) === 1) ws.mark(i3, nbd);
        if (s !== prevS) {
          if (wantPoints) pts.push(x - 1, y - 1);
          if (x < minx) minx = x;
          else if (x > maxx) maxx = x;
          if (y < miny) miny = y;
          else if (y > maxy) maxy = y;
        }
        prevS = s;
        const dx = DX[s]!;
        const dy = DY[s]!;
        area2 += x * dy - y * dx;
        x += dx;
        y += dy;
        if (i4 === i0 && i3 === i1) break;
        i3 = i4;
        s = (s + 4) & 7;
      }
    }
    t.rx[c] = minx;
    t.ry[c] = miny;
    t.rw[c] = maxx - minx + 1;
    t.rh[c] = maxy - miny + 1;
    t.area2[c] = Math.abs(area2);
    if (wantPoints) t.points[c] = pts.data.slice(0, pts.n);
  };

  let nbd = 2;
  // Rows and columns outside the foreground's box hold no transition, except the first background pixel right of the
  // box (a possible hole start), so the scan covers [minx, maxx + 1] (OpenCV never scans the right frame column).
  const cb = 4 * Math.min(cut, 255);
  const x0 = ws.fgBox[cb]!;
  const xEnd = Math.min(ws.fgBox[cb + 1]! + 2, W2 - 1);
  const y0 = ws.fgBox[cb + 2]!;
  const y1 = Math.min(ws.fgBox[cb + 3]!, H2 - 2);
  for (let y = y0; y <= y1; y++) {
    let lnbdX = 0;
    let prev = 0;
    const row = y * W2;
    for (let x = x0; x < xEnd; x++) {
      // Skip stretches equal to `prev` quickly: background is never labelled; unlabelled foreground reads as 1.
      if (prev === 0) {
        while (x < xEnd && gray[row + x]! <= cut) x++;
        if (x === xEnd) break;
      } else if (prev === 1) {
        while (x < xEnd && lab[row + x] === 0 && gray[row + x]! > cut) x++;
        if (x === xEnd) break;
      }
      const p = val(row + x);
      if (p === prev) continue;
      let isHole = 0;
      if (!(prev === 0 && p === 1)) {
        if (p !== 0 || prev < 1) {
          // resume_scan
          prev = p;
          if (p & -2) lnbdX = x;
          continue;
        }
        if (prev & -2) lnbdX = x - 1;
        isHole = 1;
      }
      // Parent search (RETR_TREE).
      let par: number;
      if (lnbdX <= 0) {
        par = FRAME;
      } else {
        const lval = val(row + lnbdX) & 0x7f;
        let cur = labelHead[lval]!;
        par = NONE;
        while (cur !== -1) {
          if (lnbdX - t.rx[cur]! >= 0 && lnbdX - t.rx[cur]! < t.rw[cur]! && y - t.ry[cur]! >= 0 && y - t.ry[cur]! < t.rh[cur]!) {
            if (par !== NONE && traceReaches(par, row + lnbdX)) break;
            par = cur;
          }
          cur = t.nextSameLabel[cur]!;
        }
        if (par === NONE) throw new Error('findContours: no parent candidate (OpenCV would assert here)');
        const parIsHole = t.isHole[par]!;
        if (parIsHole === isHole) par = t.parent[par]!;
        const finalIsHole = par === FRAME ? 1 : t.isHole[par]!;
        if (finalIsHole === isHole) throw new Error('findContours: parent has the same hole flag (OpenCV would assert here)');
      }
      lnbdX = x - isHole;
      const lval = nbd;
      nbd = (nbd + 1) & 127;
      if (nbd === 0) nbd = 3;
      const c = t.add();
      t.isHole[c] = isHole;
      t.parent[c] = par;
      t.originIdx[c] = row + x - isHole;
      fetch(c, x - isHole, y, isHole, lval);
      t.nextSameLabel[c] = labelHead[lval]!;
      labelHead[lval] = c;
      if (par === FRAME) {
        t.nextSibling[c] = frameFirstChild;
        frameFirstChild = c;
      } else {
        t.nextSibling[c] = t.firstChild[par]!;
        t.firstChild[par] = c;
      }
      prev = val(row + x);
    }
  }

  // Depth-first pre-order walk (cvTreeToNodeSeq).
  const out: Contour[] = [];
  const outIndex = new Int32Array(t.n);
  const stack: number[] = [];
  for (let c = frameFirstChild; c !== -1; c = t.nextSibling[c]!) {
    stack.push(c);
    while (stack.length) {
      const k = stack.pop()!;
      outIndex[k] = out.length;
      const par = t.parent[k]!;
      const item: Contour = {
        isHole: t.isHole[k] === 1,
        parent: par === FRAME ? -1 : outIndex[par]!,
        twiceArea: t.area2[k]!,
        x: t.rx[k]! - 1,
        y: t.ry[k]! - 1,
        width: t.rw[k]!,
        height: t.rh[k]!,
      };
      if (wantPoints) item.points = t.points[k]!;
      out.push(item);
      // Children in list order: push in reverse so the first child is visited first.
      const kids: number[] = [];
      for (let ch = t.firstChild[k]!; ch !== -1; ch = t.nextSibling[ch]!) kids.push(ch);
      for (let q = kids.length - 1; q >= 0; q--) stack.push(kids[q]!);
    }
  }
  return out;
}

/**
 * Index of the contour Python's `max(contours, key=cv2.contourArea)` picks: the first one with the largest area.
 * @returns −1 for an empty list.
 */
export function largestContourIndex(contours: readonly Contour[]): number {
  let best = -1;
  for (let i = 0; i < contours.length; i++) if (best < 0 || contours[i]!.twiceArea > contours[best]!.twiceArea) best = i;
  return best;
}

/**
 * Twice cv2.contourArea of the outer border that starts at padded index `i0` (the component's first pixel in raster
 * order), traced on `gray > cut` without writing labels: the same path and area as {@link findContours}' outer
 * border of that component.
 * @param gp gray image padded with a 1-pixel frame of zeros (row length `pw` = width + 2).
 * @param maxSteps give up after this many border steps.
 * @returns twice the area, or −1 when the border is longer than `maxSteps`; `traceSteps.last` holds the steps taken.
 */
export function outerBorderTwiceArea(gp: Uint8Array, pw: number, i0: number, cut: number, maxSteps = Infinity): number {
  const d0 = 1;
  const d1 = -pw + 1;
  const d2 = -pw;
  const d3 = -pw - 1;
  const d4 = -1;
  const d5 = pw - 1;
  const d6 = pw;
  const d7 = pw + 1;
  const deltas = [d0, d1, d2, d3, d4, d5, d6, d7, d0, d1, d2, d3, d4, d5, d6, d7];
  let s = 4;
  let i1: number;
  do {
    s = (s - 1) & 7;
    i1 = i0 + deltas[s]!;
  } while (gp[i1]! <= cut && s !== 4);
  traceSteps.last = 0;
  if (s === 4) return 0;
  let i3 = i0;
  let x = i0 % pw;
  let y = (i0 - x) / pw;
  let area2 = 0;
  let steps = 0;
  for (;;) {
    let i4 = 0;
    while (s < 15) {
      i4 = i3 + deltas[++s]!;
      if (gp[i4]! > cut) break;
    }
    s &= 7;
    const dx = DX[s]!;
    const dy = DY[s]!;
    area2 += x * dy - y * dx;
    x += dx;
    y += dy;
    if (++steps > maxSteps) {
      traceSteps.last = steps;
      return -1;
    }
    if (i4 === i0 && i3 === i1) break;
    i3 = i4;
    s = (s + 4) & 7;
  }
  traceSteps.last = steps;
  return Math.abs(area2);
}

/** Steps taken by the last {@link outerBorderTwiceArea} call. */
export const traceSteps = { last: 0 };
