// Top-1 / Top-5 Loc against tools/ref_toploc.py (numpy + cv2, the release's validation.py definitions restated: the
// tie rule topk = #{k: l[k] >= l[t]}, the largest contour per τ, "Top-1"/"Top-5" = max over τ, the progress line at
// argmax IoU50, the test split at val's τ; and uol's wsolevaluation-style variant at MaxBoxAcc's τ). The same numbers
// through `uol evaluate --scoremaps --predictions` (class-score and top-k CSVs); malformed CSVs exit 2 naming file:line.
import { expect } from 'chai';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { BoxEvaluator, type BoxMetrics } from '../src/evaluate/box-metrics.js';
import { classRank, classRanks, parsePredictions, predictedRank } from '../src/classify/ranks.js';
import { writeNpySync } from '../src/io/npy.js';
import type { CornerBox } from '../src/util/box.js';
import { genMap, type GenParams } from './helpers/gen-maps.js';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';
import { expectNoLeak } from './helpers/leak.js';

interface Img {
  id: string;
  h: number;
  w: number;
  params?: GenParams;
  values?: number[];
  gt: CornerBox[];
  label: number;
  logits: number[];
}
interface Side {
  'Top-1': number;
  'Top-5': number;
  progressTop1: number;
  progressTop5: number;
  BestThreshold: number;
  top1Curve: number[];
  top5Curve: number[];
}
interface Wsol {
  maxBoxAccThreshold: number;
  top1Loc: number;
  top5Loc: number;
  top1Curve: number[];
  top5Curve: number[];
}
interface Ref {
  classes: number;
  datasets: Record<'val' | 'test', Img[]>;
  results: Record<'val' | 'test', { ranks: number[]; release: Side; wsol: Wsol }> & { 'test-at-val': { release: Side; wsol: Wsol } };
}

const ref = JSON.parse(readFileSync(path.join('spec', 'fixtures', 'classify', 'toploc.json'), 'utf8')) as Ref;
const mapOf = (im: Img): Float32Array => (im.params ? genMap(im.params) : Float32Array.from(im.values!));

function evaluate(images: Img[], chosen?: BoxMetrics['chosen']): BoxMetrics {
  const ev = new BoxEvaluator();
  for (const im of images) ev.accumulate({ map: mapOf(im), height: im.h, width: im.w, gtBoxes: im.gt, id: im.id, classRank: classRank(im.logits, im.label) });
  return ev.compute(chosen ? { chosen } : {});
}

function expectRelease(m: BoxMetrics, r: Side): void {
  expect(m.release.top1Loc, 'release Top-1').to.equal(r['Top-1']);
  expect(m.release.top5Loc, 'release Top-5').to.equal(r['Top-5']);
  expect(m.releaseProgress?.top1Loc, 'release progress-line Top-1').to.equal(r.progressTop1);
  expect(m.releaseProgress?.top5Loc, 'release progress-line Top-5').to.equal(r.progressTop5);
  expect(m.bestThreshold).to.equal(r.BestThreshold);
  // Its maxima are the maxima of the reference's per-τ curves.
  expect(Math.max(...r.top1Curve)).to.equal(r['Top-1']);
}

function expectWsol(m: BoxMetrics, w: Wsol): void {
  expect(m.chosen.maxBoxAcc).to.equal(w.maxBoxAccThreshold);
  expect(m.top1Loc, 'wsol Top-1 Loc').to.equal(w.top1Loc);
  expect(m.top5Loc, 'wsol Top-5 Loc').to.equal(w.top5Loc);
  expect(m.curves.top1Loc).to.deep.equal(w.top1Curve);
  expect(m.curves.top5Loc).to.deep.equal(w.top5Curve);
}

/** wsolevaluation layout + predictions CSVs for one split. */
function writeSplit(images: Img[]): { maps: string; meta: string; scores: string; topk: string } {
  const root = tmpDir('uol-toploc-');
  const maps = path.join(root, 'scoremaps');
  const meta = path.join(root, 'metadata');
  mkdirSync(meta, { recursive: true });
  const K = ref.classes;
  const scores = [['image_id', ...Array.from({ length: K }, (_, k) => `score_${k}`)].join(',')];
  const topk = [['image_id', 'top1', 'top2', 'top3', 'top4', 'top5'].join(',')];
  for (const im of images) {
    const f = path.join(maps, `${im.id}.npy`);
    mkdirSync(path.dirname(f), { recursive: true });
    writeNpySync(f, mapOf(im), [im.h, im.w]);
    scores.push([im.id, ...im.logits.map((v) => String(v))].join(','));
    // Top-5 by logit, ties broken towards lower class index: ranks then differ from the tie rule only on ties.
    const order = im.logits.map((v, k) => [v, k] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).map(([, k]) => k);
    topk.push([im.id, ...order.slice(0, 5)].join(','));
  }
  writeFileSync(path.join(meta, 'image_ids.txt'), images.map((im) => im.id).join('\n') + '\n');
  writeFileSync(path.join(meta, 'class_labels.txt'), images.map((im) => `${im.id},${im.label}`).join('\n') + '\n');
  writeFileSync(path.join(meta, 'image_sizes.txt'), images.map((im) => `${im.id},${im.w},${im.h}`).join('\n') + '\n');
  writeFileSync(path.join(meta, 'localization.txt'), images.flatMap((im) => im.gt.map((b) => `${im.id},${b.join(',')}`)).join('\n') + '\n');
  writeFileSync(path.join(root, 'scores.csv'), scores.join('\r\n') + '\r\n');
  writeFileSync(path.join(root, 'topk.csv'), topk.join('\n') + '\n');
  return { maps, meta, scores: path.join(root, 'scores.csv'), topk: path.join(root, 'topk.csv') };
}

describe('Top-1 / Top-5 Loc (release definition vs numpy/cv2 reference)', function () {
  this.timeout(120000);

  it('class ranks follow the release tie rule (#classes with score ≥ the true one)', () => {
    for (const s of ['val', 'test'] as const) {
      const imgs = ref.datasets[s];
      expect(imgs.map((im) => classRank(im.logits, im.label))).to.deep.equal(ref.results[s].ranks);
      const flat = imgs.flatMap((im) => im.logits);
      expect(Array.from(classRanks(flat, ref.classes, imgs.map((im) => im.label)))).to.deep.equal(ref.results[s].ranks);
    }
    expect(classRank([1, 2, 2, 0], 1)).to.equal(2); // a tie counts against the true class
    expect(classRank([3, 2, 2, 0], 0)).to.equal(1);
    expect(classRank([0, 0, 0], 2)).to.equal(3);
    expect(() => classRank([1, NaN], 0)).to.throw(/score of class 1 is NaN/);
    expect(() => classRank([1, 2], 2)).to.throw(/true class 2 is outside the 2 scored classes/);
  });

  it('val: release Top-1/Top-5 (max over τ and the progress line) and the wsol variant equal the reference', () => {
    const m = evaluate(ref.datasets.val);
    expectRelease(m, ref.results.val.release);
    expectWsol(m, ref.results.val.wsol);
    // The fixture discriminates: the progress line differs from the JSON's max, the wsol Top-5 from the release's.
    expect(m.releaseProgress!.top1Loc).to.not.equal(m.release.top1Loc);
    expect(m.top5Loc).to.not.equal(m.release.top5Loc);
  });

  it("test: its own maxima, and read at val's τ as main.py does (act_threshold = [val BestThreshold])", () => {
    const v = evaluate(ref.datasets.val);
    const t = evaluate(ref.datasets.test);
    expectRelease(t, ref.results.test.release);
    expectWsol(t, ref.results.test.wsol);
    const tv = evaluate(ref.datasets.test, v.chosen);
    const r = ref.results['test-at-val'];
    expect(tv.release.top1Loc).to.equal(r.release['Top-1']);
    expect(tv.release.top5Loc).to.equal(r.release['Top-5']);
    expect(tv.releaseProgress!.top1Loc).to.equal(r.release.progressTop1);
    expect(tv.top1Loc).to.equal(r.wsol.top1Loc);
    expect(tv.top5Loc).to.equal(r.wsol.top5Loc);
  });

  it('uol evaluate --scoremaps --predictions (class scores, CRLF) gives the same numbers; --thresholds-from carries val τ', async () => {
    const v = writeSplit(ref.datasets.val);
    const r = await expectNoLeak(() => runCli(['evaluate', '--scoremaps', v.maps, '--metadata', v.meta, '--predictions', v.scores, '--json']));
    expect(r.code, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout) as { top1Loc: number; top5Loc: number; release: { top1Loc: number; top5Loc: number }; releaseProgress: { top1Loc: number } };
    expect([j.release.top1Loc, j.release.top5Loc, j.releaseProgress.top1Loc]).to.deep.equal([ref.results.val.release['Top-1'], ref.results.val.release['Top-5'], ref.results.val.release.progressTop1]);
    expect([j.top1Loc, j.top5Loc]).to.deep.equal([ref.results.val.wsol.top1Loc, ref.results.val.wsol.top5Loc]);
    const valJson = path.join(path.dirname(v.maps), 'val.json');
    writeFileSync(valJson, r.stdout);
    const t = writeSplit(ref.datasets.test);
    const rt = await runCli(['evaluate', '--scoremaps', t.maps, '--metadata', t.meta, '--predictions', t.scores, '--thresholds-from', valJson, '--json']);
    expect(rt.code, rt.stderr).to.equal(0);
    const jt = JSON.parse(rt.stdout) as typeof j;
    expect([jt.release.top1Loc, jt.release.top5Loc]).to.deep.equal([ref.results['test-at-val'].release['Top-1'], ref.results['test-at-val'].release['Top-5']]);
    expect([jt.top1Loc, jt.top5Loc]).to.deep.equal([ref.results['test-at-val'].wsol.top1Loc, ref.results['test-at-val'].wsol.top5Loc]);
    // A top-5 CSV ranks by list position: equal to the tie rule except where the true class is tied with another.
    const rk = await runCli(['evaluate', '--scoremaps', v.maps, '--metadata', v.meta, '--predictions', v.topk, '--json']);
    expect(rk.code, rk.stderr).to.equal(0);
    const p = parsePredictions(readFileSync(v.topk, 'utf8'), v.topk);
    const tied = ref.datasets.val.filter((im) => im.logits.filter((x) => x === im.logits[im.label]).length > 1);
    expect(tied.length).to.be.greaterThan(0);
    for (const im of ref.datasets.val) {
      const byList = predictedRank(p, im.id, im.label);
      const rule = classRank(im.logits, im.label);
      if (tied.includes(im)) expect(byList).to.be.at.most(rule);
      else expect(Math.min(byList, 6)).to.equal(Math.min(rule, 6));
    }
  });

  describe('bad predictions CSVs exit 2 naming file:line', () => {
    const v = writeSplit(ref.datasets.val.slice(0, 3));
    const ids = ref.datasets.val.slice(0, 3).map((im) => im.id);
    const K = ref.classes;
    const head = ['image_id', ...Array.from({ length: K }, (_, k) => `score_${k}`)].join(',');
    const row = (id: string, f = (k: number) => String(k)): string => [id, ...Array.from({ length: K }, (_, k) => f(k))].join(',');
    const cases: [string, string, RegExp][] = [
      ['a bad header', 'image_id,score_0,score_2\n', /p\.csv:1: header must be "image_id,score_0,…,score_\{K-1\}" or "image_id,top1,…,topk"/],
      ['a non-number score', `${head}\n${row(ids[0]!)}\n${row(ids[1]!, (k) => (k === 3 ? 'abc' : '1'))}\n`, /p\.csv:3: score_3 "abc" is not a finite number/],
      ['a NaN score', `${head}\n${row(ids[0]!, (k) => (k === 0 ? 'nan' : '1'))}\n`, /p\.csv:2: score_0 "nan" is not a finite number/],
      ['a short row', `${head}\n${row(ids[0]!)}\n${ids[1]},1,2\n`, /p\.csv:3: 2 values after the image id, expected 12 \(as the header\)/],
      ['a repeated id', `${head}\n${row(ids[0]!)}\n\n${row(ids[0]!)}\n`, /p\.csv:4: image id "val\/000\.jpg" repeated \(first on line 2\)/],
      ['too few scores for the labels', `image_id,score_0,score_1\n${ids.map((id) => `${id},1,2`).join('\n')}\n`, /p\.csv:\d: true class \d+ is outside the 2 scored classes 0…1/],
      ['a top-k header with k < 5', 'image_id,top1,top2\n', /p\.csv:1: a top-k header needs k ≥ 5 columns/],
      ['a top-k row with a repeated class', `image_id,top1,top2,top3,top4,top5\n${ids[0]},1,2,3,2,5\n`, /p\.csv:2: class 2 listed twice/],
      ['a headerless row with 3 classes', `${ids[0]},1,2,3\n`, /p\.csv:1: expected "<image_id>,<class>,…" .*at least 5 classes/],
      ['a negative class', `image_id,top1,top2,top3,top4,top5\n${ids[0]},1,-2,3,4,5\n`, /p\.csv:2: class "-2" \(column 3\) is not a non-negative integer/],
      ['an unknown image id', `${head}\n${row('val/nope.jpg')}\n`, /p\.csv:2: image id "val\/nope\.jpg" has no class label/],
      ['an empty file', '\n\n', /p\.csv: empty predictions file/],
    ];
    for (const [what, text, re] of cases) {
      it(what, async () => {
        const f = path.join(path.dirname(v.maps), 'p.csv');
        writeFileSync(f, text);
        const r = await runCli(['evaluate', '--scoremaps', v.maps, '--metadata', v.meta, '--predictions', f, '--json']);
        expect(r.code, r.stdout + r.stderr).to.equal(2);
        expect(r.stderr).to.match(re);
      });
    }
  });
});
