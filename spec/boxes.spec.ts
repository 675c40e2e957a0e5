// Boxes from maps against cv2 4.6 (fixtures from tools/ref_boxes.py, run with Debian's /usr/bin/python3):
// identical boxes, contour order, hole flags, areas, hierarchy parents and CHAIN_APPROX_SIMPLE points at every τ of
// [0] + np.arange(0.01, 1, 0.01), for both engines (per-threshold tracing and the one-pass sweep). Exact: no tolerance.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import * as path from 'node:path';
import { findContours, ContourWorkspace, findContoursIn, largestContourIndex } from '../src/localize/contours.js';
import { grayCut, maxGray, npArange, parseThresholds, toGray } from '../src/localize/gray.js';
import { analyzeCuts, boxesAtThresholds, boxesFromMap } from '../src/localize/boxes.js';
import { SweepWorkspace, sweepCuts, uniqueCuts } from '../src/localize/sweep.js';
import { genMap, IntStream, mapHash, type GenParams } from './helpers/gen-maps.js';

const DIR = process.env.UOL_BOXES_FIXTURES ?? path.join('spec', 'fixtures', 'boxes');

interface MapMeta {
  kind: 'generated' | 'explicit';
  params?: GenParams;
  hash?: string;
  name?: string;
  h?: number;
  w?: number;
  values?: number[];
  ordered: string;
  sorted: string;
  points: string;
  contours: number;
  maxGray: number;
}
interface Fixture {
  taus: number[];
  maps: MapMeta[];
}
interface Loaded {
  name: string;
  h: number;
  w: number;
  map: Float32Array;
  meta: MapMeta;
  gray: Uint8Array;
}

function label(m: MapMeta, i: number): string {
  return m.kind === 'explicit' ? `explicit "${m.name}"` : `generated #${i} ${JSON.stringify(m.params)}`;
}

describe('boxes: numpy/cv2 conventions', () => {
  const conv = JSON.parse(readFileSync(path.join(DIR, 'conventions.json'), 'utf8')) as {
    grids: { start: number; stop: number; step: number; values: number[]; cutsHash: string }[];
    gray: { f64: number[]; gray32: number[]; gray64: number[] };
  };

  it('builds τ grids value for value as np.arange, and the same int(τ·max) cuts', () => {
    for (const g of conv.grids) {
      const a = npArange(g.start, g.stop, g.step);
      expect(Array.from(a), `arange(${g.start}, ${g.stop}, ${g.step})`).to.deep.equal(g.values);
      const s = new IntStream();
      for (const t of a) for (let m = 0; m < 256; m++) s.add(grayCut(t, m));
      expect(s.hex(), `cuts of arange(${g.start}, ${g.stop}, ${g.step})`).to.equal(g.cutsHash);
    }
    expect(Array.from(parseThresholds('0.01:1:0.01'))).to.deep.equal(conv.grids[0]!.values);
    expect(Array.from(parseThresholds('0.2,0.5'))).to.deep.equal([0.2, 0.5]);
    expect(() => parseThresholds('0:1')).to.throw(/start:stop:step/);
    expect(() => parseThresholds('0:2:0.5')).to.throw(/outside \[0, 1\]/);
    expect(() => parseThresholds('0.5:0.1:0.1')).to.throw(/empty/);
  });

  it('converts to uint8 exactly as numpy, in float64 or after rounding the map to float32', () => {
    const v = Float64Array.from(conv.gray.f64);
    expect(Array.from(toGray(v, 1, v.length))).to.deep.equal(conv.gray.gray64);
    expect(Array.from(toGray(v, 1, v.length, 'float32'))).to.deep.equal(conv.gray.gray32);
    expect(Array.from(toGray(Float32Array.from(v), 1, v.length))).to.deep.equal(conv.gray.gray32);
    expect(Array.from(toGray(Float32Array.from(v), 1, v.length, 'float64'))).to.deep.equal(conv.gray.gray32);
    // The two really differ on these values (otherwise the test would prove nothing).
    expect(conv.gray.gray32).to.not.deep.equal(conv.gray.gray64);
  });

  it('rejects NaN and out-of-range maps naming the pixel', () => {
    expect(() => toGray(new Float32Array([0, NaN]), 1, 2)).to.throw(/value NaN at \(y=0, x=1\)/);
    expect(() => toGray(new Float32Array([0, 1.5, 0, 0]), 2, 2)).to.throw(/value 1\.5 at \(y=0, x=1\)/);
    expect(() => toGray(new Float32Array(3), 2, 2)).to.throw(/3 values for size 2×2/);
  });
});

describe('boxes vs cv2.findContours / contourArea / boundingRect', function () {
  this.timeout(300000);
  let fx: Fixture;
  let largest: Int16Array;
  const maps: Loaded[] = [];

  before(() => {
    fx = JSON.parse(readFileSync(path.join(DIR, 'maps.json'), 'utf8')) as Fixture;
    const raw = gunzipSync(readFileSync(path.join(DIR, 'largest.bin.gz')));
    largest = new Int16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2);
    fx.maps.forEach((m, i) => {
      const map = m.kind === 'generated' ? genMap(m.params!) : Float32Array.from(m.values!);
      const h = m.kind === 'generated' ? m.params!.h : m.h!;
      const w = m.kind === 'generated' ? m.params!.w : m.w!;
      maps.push({ name: label(m, i), h, w, map, meta: m, gray: toGray(map, h, w) });
    });
  });

  it('covers ≥ 2000 maps of varied size and smoothness at every τ, and the TS generator reproduces every map', () => {
    expect(fx.maps.length).to.be.greaterThanOrEqual(2000);
    expect(fx.taus.length).to.equal(100);
    expect(largest.length).to.equal(fx.maps.length * fx.taus.length * 4);
    for (const m of maps) if (m.meta.kind === 'generated') expect(mapHash(m.map), m.name).to.equal(m.meta.hash);
    const sizes = maps.map((m) => m.h * m.w);
    expect(Math.min(...sizes)).to.equal(1);
    expect(Math.max(...sizes)).to.equal(448 * 448);
    expect(maps.reduce((a, m) => a + m.meta.contours, 0)).to.be.greaterThan(100000);
  });

  /** Compares per-τ largest boxes with cv2's; returns mismatch descriptions. */
  const compareLargest = (i: number, got: (number[] | null)[], what: string, out: string[]): void => {
    for (let q = 0; q < fx.taus.length; q++) {
      const exp = Array.from(largest.subarray((i * fx.taus.length + q) * 4, (i * fx.taus.length + q + 1) * 4));
      const g = got[q] ?? [-1, -1, -1, -1];
      if (exp.some((v, d) => v !== g[d]) && out.length < 5) out.push(`${maps[i]!.name} τ=${fx.taus[q]} ${what}: cv2 ${exp} vs ${g}`);
    }
  };

  it('trace engine: every contour (cv2 order, hole flag, 2·area, parent, box), every CHAIN_APPROX_SIMPLE point, and the largest box', () => {
    const bad: string[] = [];
    maps.forEach((m, i) => {
      expect(maxGray(m.gray), m.name).to.equal(m.meta.maxGray);
      const ws = new ContourWorkspace(m.gray, m.h, m.w);
      const ord = new IntStream();
      const pts = new IntStream();
      const big: (number[] | null)[] = [];
      for (const t of fx.taus) {
        const cs = findContoursIn(ws, grayCut(t, m.meta.maxGray), { points: true });
        ord.add(cs.length);
        pts.add(cs.length);
        for (const c of cs) {
          ord.add(c.x, c.y, c.x + c.width, c.y + c.height, c.isHole ? 1 : 0, c.twiceArea, c.parent);
          pts.add(c.points!.length);
          pts.addAll(c.points!);
        }
        const k = largestContourIndex(cs);
        big.push(k < 0 ? null : [cs[k]!.x, cs[k]!.y, cs[k]!.x + cs[k]!.width, cs[k]!.y + cs[k]!.height]);
      }
      expect(ord.hex(), `${m.name}: contours`).to.equal(m.meta.ordered);
      expect(pts.hex(), `${m.name}: points`).to.equal(m.meta.points);
      compareLargest(i, big, 'trace', bad);
    });
    expect(bad).to.deep.equal([]);
  });

  it('sweep engine: the largest contour box and the set of contour boxes (outer and hole) equal cv2 at every τ (one reused workspace)', () => {
    const bad: string[] = [];
    const ws = new SweepWorkspace(); // one workspace for every size: buffers are reused with stale contents
    maps.forEach((m, i) => {
      const cutsPerTau = Int32Array.from(fx.taus, (t) => grayCut(t, m.meta.maxGray));
      const cuts = uniqueCuts(cutsPerTau);
      const recs: number[][][] = Array.from({ length: cuts.length }, () => []);
      const big: (number[] | null)[] = new Array<number[] | null>(cuts.length).fill(null);
      sweepCuts(m.gray, m.h, m.w, cuts, {
        largest: (j, x0, y0, x1, y1) => void (big[j] = [x0, y0, x1, y1]),
        contour: (j, x0, y0, x1, y1, hole) => void recs[j]!.push([x0, y0, x1, y1, hole ? 1 : 0]),
      }, ws);
      const s = new IntStream();
      for (const c of cutsPerTau) {
        const list = recs[cuts.indexOf(c)]!.slice().sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]! || a[3]! - b[3]! || a[4]! - b[4]!);
        s.add(list.length);
        for (const r of list) s.addAll(r);
      }
      expect(s.hex(), `${m.name}: sorted contour boxes`).to.equal(m.meta.sorted);
      compareLargest(i, Array.from(cutsPerTau, (c) => big[cuts.indexOf(c)]!), 'sweep', bad);
    });
    expect(bad).to.deep.equal([]);
  });

  it('sweep engine with the exact filled sweep instead of border tracing at cuts with holes: same largest boxes', () => {
    const bad: string[] = [];
    maps.forEach((m, i) => {
      const cutsPerTau = Int32Array.from(fx.taus, (t) => grayCut(t, m.meta.maxGray));
      const cuts = uniqueCuts(cutsPerTau);
      const big: (number[] | null)[] = new Array<number[] | null>(cuts.length).fill(null);
      sweepCuts(m.gray, m.h, m.w, cuts, { largest: (j, x0, y0, x1, y1) => void (big[j] = [x0, y0, x1, y1]) }, undefined, 0);
      compareLargest(i, Array.from(cutsPerTau, (c) => big[cuts.indexOf(c)]!), 'filled sweep', bad);
    });
    expect(bad).to.deep.equal([]);
  });

  it('both engines report the same largest area, and boxesAtThresholds maps every τ to its cut', () => {
    for (const m of maps.slice(0, 300)) {
      const cuts = uniqueCuts(Int32Array.from(fx.taus, (t) => grayCut(t, m.meta.maxGray)));
      const a: number[] = [];
      const b: number[] = [];
      analyzeCuts(m.gray, m.h, m.w, cuts, { largest: (j, _x0, _y0, _x1, _y1, t2) => void (a[j] = t2) }, 'trace');
      analyzeCuts(m.gray, m.h, m.w, cuts, { largest: (j, _x0, _y0, _x1, _y1, t2) => void (b[j] = t2) }, 'sweep');
      expect(b, m.name).to.deep.equal(a);
    }
    const m = maps[7]!;
    const bt = boxesAtThresholds(m.map, m.h, m.w, fx.taus, { multi: true, engine: 'trace' });
    const bs = boxesAtThresholds(m.map, m.h, m.w, fx.taus, { multi: true });
    expect(bs.largest).to.deep.equal(bt.largest);
    const sorted = (l: number[][]): number[][] => l.map((b) => b.join(',')).sort().map((x) => x.split(',').map(Number));
    bs.all!.forEach((l, q) => expect(sorted(l)).to.deep.equal(sorted(bt.all![q]!)));
    fx.taus.forEach((t, q) => expect(bt.cuts[q]).to.equal(grayCut(t, m.meta.maxGray)));
  });
});

describe('boxesFromMap', () => {
  it('returns the largest contour box, every box with multi, [] for an empty mask; clip follows wsolevaluation', () => {
    // 0 0 0 0 0 / 0 .4 .4 .4 .6 / 0 .4 1 .8 .6 / 0 .4 .4 .4 .6 (the unimodal case of wsolevaluation's tests)
    const m = Float64Array.from([0, 0, 0, 0, 0, 0, 0.4, 0.4, 0.4, 0.6, 0, 0.4, 1, 0.8, 0.6, 0, 0.4, 0.4, 0.4, 0.6]);
    const want = [[1, 1, 4, 3], [1, 1, 4, 3], [2, 1, 4, 3], [2, 2, 4, 3], [2, 2, 3, 3]];
    npArange(0, 1, 0.2).forEach((t, k) => expect(boxesFromMap(m, 4, 5, t, { clip: true }), `τ=${t}`).to.deep.equal([want[k]]));
    expect(boxesFromMap(m, 4, 5, 0.2)).to.deep.equal([[1, 1, 5, 4]]);
    expect(boxesFromMap(new Float32Array(9), 3, 3, 0.5)).to.deep.equal([]);
    // A ring: the outer border and the hole border are both contours.
    const ring = Float32Array.from([1, 1, 1, 1, 0, 1, 1, 1, 1]);
    expect(boxesFromMap(ring, 3, 3, 0.5, { multi: true })).to.deep.equal([[0, 0, 3, 3], [0, 0, 3, 3]]);
    const cs = findContours(toGray(ring, 3, 3), 3, 3, 0);
    expect(cs.map((c) => [c.isHole, c.parent, c.twiceArea])).to.deep.equal([[false, -1, 8], [true, 0, 4]]);
    expect(largestContourIndex(cs)).to.equal(0);
    expect(() => boxesFromMap(ring, 3, 3, 1.5)).to.throw(RangeError);
  });
});
