// WSOL metrics against an independent numpy/cv2 restatement of the definitions (tools/ref_metrics.py, fixtures in
// spec/fixtures/metrics): synthetic datasets with several GT boxes per image, class ranks, degenerate maps (all zero,
// constant, touching the border, rings), masks with ignore regions, three τ grids, val → test threshold transfer.
// Tolerance: the acceptance asks 1e-6; every scalar metric is in fact compared for exact equality (same operations in
// the same order as numpy), per-image IoUs (kept as float32) to 1e-6.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { BoxEvaluator, type BoxMetrics, type BoxSample } from '../src/evaluate/box-metrics.js';
import { MaskEvaluator } from '../src/evaluate/mask-metrics.js';
import { boxIoU, npSum } from '../src/evaluate/iou.js';
import { combineMasks, nearestIndices, readGrayImage, resizeNearest } from '../src/evaluate/node/gt-masks.js';
import { resizeBox } from '../src/evaluate/node/wsol-metadata.js';
import { npArange } from '../src/localize/gray.js';
import type { Box } from '../src/localize/boxes.js';
import { loadReference, refMap, refMask, type RefImage } from './helpers/metrics-ref.js';
import { tmpDir } from './helpers/tmp.js';

function samples(images: RefImage[]): BoxSample[] {
  return images.map((im) => ({ map: refMap(im), height: im.h, width: im.w, gtBoxes: im.gt!, id: im.id, ...(im.rank !== undefined ? { classRank: im.rank } : {}) }));
}

/** Compares the fields the reference has with ours; scalars exactly, curves exactly, per-image IoUs to 1e-6. */
function compareBox(got: BoxMetrics, exp: Record<string, unknown>, what: string): void {
  for (const k of ['images', 'MaxBoxAcc', 'MaxBoxAccV2', 'IoU', 'MaxBoxAccV2_release', 'bestThreshold', 'release', 'chosen', 'top1Loc', 'top5Loc', 'curves']) {
    expect(got[k as keyof BoxMetrics], `${what}: ${k}`).to.deep.equal(exp[k]);
  }
  const per = exp.perImage as { id: string; threshold: number; box: Box | null; iou: number; iouMulti: number }[];
  expect(got.perImage!.length).to.equal(per.length);
  got.perImage!.forEach((p, i) => {
    const e = per[i]!;
    expect([p.id, p.threshold, p.box], `${what}: per-image ${e.id}`).to.deep.equal([e.id, e.threshold, e.box]);
    expect(p.iou, `${what}: per-image IoU ${e.id}`).to.be.closeTo(e.iou, 1e-6);
    expect(p.iouMulti, `${what}: per-image multi IoU ${e.id}`).to.be.closeTo(e.iouMulti, 1e-6);
  });
}

describe('metrics vs numpy reference (tools/ref_metrics.py)', function () {
  this.timeout(120000);
  const ref = loadReference();
  const val = samples(ref.datasets.val!);
  const test = samples(ref.datasets.test!);

  it('sums like numpy (pairwise summation), bit for bit', () => {
    for (const s of ref.sums) expect(npSum(s.values), `n=${s.values.length}`).to.equal(s.sum);
  });

  it('IoU with inclusive boxes; a degenerate union gives 0', () => {
    expect(boxIoU(1, 2, 5, 6, 3, 1, 4, 5)).to.be.closeTo(8 / 27, 1e-15);
    expect(boxIoU(0, 0, 0, 0, 0, 0, 0, 0)).to.equal(1);
    expect(boxIoU(0, 0, 0, 0, 0, 0, 0, 1)).to.equal(0.5);
    expect(boxIoU(5, 5, 4, 4, 5, 5, 4, 4)).to.equal(0);
  });

  for (const g of ['release', 'wsol', 'coarse']) {
    it(`box metrics on val and test, grid "${g}", and test read at val's chosen τ (sweep engine)`, () => {
      const [a, b, s] = ref.grids[g]!;
      const taus = npArange(a, b, s);
      const ev = new BoxEvaluator({ thresholds: taus });
      val.forEach((x) => ev.accumulate(x));
      const rv = ev.compute();
      compareBox(rv, ref.results[`val/${g}`]!, `val/${g}`);
      const et = new BoxEvaluator({ thresholds: taus });
      test.forEach((x) => et.accumulate(x));
      compareBox(et.compute(), ref.results[`test/${g}`]!, `test/${g}`);
      compareBox(et.compute({ chosen: rv.chosen }), ref.results[`test/${g}/chosen-from-val`]!, `test/${g} at val τ`);
    });
  }

  it('the trace engine gives the same metrics; other IoU thresholds (20, 60) work', () => {
    const ev = new BoxEvaluator({ engine: 'trace' });
    val.forEach((x) => ev.accumulate(x));
    compareBox(ev.compute(), ref.results['val/release']!, 'val/release (trace)');
    const e2 = new BoxEvaluator({ iouThresholds: [20, 60] });
    val.forEach((x) => e2.accumulate(x));
    compareBox(e2.compute(), ref.results['val/release/delta-20-60']!, 'val δ 20/60');
  });

  it('wsolevaluation resize_bbox, and metrics of 64×64 maps against resized boxes', () => {
    const ims = ref.datasets.resize64!;
    for (const im of ims) {
      const [W, H] = im.size!;
      expect(im.gtOrig!.map((b) => resizeBox(b, W, H, 64, 64)), im.id).to.deep.equal(im.gt);
    }
    const ev = new BoxEvaluator();
    samples(ims).forEach((x) => ev.accumulate(x));
    compareBox(ev.compute(), ref.results.resize64!, 'resize64');
  });

  for (const g of ['m01', 'm05', 'm001']) {
    it(`PxAP and PIoU with ignore regions, bin edges np.arange(0, 1, ${g === 'm01' ? 0.01 : g === 'm05' ? 0.05 : 0.001}) + [1, 2, 3]`, () => {
      const step = g === 'm01' ? 0.01 : g === 'm05' ? 0.05 : 0.001;
      const ev = new MaskEvaluator({ thresholds: npArange(0, 1, step) });
      for (const im of ref.datasets.masks!) ev.accumulate({ map: refMap(im), height: im.h, width: im.w, mask: refMask(im), id: im.id });
      const r = ev.compute();
      const e = ref.results[`masks/${g}`] as Record<string, unknown> & { curves: { precision: (number | null)[] } };
      for (const k of ['images', 'PxAP', 'PIoU', 'PIoUThreshold', 'positives', 'negatives']) expect(r[k as keyof typeof r], `${g}: ${k}`).to.equal(e[k]);
      expect(r.curves.precision.map((v) => (Number.isNaN(v) ? null : v))).to.deep.equal(e.curves.precision);
      expect(r.curves.recall).to.deep.equal((e.curves as unknown as { recall: number[] }).recall);
      expect(r.curves.thresholds).to.deep.equal((e.curves as unknown as { thresholds: number[] }).thresholds);
    });
  }

  it('decodes PNG masks to gray as cv2.imread(IMREAD_GRAYSCALE), resizes them as INTER_NEAREST, combines with ignore', async () => {
    const dir = tmpDir();
    for (const [k, c] of ref.png.entries()) {
      const f = path.join(dir, `m${k}.png`);
      writeFileSync(f, Buffer.from(c.png, 'base64'));
      const g = await readGrayImage(f);
      expect([g.height, g.width]).to.deep.equal([c.h, c.w]);
      expect(Array.from(g.data), `${c.channels}-channel PNG`).to.deep.equal(c.gray);
    }
    const conv = JSON.parse(readFileSync(path.join('spec', 'fixtures', 'boxes', 'conventions.json'), 'utf8')) as {
      nearest: { src: [number, number]; dst: [number, number]; ys: number[]; xs: number[] }[];
    };
    for (const c of conv.nearest) {
      expect(Array.from(nearestIndices(c.src[0], c.dst[0])), `rows ${c.src}→${c.dst}`).to.deep.equal(c.ys);
      expect(Array.from(nearestIndices(c.src[1], c.dst[1])), `cols ${c.src}→${c.dst}`).to.deep.equal(c.xs);
      const src = { width: c.src[1], height: c.src[0], data: Uint8Array.from({ length: c.src[0] * c.src[1] }, (_, i) => (i * 7) % 251) };
      const out = resizeNearest(src, c.dst[1], c.dst[0]);
      expect(out.data[out.data.length - 1]).to.equal(src.data[c.ys[c.ys.length - 1]! * c.src[1] + c.xs[c.xs.length - 1]!]);
    }
    const m = combineMasks([Uint8Array.of(0, 255, 0, 0), Uint8Array.of(0, 0, 1, 0)], Uint8Array.of(255, 255, 0, 0), 4);
    expect(Array.from(m)).to.deep.equal([255, 1, 1, 0]);
  });

  it('refuses bad input with messages naming the image', () => {
    const ev = new BoxEvaluator();
    const map = new Float32Array(4);
    expect(() => ev.accumulate({ map, height: 2, width: 2, gtBoxes: [], id: 'a' })).to.throw(/^a: no ground-truth box/);
    expect(() => ev.accumulate({ map, height: 2, width: 2, gtBoxes: [[2, 0, 1, 1]], id: 'b' })).to.throw(/^b: ground-truth box \[2, 0, 1, 1\]/);
    expect(() => ev.accumulate({ map, height: 2, width: 2, gtBoxes: [[0, 0, 1.5, 1]], id: 'c' })).to.throw(/^c: ground-truth box/);
    expect(() => ev.accumulate({ map: Float32Array.of(0, 2, 0, 0), height: 2, width: 2, gtBoxes: [[0, 0, 1, 1]], id: 'd' })).to.throw(/^d: score map: value 2/);
    ev.accumulate({ map, height: 2, width: 2, gtBoxes: [[0, 0, 1, 1]], id: 'e', classRank: 1 });
    expect(() => ev.accumulate({ map, height: 2, width: 2, gtBoxes: [[0, 0, 1, 1]], id: 'f' })).to.throw(/^f: class ranks must be given for every image or for none/);
    expect(() => new BoxEvaluator().compute()).to.throw(/no image/);
    expect(() => new BoxEvaluator({ thresholds: [0.5, 1.2] })).to.throw(/1\.2 is outside/);
    expect(() => new BoxEvaluator({ iouThresholds: [50, 50] })).to.throw(/repeated/);
    expect(() => ev.compute({ chosen: { maxBoxAcc: 0.123, maxBoxAccV2: {}, release: 0.5 } })).to.throw(/0\.123 for MaxBoxAcc is not on this evaluator's grid/);
    const me = new MaskEvaluator();
    expect(() => me.accumulate({ map, height: 2, width: 2, mask: Uint8Array.of(0, 1, 7, 0), id: 'g' })).to.throw(/^g: mask value 7 at \(y=1, x=0\)/);
    expect(() => me.accumulate({ map, height: 2, width: 2, mask: new Uint8Array(3), id: 'h' })).to.throw(/^h: mask has 3 pixels/);
    me.accumulate({ map, height: 2, width: 2, mask: new Uint8Array(4), id: 'i' });
    expect(() => me.compute()).to.throw(/no positive ground-truth pixel/);
    expect(() => new MaskEvaluator({ thresholds: [0.1, 0.5] })).to.throw(/must start at 0/);
    expect(() => new MaskEvaluator({ thresholds: [0, 0.5, 0.4] })).to.throw(/increase strictly/);
  });
});
