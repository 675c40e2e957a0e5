// `uol explain` on the real image path (issue 7): the embedded backbone, `uol fit --images … --top-k`, stored and exact
// modes, the feature cache, class-wise predictors, leaks and bad input.
//
// The planted patch: six real photos, each resized to 490×420 (a 7×7 grid of 70×60-px cells, so a cell of the 224×224
// input frame maps back to a non-square block of the photo), saved as PNG (lossless). A 350×300 crop of the squirrel
// photo is pasted into the third one at (70, 60): cells rows 1–5 × cols 1–5. The test photo is the astronaut with the
// same patch at the same place. The other training photos are scenes without a salient object (building, house,
// palace, kite sky, fruit stand, people), so the squirrel cells are the strongest excitatory points AND the most
// similar ones. Expected: the top representer point of the test's patch centre is the planted photo at a cell inside
// the pasted block, its cell rectangle is the block's 70×60 rectangle computed here, and the cell crop's pixels are
// exactly the pasted patch's pixels there. MobileNetV2's last-layer features of a cell depend on a wide context
// (receptive field > the image), so neighbouring cells of the block are about equally similar (0.76–0.84) and which
// one wins is decided by α: measured, cell (4, 2) for both fits and both modes.
import { expect } from 'chai';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { DEFAULT_BACKBONE, loadBackbone } from '../src/backbones/node/registry.js';
import type { FeatureExtractor } from '../src/backbones/types.js';
import { readImageRGB } from '../src/data/image-io.js';
import { openDataset } from '../src/data/datasets/index.js';
import { explainImage } from '../src/rps/node/explain-image.js';
import { type Predictor } from '../src/rps/predictor.js';
import { loadPredictor } from '../src/rps/node/predictor-file.js';
import { alphaModelFromPredictor, collectRepresenters } from '../src/rps/representers.js';
import { PointStream } from '../src/rps/point-source.js';
import { imageTrainingSource } from '../src/pipeline/feature-cache.js';
import { writeExplanation } from '../src/report/explain-html.js';
import { runCli } from './helpers/cli.js';
import { expectNoLeak } from './helpers/leak.js';
import { tmpDir } from './helpers/tmp.js';

const W = 490;
const H = 420;
const CW = 70;
const CH = 60;
const TRAIN = ['opencv_building.jpg', 'opencv_home.jpg', 'sklearn_china.jpg', 'darknet_kite.jpg', 'opencv_fruits.jpg', 'darknet_person.jpg'];
const PLANTED = 2;
const BLOCK = { r0: 1, c0: 1, n: 5 };
const AT = `${(BLOCK.c0 + 2.5) * CW},${(BLOCK.r0 + 2.5) * CH}`; // centre of cell (3, 3)

interface World {
  root: string;
  train: string;
  test: string;
  patch: string;
  plantedFile: string;
  closedForm: string;
  logistic: string;
}

let world: World | undefined;

async function buildWorld(): Promise<World> {
  if (world) return world;
  const root = tmpDir('uol-explain-img-');
  const train = path.join(root, 'train');
  mkdirSync(train);
  const patchBuf = await sharp('data/opencv_squirrel.jpg').extract({ left: 120, top: 40, width: 300, height: 300 }).resize(BLOCK.n * CW, BLOCK.n * CH, { fit: 'fill' }).png().toBuffer();
  const patch = path.join(root, 'patch.png');
  writeFileSync(patch, patchBuf);
  const photo = async (file: string, withPatch: boolean, out: string) => {
    const base = await sharp(path.join('data', file)).resize(W, H, { fit: 'fill' }).png().toBuffer();
    const img = withPatch ? sharp(base).composite([{ input: patchBuf, left: BLOCK.c0 * CW, top: BLOCK.r0 * CH }]) : sharp(base);
    await img.png().toFile(out);
  };
  for (let i = 0; i < TRAIN.length; i++) await photo(TRAIN[i]!, i === PLANTED, path.join(train, `t${i}.png`));
  const test = path.join(root, 'test.png');
  await photo('skimage_astronaut.jpg', true, test);
  const closedForm = path.join(root, 'cf.json');
  const logistic = path.join(root, 'lg.json');
  for (const [out, m] of [[closedForm, []], [logistic, ['--method', 'optimize', '--loss', 'logistic']]] as const) {
    const r = await runCli(['fit', '--images', train, ...m, '--top-k', '8', '--out', out, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout).representerResidual, `${out} residual`).to.be.at.most(1e-3);
  }
  world = { root, train, test, patch, plantedFile: path.join(train, `t${PLANTED}.png`), closedForm, logistic };
  return world;
}

/** A point of `uol explain --json`. */
interface PointJ {
  rank: number;
  id: string;
  imageFile: string | null;
  row: number;
  col: number;
  alpha: number;
  similarity: number;
  representerValue: number;
  cellBox: number[] | null;
  crop: string | null;
  cellCrop: string | null;
  cropMissing: string | null;
}

/** `uol explain --json` output. */
interface ExplainJ {
  html: string;
  mode: string;
  backbone: string | null;
  weights: Record<string, unknown>;
  test: { inputSize: number[] };
  region: { kind: string; threshold: number | null; box: number[] | null; predicted: boolean; cells: number };
  decompositionError: number | null;
  pointsConsidered: number;
  featureCache: Record<string, unknown> | null;
  excitatory: PointJ[];
  inhibitory: PointJ[];
}

async function explainJson(args: string[]): Promise<ExplainJ> {
  const r = await runCli(['explain', ...args, '--json']);
  expect(r.code, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as ExplainJ;
}

describe('uol explain on images (embedded backbone)', function () {
  this.timeout(300_000);

  it('fit --images --top-k stores points with absolute image files, the input frame and the photo size', async () => {
    const w = await buildWorld();
    for (const f of [w.closedForm, w.logistic]) {
      const p = JSON.parse(readFileSync(f, 'utf8'));
      const pts = [...p.extras.representers.excitatory, ...p.extras.representers.inhibitory];
      expect(pts).to.have.length(16);
      for (const q of pts) {
        expect(path.isAbsolute(q.imageFile), q.imageFile).to.equal(true);
        expect(path.dirname(q.imageFile)).to.equal(w.train);
        expect(q.inputSize).to.deep.equal([224, 224]);
        expect(q.imageSize).to.deep.equal([H, W]);
        expect(q.grid).to.deep.equal([7, 7]);
      }
    }
  });

  it('the planted patch is the top representer point (both fits, stored and exact); its crop is the pasted pixels', async () => {
    const w = await buildWorld();
    const patch = await readImageRGB(w.patch);
    for (const pred of [w.closedForm, w.logistic]) {
      const tops: string[] = [];
      for (const exact of [false, true]) {
        const out = path.join(tmpDir(), 'ex');
        const j = await explainJson([w.test, '--predictor', pred, '--at', AT, '--top', '12', '--out', out, ...(exact ? ['--train-images', w.train] : [])]);
        const label = `${path.basename(pred)} ${j.mode}`;
        expect(j.mode).to.equal(exact ? 'exact' : 'stored');
        expect(j.backbone).to.equal(DEFAULT_BACKBONE);
        expect(j.test.inputSize).to.deep.equal([224, 224]);
        expect(j.region.cells).to.equal(1);
        const top = j.excitatory[0]!;
        console.log(`      ${label}: top ${path.basename(top.id)} cell (${top.row}, ${top.col}) α=${top.alpha.toFixed(4)} sim=${top.similarity.toFixed(3)} RV=${top.representerValue.toFixed(4)}; next ${j.excitatory.slice(1, 4).map((p) => `${path.basename(p.id)}(${p.row},${p.col})`).join(' ')}`);
        expect(top.imageFile, label).to.equal(w.plantedFile);
        expect(top.row, label).to.be.within(BLOCK.r0, BLOCK.r0 + BLOCK.n - 1);
        expect(top.col, label).to.be.within(BLOCK.c0, BLOCK.c0 + BLOCK.n - 1);
        // The cell rectangle in the 490×420 photo: cell (r, c) of the 7×7 grid over the 224² frame is 70×60 px here.
        expect(top.cellBox, label).to.deep.equal([top.col * CW, top.row * CH, (top.col + 1) * CW, (top.row + 1) * CH]);
        // Its pixels are the pasted patch's pixels at that cell (lossless PNG all the way).
        const cell = await readImageRGB(path.join(out, top.cellCrop!));
        expect([cell.width, cell.height]).to.deep.equal([CW, CH]);
        const px = (top.col - BLOCK.c0) * CW;
        const py = (top.row - BLOCK.r0) * CH;
        let diff = 0;
        for (let y = 0; y < CH; y++) {
          for (let x = 0; x < CW; x++) {
            for (let k = 0; k < 3; k++) diff += Math.abs(cell.data[(y * CW + x) * 3 + k]! - patch.data[((py + y) * patch.width + px + x) * 3 + k]!);
          }
        }
        expect(diff, `${label}: cell crop vs patch`).to.equal(0);
        // The margin: the best point of any other photo is clearly behind.
        const other = j.excitatory.find((p) => p.imageFile !== w.plantedFile);
        if (other) {
          console.log(`        best point of another photo: ${path.basename(other.id)} (${other.row}, ${other.col}) RV=${other.representerValue.toFixed(4)} (rank ${other.rank})`);
          expect(top.representerValue, label).to.be.above(1.5 * other.representerValue);
        }
        if (exact) {
          expect(j.pointsConsidered).to.equal(TRAIN.length * 49);
          expect(j.decompositionError).to.be.below(1e-3);
        }
        const html = readFileSync(j.html, 'utf8');
        expect(html).to.contain('resized whole to 224×224');
        expect(existsSync(path.join(out, top.crop!))).to.equal(true);
        tops.push(`${top.row},${top.col}`);
      }
      expect(tops[0], `${pred}: stored and exact agree`).to.equal(tops[1]);
    }
  });

  it('default region = the box `uol localize` predicts for the same photo (same τ, same pixels)', async () => {
    const w = await buildWorld();
    const loc = path.join(tmpDir(), 'loc');
    const r = await runCli(['localize', w.test, 'data/darknet_dog.jpg', '--predictor', w.logistic, '--out', loc, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const boxes = JSON.parse(readFileSync(path.join(loc, 'boxes.json'), 'utf8'));
    for (const [img, i] of [[w.test, 0], ['data/darknet_dog.jpg', 1]] as const) {
      const j = await explainJson([img, '--predictor', w.logistic, '--out', path.join(tmpDir(), 'ex')]);
      expect(j.region.kind).to.equal('box');
      expect(j.region.predicted).to.equal(true);
      expect(j.region.threshold).to.equal(boxes.threshold.value);
      expect(j.region.box).to.deep.equal(boxes.images[i].box);
      expect(j.region.cells).to.be.at.least(1);
    }
  });

  it('feature cache: the second exact run reads every training image from it, a changed image is extracted again', async () => {
    const w = await buildWorld();
    const train = path.join(tmpDir(), 'train');
    cpSync(w.train, train, { recursive: true });
    const pred = path.join(path.dirname(train), 'p.json');
    let r = await runCli(['fit', '--images', train, '--out', pred]);
    expect(r.code, r.stderr).to.equal(0);
    const cache = path.join(path.dirname(train), 'cache');
    const args = [w.test, '--predictor', pred, '--at', AT, '--train-images', train, '--feature-cache', cache, '--top', '4'];
    const a = await explainJson([...args, '--out', path.join(tmpDir(), 'a')]);
    expect(a.featureCache).to.deep.include({ hits: 0, extracted: TRAIN.length });
    const b = await explainJson([...args, '--out', path.join(tmpDir(), 'b')]);
    expect(b.featureCache).to.deep.include({ hits: TRAIN.length, extracted: 0 });
    expect(b.excitatory).to.deep.equal(a.excitatory);
    expect(b.decompositionError).to.equal(a.decompositionError);
    // Rewrite one training image (same name, new bytes): only it is extracted again.
    copyFileSync(path.join(train, 't0.png'), path.join(train, 't5.png'));
    const c = await explainJson([...args, '--out', path.join(tmpDir(), 'c')]);
    expect(c.featureCache).to.deep.include({ hits: TRAIN.length - 1, extracted: 1 });
    // A cache of another backbone is refused, naming its index.
    const idx = JSON.parse(readFileSync(path.join(cache, 'index.json'), 'utf8'));
    writeFileSync(path.join(cache, 'index.json'), JSON.stringify({ ...idx, backbone: { ...idx.backbone, id: 'other-net' } }));
    r = await runCli(['explain', ...args, '--out', path.join(tmpDir(), 'd')]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/index\.json: cache of backbone other-net/);
  });

  it('class-wise predictors: class k\'s w with α over class-k training images (exact mode); refused without them', async () => {
    const out = path.join(tmpDir(), 'cw.json');
    let r = await runCli(['fit', '--dataset', 'cub', '--data-dir', 'data/tiny-cub', '--classwise', '--top-k', '4', '--out', out]);
    expect(r.code, r.stderr).to.equal(0);
    const p = loadPredictor(out);
    const j = await explainJson(['data/darknet_giraffe.jpg', '--predictor', out, '--class', 'animal', '--train-dataset', 'cub', '--train-data-dir', 'data/tiny-cub', '--top', '3', '--out', path.join(tmpDir(), 'x')]);
    expect(j.mode).to.equal('exact');
    expect(j.weights).to.deep.equal({ kind: 'class', index: 0, name: 'animal' });
    expect(j.pointsConsidered).to.equal(p.statistics.find((s) => s.key === '0')!.points);
    for (const q of [...j.excitatory, ...j.inhibitory]) expect(q.id).to.match(/^001\.animal\//);
    expect(j.decompositionError).to.be.below(1e-4);
    // Independently of the test region: Σ_{i∈class} α_i f̂_i reproduces that class's stored w (the representer theorem
    // of the class fit), through the same training-image source.
    const backbone = await loadBackbone(DEFAULT_BACKBONE);
    try {
      const ds = await openDataset('cub', { dataDir: 'data/tiny-cub' });
      const records = await ds.records('train');
      const row = p.classes.findIndex((c) => c.index === 0);
      const C = p.backbone.channels;
      // the fit's resize (the release protocol on cub: bilinear, PIL-exact), as recorded in the predictor
      const stream = new PointStream(imageTrainingSource({ backbone, records, size: 224, ...(p.created.input ? { input: p.created.input } : {}) }), { cacheBytes: 0 });
      const set = await expectNoLeak(() => collectRepresenters(stream, alphaModelFromPredictor(p, out, 0), 2, p.perClassWeights!.subarray(row * C, (row + 1) * C)), 'class representers');
      stream.dispose();
      expect(set.residual).to.be.below(1e-5);
      expect(set.summary.points).to.equal(j.pointsConsidered);
    } finally {
      backbone.dispose();
    }
    const bad: [string[], RegExp][] = [
      [['--class', 'animal'], /class-wise explanations need the exact mode/],
      [['--class', '9', '--train-dataset', 'cub', '--train-data-dir', 'data/tiny-cub'], /class 9 has no w \(classes: 0=animal/],
      [['--class', 'dragon'], /--class dragon: no class of that index or name/],
      [['--class', '1', '--train-images', 'data'], /cimg_parrot\.jpg: training image without a class label/],
    ];
    for (const [extra, re] of bad) {
      r = await runCli(['explain', 'data/darknet_giraffe.jpg', '--predictor', out, '--out', path.join(tmpDir(), 'x'), ...extra]);
      expect(r.code, `${extra.join(' ')}: ${r.stderr}`).to.equal(2);
      expect(r.stderr).to.match(re);
    }
  });

  it('explainImage and writeExplanation are leak-free (stored and exact)', async () => {
    const w = await buildWorld();
    const backbone: FeatureExtractor = await loadBackbone(DEFAULT_BACKBONE);
    try {
      const predictor: Predictor = loadPredictor(w.logistic);
      const [x, y] = AT.split(',').map(Number) as [number, number];
      const s = await expectNoLeak(() => explainImage(backbone, w.test, { predictor, region: { kind: 'at', x, y }, top: 2 }), 'explainImage (stored)');
      const ds = await openDataset('folder', { dataDir: w.train });
      const records = await ds.records('all');
      const e = await expectNoLeak(
        () => explainImage(backbone, w.test, { predictor, top: 2, training: imageTrainingSource({ backbone, records, size: 224, cacheDir: path.join(tmpDir(), 'cache') }) }),
        'explainImage (exact, cache)',
      );
      expect(s.result.excitatory[0]!.imageFile).to.equal(w.plantedFile);
      expect(e.result.mode).to.equal('exact');
      await expectNoLeak(() => writeExplanation(path.join(tmpDir(), 'o'), e.result, { testImage: e.image, predictor }), 'writeExplanation');
    } finally {
      backbone.dispose();
    }
  });

  it('bad input exits 2 naming the file or value; moved/changed training photos are reported per crop', async () => {
    const w = await buildWorld();
    const root = tmpDir();
    const notImage = path.join(root, 'x.jpg');
    writeFileSync(notImage, 'not a jpeg');
    const broken = path.join(root, 'broken.json');
    const pj = JSON.parse(readFileSync(w.logistic, 'utf8'));
    pj.extras.representers.excitatory[0].row = 9;
    writeFileSync(broken, JSON.stringify(pj));
    const one = path.join(root, 'one');
    mkdirSync(one);
    copyFileSync(w.plantedFile, path.join(one, 't2.png'));
    const outFile = path.join(root, 'file');
    writeFileSync(outFile, '');
    const cases: [string[], RegExp][] = [
      [[path.join(root, 'nope.jpg'), '--predictor', w.logistic], /nope\.jpg: cannot read image: no such file/],
      [[notImage, '--predictor', w.logistic], /x\.jpg: cannot decode image/],
      [[w.test, '--predictor', w.logistic, '--size', '100'], /--size 100: must be/],
      [[w.test, '--predictor', broken], /broken\.json: extras\.representers\.excitatory\[0\]: cell \(9, \d\) is outside its 7×7 grid/],
      [[w.test, '--predictor', w.logistic, '--train-images', one], /training features have 49 points but .*lg\.json was fitted on 294/],
      [[w.test, '--predictor', w.logistic, '--backbone', 'no-such-net'], /unknown backbone "no-such-net"/],
      [[w.test, '--predictor', w.logistic, '--backbone', 'nsfwjs-mobilenetv2-mid'], /lg\.json: predictor was fitted for another backbone/],
      [[w.test, '--predictor', w.logistic, '--threshold', '1.5'], /--threshold 1\.5/],
      [[w.test, '--predictor', w.logistic, '--box', '0,0,1,1'], /box 0,0,1,1: contains no feature-cell centre/],
      [[w.test, '--predictor', w.logistic, '--train-dataset', 'cub', '--train-data-dir', path.join(root, 'nocub')], /nocub/],
      [[w.test, '--predictor', path.join(root, 'nop.json')], /nop\.json/],
    ];
    for (const [args, re] of cases) {
      const r = await runCli(['explain', ...args, '--out', path.join(root, 'o')]);
      expect(r.code, `${args.slice(2).join(' ')}: ${r.stderr}`).to.equal(2);
      expect(r.stderr).to.match(re);
    }
    let r = await runCli(['explain', w.test, '--predictor', w.logistic, '--out', outFile]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/--out .*file: exists and is not a directory/);
    // Training photos moved after the fit: the page still renders, each crop says why it is missing.
    const moved = path.join(root, 'moved');
    cpSync(w.train, moved, { recursive: true });
    const pm = path.join(root, 'pm.json');
    r = await runCli(['fit', '--images', moved, '--top-k', '2', '--out', pm]);
    expect(r.code, r.stderr).to.equal(0);
    await sharp({ create: { width: 100, height: 80, channels: 3, background: '#808080' } }).png().toFile(path.join(moved, 't2.png'));
    const j = await explainJson([w.test, '--predictor', pm, '--at', AT, '--top', '2', '--out', path.join(root, 'm')]);
    const t2 = [...j.excitatory, ...j.inhibitory].find((p) => p.imageFile?.endsWith('t2.png'));
    expect(t2, 'a t2 point').to.not.equal(undefined);
    expect(t2!.crop).to.equal(null);
    expect(t2!.cropMissing).to.match(/t2\.png is 100×80 now but was 490×420 at fit time/);
  });
});
