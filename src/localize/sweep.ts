/**
 * All thresholds in one pass: what cv2.findContours(RETR_TREE) + contourArea + boundingRect give for `gray > cut` at
 * every cut of a list, from sweeps over the pixels sorted by gray level instead of one scan per cut. Results are
 * identical to {@link findContours} at each cut (proved against cv2 on the committed fixtures, spec/boxes.spec.ts).
 *
 * Hand-written (union–find over a level-sorted image; no npm package offers it). The facts it rests on, each checked
 * against cv2 on the fixtures:
 * - Outer contours are the 8-connected foreground components; cv2.boundingRect of the outer border is the component's
 *   box. Hole contours are the 4-connected background components that do not reach the image frame; their border
 *   runs through the foreground pixels 4-adjacent to them, so their box is the hole's box grown by one pixel.
 * - cv2.contourArea of an outer border is the area of the polygon through the pixel centres of the component *with its
 *   holes filled*, which is a sum over 2×2 pixel quads: a quad with 4 filled corners adds 1, with 3 corners ½ (the
 *   traced border cuts diagonally across it), else 0. Every foreground pixel of a quad is in the same 8-component.
 * - Python's max(contours, key=cv2.contourArea) always picks a top-level outer border (a hole's polygon lies inside its
 *   parent's and cv2 lists a parent before its subtree); ties go to the top-level contour cv2 lists first, which is the
 *   one discovered last by the raster scan: the component whose first raster pixel comes last.
 *
 * The unit of work is a *run*: a maximal horizontal stretch of pixels that enter the foreground at the same cut (a
 * smooth 448×448 map has ~5 pixels per run). Indices live in a 1-pixel zero-padded frame, so there are no bounds checks.
 * 1. Foreground sweep, cuts high → low: runs enter an 8-connected union–find that keeps per component its box, first
 *    raster pixel, twice its quad area and 4× its Euler number (Gray's bit-quad formula for 8-connectivity), hence
 *    whether it has holes. Without holes the quad area is the contour area. At a cut where some component has holes,
 *    the outer border of each such component that could still win (its box bounds its area) is traced with OpenCV's
 *    border following on `gray > cut` — cheap, since smooth maps have holes at few cuts — within a step budget.
 * 2. Background sweep, cuts low → high (only when some cut has holes and hole boxes are asked for, or the budget ran
 *    out): a 4-connected union–find in which the padding frame is one set; the other sets are the holes. Holes lie
 *    strictly inside the box U around every component that has one, so only U is swept (outside counts as frame). A
 *    run turns background at once, so it also leaves the "filled" region (joins the frame's set) at one cut.
 * 3. Filled sweep, cuts high → low (only for the cuts the trace budget did not settle): as sweep 1, but runs enter when
 *    they become filled, so each set's quad area is its outer border's contour area.
 */

import { outerBorderTwiceArea, traceSteps } from './contours.js';

/** Receives the results of {@link sweepCuts}; every callback gets the index `j` of the cut in the sorted list. */
export interface SweepVisitor {
  /**
   * The box of the largest contour at cut `j`: [x0, y0, x1, y1] = [x, y, x + w, y + h] of cv2.boundingRect, and
   * 2·contourArea. Not called when there is no foreground at that cut. Cuts arrive in no particular order.
   */
  largest?(j: number, x0: number, y0: number, x1: number, y1: number, twiceArea: number): void;
  /** Every contour's box at cut `j` (set semantics: cv2's order is not reproduced). */
  contour?(j: number, x0: number, y0: number, x1: number, y1: number, isHole: boolean): void;
}

// Per quad pattern (bits: 1 top-left, 2 top-right, 4 bottom-left, 8 bottom-right): twice the polygon-area share
// (½ for 3 corners, 1 for 4) and 4 × the Euler-number share (8-connectivity: (n1 − n3 − 2·nDiagonal) / 4).
const QUAD_AREA2 = new Int32Array(16);
const QUAD_EULER4 = new Int32Array(16);
for (let q = 0; q < 16; q++) {
  const c = (q & 1) + ((q >> 1) & 1) + ((q >> 2) & 1) + ((q >> 3) & 1);
  QUAD_AREA2[q] = c === 4 ? 2 : c === 3 ? 1 : 0;
  QUAD_EULER4[q] = c === 1 ? 1 : c === 3 ? -1 : q === 9 || q === 6 ? -2 : 0;
}

// A run entering the foreground changes the two quads (above and below) at each column boundary c = 0 … len. Key bits:
// 1 above-left, 2 above-right, 4 below-left, 8 below-right presence; the run's own row is "absent → present" except the
// left neighbour at c = 0 and the right neighbour at c = len (bit 16 of the key: present). Tables give the change of
// twice the quad area and of 4 × the Euler number, for the first, interior and last column.
const RUN_AREA2 = new Int32Array(96);
const RUN_EULER4 = new Int32Array(96);
for (let kind = 0; kind < 3; kind++) {
  for (let key = 0; key < 32; key++) {
    const aPrev = key & 1;
    const aCur = (key >> 1) & 1;
    const bPrev = (key >> 2) & 1;
    const bCur = (key >> 3) & 1;
    const side = (key >> 4) & 1;
    const prevOld = kind === 0 ? side : 0;
    const prevNew = kind === 0 ? side : 1;
    const curOld = kind === 2 ? side : 0;
    const curNew = kind === 2 ? side : 1;
    const tOld = aPrev | (aCur << 1) | (prevOld << 2) | (curOld << 3);
    const tNew = aPrev | (aCur << 1) | (prevNew << 2) | (curNew << 3);
    const uOld = prevOld | (curOld << 1) | (bPrev << 2) | (bCur << 3);
    const uNew = prevNew | (curNew << 1) | (bPrev << 2) | (bCur << 3);
    RUN_AREA2[kind * 32 + key] = QUAD_AREA2[tNew]! - QUAD_AREA2[tOld]! + QUAD_AREA2[uNew]! - QUAD_AREA2[uOld]!;
    RUN_EULER4[kind * 32 + key] = QUAD_EULER4[tNew]! - QUAD_EULER4[tOld]! + QUAD_EULER4[uNew]! - QUAD_EULER4[uOld]!;
  }
}

// Root record layout in SweepWorkspace.rd (8 int32 per root pixel; coordinates are padded: image x = x − 1).
const R_COUNT = 0;
const R_MINX = 1;
const R_MAXX = 2;
const R_MINY = 3;
const R_MAXY = 4;
const R_START = 5;
const R_AREA2 = 6;
const R_EULER4 = 7;
// Background records reuse slots: first and last run of the set's member list.
const R_FIRST_RUN = 5;
const R_LAST_RUN = 6;

/**
 * Buffers reused across maps (allocation would dominate otherwise). Sized by capacity: a workspace serves any map
 * that fits, and grows when a larger one comes (≈ 45 bytes per pixel of the largest map plus ≈ 30 per run).
 */
export class SweepWorkspace {
  height = 0;
  width = 0;
  /** Padded width and size of the current map. */
  pw = 2;
  size = 0;
  parent = new Int32Array(0);
  /** Per-root records, 8 int32 each (see R_*), indexed by the root's padded pixel index. */
  rd = new Int32Array(0);
  live = new Int32Array(1);
  livePos = new Int32Array(0);
  /** Number of live roots (sets) in the current sweep. */
  nLive = 0;
  /** Gray image with a 1-pixel zero frame (filled on demand for border tracing). */
  gp = new Uint8Array(0);
  gpReady = false;
  /** Border-tracing steps left before falling back to the filled sweep (−1: exhausted). */
  traceBudget = 0;
  /** Padded box (x0, x1, y0, y1) enclosing every component that has a hole at some cut: all holes lie inside it. */
  ux0 = 0;
  ux1 = -1;
  uy0 = 0;
  uy1 = -1;
  /** Runs: first pixel (padded index), length, entry band, and reusable order / member-list buffers. */
  runStart = new Int32Array(16);
  runLen = new Int32Array(16);
  runBand = new Int32Array(16);
  runOrder = new Int32Array(16);
  runOrder2 = new Int32Array(16);
  runLeave = new Int32Array(16);
  runNext = new Int32Array(16);

  constructor(height = 0, width = 0) {
    if (height > 0 && width > 0) this.ensure(height, width);
  }

  /** Sets the current map size, growing the buffers when needed. */
  ensure(height: number, width: number): void {
    this.height = height;
    this.width = width;
    this.pw = width + 2;
    this.size = this.pw * (height + 2);
    if (this.parent.length < this.size) {
      const cap = this.size;
      this.parent = new Int32Array(cap);
      this.gp = new Uint8Array(cap);
      this.rd = new Int32Array(cap * 8);
      this.livePos = new Int32Array(cap);
      this.live = new Int32Array(cap + 1);
    }
  }

  /** Makes room for `n` runs. */
  reserveRuns(n: number): void {
    if (this.runStart.length >= n) return;
    const cap = Math.max(n, 2 * this.runStart.length);
    const grow = (a: Int32Array): Int32Array<ArrayBuffer> => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    this.runStart = grow(this.runStart);
    this.runLen = grow(this.runLen);
    this.runBand = grow(this.runBand);
    this.runOrder = new Int32Array(cap);
    this.runOrder2 = new Int32Array(cap);
    this.runLeave = new Int32Array(cap);
    this.runNext = new Int32Array(cap);
  }
}

/**
 * Sorts integer cuts ascending and drops duplicates.
 * @returns the distinct cuts, ascending.
 */
export function uniqueCuts(cuts: ArrayLike<number>): Int32Array {
  const a = Int32Array.from(cuts).sort();
  let k = 0;
  for (let i = 0; i < a.length; i++) if (i === 0 || a[i] !== a[k - 1]) a[k++] = a[i]!;
  return a.slice(0, k);
}

/**
 * Runs the sweeps over `gray` for the distinct ascending integer cuts `cuts` (foreground = gray > cut).
 * @param gray `[H, W]` uint8.
 * @param cuts distinct, ascending, each ≥ 0 (see {@link uniqueCuts}).
 * @param visitor callbacks; pass only those you need.
 * @param ws optional workspace of the same size, reused across calls.
 * @param traceBudget border-tracing steps allowed at cuts with holes before the exact filled sweep takes over (default
 *   2·pixels; both give the same result — tests force each path).
 */
export function sweepCuts(
  gray: Uint8Array,
  height: number,
  width: number,
  cuts: Int32Array,
  visitor: SweepVisitor,
  ws?: SweepWorkspace,
  traceBudget = 2 * height * width + 1024,
): void {
  const n = height * width;
  if (gray.length !== n) throw new Error(`sweepCuts: ${gray.length} pixels for ${height}×${width}`);
  for (let j = 0; j < cuts.length; j++) {
    if (!Number.isInteger(cuts[j]) || cuts[j]! < 0 || (j > 0 && cuts[j]! <= cuts[j - 1]!)) throw new Error('sweepCuts: cuts must be distinct ascending integers ≥ 0');
  }
  const m = cuts.length;
  if (m === 0 || n === 0) return;
  const w = ws ?? new SweepWorkspace();
  w.ensure(height, width);
  const pw = w.pw;

  // band(g) = number of cuts below g: a pixel of gray g is foreground at cut j iff j < band(g), background iff j ≥ band.
  const bandOf = new Int32Array(256);
  for (let g = 0, j = 0; g < 256; g++) {
    while (j < m && cuts[j]! < g) j++;
    bandOf[g] = j;
  }
  // Gray range of each band: band b holds lo < g ≤ hi.
  const bandLo = new Int32Array(m + 1);
  const bandHi = new Int32Array(m + 1);
  for (let b = 0; b <= m; b++) {
    bandLo[b] = b > 0 ? cuts[b - 1]! : -1;
    bandHi[b] = b < m ? cuts[b]! : 255;
  }
  // Runs of equal band along each row.
  let nRuns = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    w.reserveRuns(nRuns + width);
    const { runStart, runLen, runBand } = w;
    const prow = (y + 1) * pw + 1;
    let x = 0;
    while (x < width) {
      const b = bandOf[gray[row + x]!]!;
      const lo = bandLo[b]!;
      const hi = bandHi[b]!;
      let e = x + 1;
      for (; e < width; e++) {
        const g = gray[row + e]!;
        if (g <= lo || g > hi) break;
      }
      runStart[nRuns] = prow + x;
      runLen[nRuns] = e - x;
      runBand[nRuns] = b;
      nRuns++;
      x = e;
    }
  }
  // Counting sort of runs by band, highest first, raster order within a band. ends[j] = number of runs with band > j.
  const { runBand, runOrder } = w;
  const count = new Int32Array(m + 2);
  for (let r = 0; r < nRuns; r++) count[runBand[r]!]++;
  const fillPos = new Int32Array(m + 2);
  for (let b = m, acc = 0; b >= 0; b--) {
    fillPos[b] = acc;
    acc += count[b]!;
  }
  const ends = new Int32Array(m);
  for (let j = 0; j < m; j++) ends[j] = fillPos[j]!;
  for (let r = 0; r < nRuns; r++) runOrder[fillPos[runBand[r]!]!++] = r;

  const holes = new Uint8Array(m);
  const needFill = new Uint8Array(m);
  w.gpReady = false;
  w.traceBudget = traceBudget;
  w.ux0 = pw;
  w.ux1 = -1;
  w.uy0 = height + 2;
  w.uy1 = -1;
  sweepRuns8(w, gray, cuts, runOrder, ends, m - 1, 0, visitor, true, holes, needFill);
  let lastHole = -1;
  let lastFill = -1;
  let firstFill = m;
  for (let j = 0; j < m; j++) {
    if (holes[j] && visitor.contour) lastHole = j;
    if (needFill[j]) {
      lastFill = j;
      if (j < firstFill) firstFill = j;
    }
  }
  const last = Math.max(lastHole, lastFill);
  if (last < 0) return;
  // Background sweep up to the last cut that needs it: hole boxes, and the cut at which each run leaves the filled
  // region (for the filled sweep).
  sweepRuns4(w, runOrder, nRuns, ends, last, holes, visitor.contour);
  if (lastFill >= 0) {
    // Filled sweep: a run is filled at cut j while j < leave; counting sort by leave, highest first.
    const { runLeave, runOrder2 } = w;
    const cnt = new Int32Array(last + 3);
    for (let r = 0; r < nRuns; r++) cnt[runLeave[r]!]++;
    const pos = new Int32Array(last + 3);
    for (let v = last + 1, acc = 0; v >= 0; v--) {
      pos[v] = acc;
      acc += cnt[v]!;
    }
    const ends2 = new Int32Array(last + 1);
    for (let j = 0; j <= last; j++) ends2[j] = pos[j]!;
    for (let k = 0; k < nRuns; k++) {
      const r = runOrder[k]!;
      runOrder2[pos[runLeave[r]!]!++] = r;
    }
    sweepRuns8(w, gray, cuts, runOrder2, ends2, lastFill, firstFill, { largest: visitor.largest! }, false, needFill, needFill);
  }
}

/** Root of `a`'s set, halving the path on the way (both sweeps). */
function findRoot(parent: Int32Array, a: number): number {
  let up = parent[a]!;
  while (up !== a) {
    const g = parent[up]!;
    parent[a] = g;
    a = g;
    up = parent[a]!;
  }
  return a;
}

/** Removes root `gone` from the list of live sets (swap with the last). */
function dropLive(w: SweepWorkspace, gone: number): void {
  const { live, livePos } = w;
  const lp = livePos[gone]!;
  const moved = live[--w.nLive]!;
  live[lp] = moved;
  livePos[moved] = lp;
}

/** Grows the box of the record at offset `keep` of `rd` by the box of the record at offset `gone`. */
function mergeBox(rd: Int32Array, keep: number, gone: number): void {
  if (rd[gone + R_MINX]! < rd[keep + R_MINX]!) rd[keep + R_MINX] = rd[gone + R_MINX]!;
  if (rd[gone + R_MAXX]! > rd[keep + R_MAXX]!) rd[keep + R_MAXX] = rd[gone + R_MAXX]!;
  if (rd[gone + R_MINY]! < rd[keep + R_MINY]!) rd[keep + R_MINY] = rd[gone + R_MINY]!;
  if (rd[gone + R_MAXY]! > rd[keep + R_MAXY]!) rd[keep + R_MAXY] = rd[gone + R_MAXY]!;
}

/**
 * Unites the set containing pixel `a` (present) with root `r` (−1: none yet) in the 8-connected sweep: path halving
 * from `a`, union by size, records merged. Returns the root of the union.
 */
function join8(w: SweepWorkspace, a: number, r: number): number {
  const { rd } = w;
  a = findRoot(w.parent, a);
  if (a === r || r < 0) return a;
  let keep = r * 8;
  let gone = a * 8;
  if (rd[gone + R_COUNT]! > rd[keep + R_COUNT]!) {
    keep = a * 8;
    gone = r * 8;
  }
  const root = keep >> 3;
  w.parent[gone >> 3] = root;
  rd[keep + R_COUNT] += rd[gone + R_COUNT]!;
  mergeBox(rd, keep, gone);
  if (rd[gone + R_START]! < rd[keep + R_START]!) rd[keep + R_START] = rd[gone + R_START]!;
  rd[keep + R_AREA2] += rd[gone + R_AREA2]!;
  rd[keep + R_EULER4] += rd[gone + R_EULER4]!;
  dropLive(w, gone >> 3);
  return root;
}

/**
 * 8-connected sweep of runs from cut `top` down to `bottom`: runs order[0 .. ends[j]) are present at cut j.
 * With `fg` (foreground sweep): flags in `holes` the cuts where some component has a hole, reports every component's
 * box, and the largest contour at every cut — at cuts with holes by tracing the outer border of the components with
 * holes that could win, while the trace budget lasts; cuts it cannot settle are flagged in `needFill`.
 * Without `fg` (filled sweep): reports the largest component at the cuts flagged in `needFill` only.
 */
function sweepRuns8(
  w: SweepWorkspace,
  gray: Uint8Array,
  cuts: Int32Array,
  order: Int32Array,
  ends: Int32Array,
  top: number,
  bottom: number,
  visitor: SweepVisitor,
  fg: boolean,
  holes: Uint8Array,
  needFill: Uint8Array,
): void {
  const { parent, rd, live, livePos, pw, runStart, runLen } = w;
  parent.fill(-1, 0, w.size);
  w.nLive = 0;
  let pos = 0;
  const largest = visitor.largest;
  const contour = fg ? visitor.contour : undefined;
  for (let j = top; j >= bottom; j--) {
    const end = ends[j]!;
    for (; pos < end; pos++) {
      const run = order[pos]!;
      const p0 = runStart[run]!;
      const len = runLen[run]!;
      let r = -1;
      // Quad-area and Euler changes of the quads above and below the run, and unions with every present neighbour
      // (left, right, rows above and below from x0 − 1 to x0 + len).
      let v = parent[p0 - 1]!;
      const leftP = v >= 0 ? 16 : 0;
      if (v >= 0) r = join8(w, p0 - 1, r);
      v = parent[p0 + len]!;
      const rightP = v >= 0 ? 16 : 0;
      if (v >= 0 && v !== r) r = join8(w, p0 + len, r);
      let qa = p0 - pw - 1;
      let qb = p0 + pw - 1;
      v = parent[qa]!;
      let aPrev = v >= 0 ? 1 : 0;
      if (v >= 0 && v !== r) r = join8(w, qa, r);
      v = parent[qb]!;
      let bPrev = v >= 0 ? 4 : 0;
      if (v >= 0 && v !== r) r = join8(w, qb, r);
      let dA = 0;
      let dE = 0;
      for (let c = 0; c <= len; c++) {
        qa++;
        qb++;
        v = parent[qa]!;
        const aCur = v >= 0 ? 2 : 0;
        if (v >= 0 && v !== r) r = join8(w, qa, r);
        v = parent[qb]!;
        const bCur = v >= 0 ? 8 : 0;
        if (v >= 0 && v !== r) r = join8(w, qb, r);
        const key = aPrev | aCur | bPrev | bCur;
        const t = c === 0 ? key | leftP : c === len ? 64 | key | rightP : 32 | key;
        dA += RUN_AREA2[t]!;
        dE += RUN_EULER4[t]!;
        aPrev = aCur >> 1;
        bPrev = bCur >> 1;
      }
      const y = (p0 / pw) | 0;
      const x0 = p0 - y * pw;
      const x1 = x0 + len - 1;
      if (r < 0) {
        r = p0;
        const o = p0 * 8;
        rd[o + R_COUNT] = len;
        rd[o + R_MINX] = x0;
        rd[o + R_MAXX] = x1;
        rd[o + R_MINY] = y;
        rd[o + R_MAXY] = y;
        rd[o + R_START] = p0;
        rd[o + R_AREA2] = dA;
        rd[o + R_EULER4] = dE;
        live[w.nLive] = p0;
        livePos[p0] = w.nLive++;
      } else {
        const o = r * 8;
        rd[o + R_COUNT] += len;
        if (x0 < rd[o + R_MINX]!) rd[o + R_MINX] = x0;
        if (x1 > rd[o + R_MAXX]!) rd[o + R_MAXX] = x1;
        if (y < rd[o + R_MINY]!) rd[o + R_MINY] = y;
        else if (y > rd[o + R_MAXY]!) rd[o + R_MAXY] = y;
        if (p0 < rd[o + R_START]!) rd[o + R_START] = p0;
        rd[o + R_AREA2] += dA;
        rd[o + R_EULER4] += dE;
      }
      for (let q = p0; q < p0 + len; q++) parent[q] = r;
    }
    const nLive = w.nLive;
    if (nLive === 0) continue;
    let anyHole = false;
    if (fg) {
      for (let k = 0; k < nLive; k++) {
        const o = live[k]! * 8;
        if (rd[o + R_EULER4]! < 4) {
          anyHole = true;
          if (rd[o + R_MINX]! < w.ux0) w.ux0 = rd[o + R_MINX]!;
          if (rd[o + R_MAXX]! > w.ux1) w.ux1 = rd[o + R_MAXX]!;
          if (rd[o + R_MINY]! < w.uy0) w.uy0 = rd[o + R_MINY]!;
          if (rd[o + R_MAXY]! > w.uy1) w.uy1 = rd[o + R_MAXY]!;
        }
      }
      if (anyHole) holes[j] = 1;
      if (contour) {
        for (let k = 0; k < nLive; k++) {
          const o = live[k]! * 8;
          contour(j, rd[o + R_MINX]! - 1, rd[o + R_MINY]! - 1, rd[o + R_MAXX]!, rd[o + R_MAXY]!, false);
        }
      }
    } else if (!needFill[j]) {
      continue;
    }
    if (!largest) continue;
    // Largest by quad area among the components without holes (all of them in the filled sweep).
    let best = -1;
    let bestA = -1;
    let bestS = -1;
    for (let k = 0; k < nLive; k++) {
      const o = live[k]! * 8;
      if (anyHole && rd[o + R_EULER4]! < 4) continue;
      const a2 = rd[o + R_AREA2]!;
      if (a2 > bestA || (a2 === bestA && rd[o + R_START]! > bestS)) {
        best = o;
        bestA = a2;
        bestS = rd[o + R_START]!;
      }
    }
    if (anyHole) {
      // Components with holes: their contour area is the polygon of the traced outer border (hole-filled), at most
      // 2·(w − 1)(h − 1) of their box; trace those that could win.
      if (w.traceBudget < 0) {
        needFill[j] = 1;
        continue;
      }
      if (!w.gpReady) {
        const { gp, width, height } = w;
        gp.fill(0, 0, w.size);
        for (let y = 0; y < height; y++) gp.set(gray.subarray(y * width, (y + 1) * width), (y + 1) * pw + 1);
        w.gpReady = true;
      }
      for (let k = 0; k < nLive; k++) {
        const o = live[k]! * 8;
        if (rd[o + R_EULER4]! >= 4) continue;
        const s0 = rd[o + R_START]!;
        const ub = 2 * (rd[o + R_MAXX]! - rd[o + R_MINX]!) * (rd[o + R_MAXY]! - rd[o + R_MINY]!);
        if (ub < bestA || (ub === bestA && s0 < bestS)) continue;
        const a2 = outerBorderTwiceArea(w.gp, pw, s0, cuts[j]!, w.traceBudget);
        if (a2 < 0) {
          w.traceBudget = -1;
          break;
        }
        w.traceBudget -= traceSteps.last;
        if (a2 > bestA || (a2 === bestA && s0 > bestS)) {
          best = o;
          bestA = a2;
          bestS = s0;
        }
      }
      if (w.traceBudget < 0) {
        needFill[j] = 1;
        continue;
      }
    }
    largest(j, rd[best + R_MINX]! - 1, rd[best + R_MINY]! - 1, rd[best + R_MAXX]!, rd[best + R_MAXY]!, bestA);
  }
}

/**
 * Unites the set containing pixel `a` (present) with root `r` (−1: none yet) in the background sweep at cut `j`. The
 * frame's root 0 always survives; a set that joins it leaves the filled region at cut j (recorded for its runs).
 */
function join4(w: SweepWorkspace, a: number, r: number, j: number): number {
  const { parent, rd, runNext, runLeave } = w;
  a = findRoot(parent, a);
  if (a === r || r < 0) return a;
  let keep = r;
  let gone = a;
  if (a === 0) {
    keep = 0;
    gone = r;
  }
  parent[gone] = keep;
  dropLive(w, gone);
  const og = gone * 8;
  if (keep === 0) {
    for (let e = rd[og + R_FIRST_RUN]!; e !== -1; e = runNext[e]!) runLeave[e] = j;
  } else {
    const ok = keep * 8;
    mergeBox(rd, ok, og);
    runNext[rd[ok + R_LAST_RUN]!] = rd[og + R_FIRST_RUN]!;
    rd[ok + R_LAST_RUN] = rd[og + R_LAST_RUN]!;
  }
  return keep;
}

/**
 * 4-connected background sweep of runs for cuts 0 … last (low → high); runs enter at their band, i.e. in the reverse
 * of `order`. The padding frame is one set (root 0). Reports every hole (a set other than the frame's) at cuts flagged
 * in `holes`, and sets runLeave[run] = first cut at which the run is in the frame's set (last + 1 if never).
 */
function sweepRuns4(
  w: SweepWorkspace,
  order: Int32Array,
  nRuns: number,
  ends: Int32Array,
  last: number,
  holes: Uint8Array,
  contour: SweepVisitor['contour'],
): void {
  const { parent, rd, live, livePos, pw, runStart, runLen, runLeave, runNext } = w;
  // Only the box U around every component with holes matters: holes lie strictly inside it, so everything outside U
  // can join the frame's set (0) at once. Inside U, pixels are absent (−1) until they turn background.
  const { ux0, ux1, uy0, uy1 } = w;
  parent.fill(0, 0, w.size);
  for (let y = uy0; y <= uy1; y++) parent.fill(-1, y * pw + ux0, y * pw + ux1 + 1);
  runLeave.fill(last + 1, 0, nRuns);
  w.nLive = 0;
  let pos = nRuns;
  for (let j = 0; j <= last; j++) {
    const begin = ends[j]!;
    for (; pos > begin; ) {
      const run = order[--pos]!;
      let p0 = runStart[run]!;
      let len = runLen[run]!;
      // Clip to U; a run reaching outside U is connected to the frame through its outside part.
      const y = (p0 / pw) | 0;
      const xa = p0 - y * pw;
      const xs = xa < ux0 ? ux0 : xa;
      const xe = xa + len - 1 > ux1 ? ux1 : xa + len - 1;
      if (y < uy0 || y > uy1 || xs > xe) {
        runLeave[run] = j;
        continue;
      }
      p0 = y * pw + xs;
      len = xe - xs + 1;
      let r = -1;
      let v = parent[p0 - 1]!;
      if (v >= 0) r = join4(w, p0 - 1, r, j);
      v = parent[p0 + len]!;
      if (v >= 0 && v !== r) r = join4(w, p0 + len, r, j);
      for (let qa = p0 - pw, qb = p0 + pw, e = p0 - pw + len; qa < e; qa++, qb++) {
        v = parent[qa]!;
        if (v >= 0 && v !== r) r = join4(w, qa, r, j);
        v = parent[qb]!;
        if (v >= 0 && v !== r) r = join4(w, qb, r, j);
      }
      const x0 = xs;
      runNext[run] = -1;
      if (r < 0) {
        r = p0;
        const o = p0 * 8;
        rd[o + R_MINX] = x0;
        rd[o + R_MAXX] = x0 + len - 1;
        rd[o + R_MINY] = y;
        rd[o + R_MAXY] = y;
        rd[o + R_FIRST_RUN] = run;
        rd[o + R_LAST_RUN] = run;
        live[w.nLive] = p0;
        livePos[p0] = w.nLive++;
      } else if (r === 0) {
        runLeave[run] = j;
      } else {
        const o = r * 8;
        if (x0 < rd[o + R_MINX]!) rd[o + R_MINX] = x0;
        if (x0 + len - 1 > rd[o + R_MAXX]!) rd[o + R_MAXX] = x0 + len - 1;
        if (y < rd[o + R_MINY]!) rd[o + R_MINY] = y;
        else if (y > rd[o + R_MAXY]!) rd[o + R_MAXY] = y;
        runNext[rd[o + R_LAST_RUN]!] = run;
        rd[o + R_LAST_RUN] = run;
      }
      for (let q = p0; q < p0 + len; q++) parent[q] = r;
    }
    if (!holes[j] || !contour) continue;
    for (let k = 0, nLive = w.nLive; k < nLive; k++) {
      const o = live[k]! * 8;
      // The hole border runs through the pixels around the hole: its box is the hole's grown by one pixel.
      contour(j, rd[o + R_MINX]! - 2, rd[o + R_MINY]! - 2, rd[o + R_MAXX]! + 1, rd[o + R_MAXY]! + 1, true);
    }
  }
}
