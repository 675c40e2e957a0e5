// Explanations: a planted training patch must come out as the top representer point, with its crop taken from the
// right pixels of the real training image; regions; the HTML page; exact vs stored modes; leaks; CLI bad inputs.
import { expect } from 'chai';
import { seededRandom } from '../src/data/loader.js';
import { existsSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { writeNpySync } from '../src/io/npy.js';
import { readImageRGB } from '../src/data/image-io.js';
import { externalIdentity } from '../src/rps/node/features-pipeline.js';
import { featureDirSource } from '../src/rps/node/sources.js';
import { fitOptimized } from '../src/rps/optimize.js';
import { explain, cellBox } from '../src/rps/explain.js';
import { writeExplanation } from '../src/report/explain-html.js';
import { boxesFromMap } from '../src/localize/boxes.js';
import { savePredictor } from '../src/rps/node/predictor-file.js';
import { runCli } from './helpers/cli.js';
import { expectNoLeak } from './helpers/leak.js';
import { tmpDir } from './helpers/tmp.js';

const C = 32;
const GRID: [number, number] = [7, 7];
const TRAIN = ['skimage_chelsea.jpg', 'skimage_coffee.jpg', 'sklearn_china.jpg', 'skimage_rocket.jpg'];
const PLANT = { img: 2, row: 2, col: 5 };
const MAGENTA = [255, 0, 255];

/** Background features live on channels 0..23 (ReLU'd noise, norm 10..50); the planted direction on 24..31. */
function noiseMap(r: () => number, h: number, w: number): Float32Array {
  const f = new Float32Array(h * w * C);
  for (let q = 0; q < h * w; q++) {
    let n = 0;
    for (let j = 0; j < 24; j++) {
      const v = Math.max(0, r() - 0.4);
      f[q * C + j] = v;
      n += v * v;
    }
    const s = (10 + 40 * r()) / Math.sqrt(n || 1);
    for (let j = 0; j < 24; j++) f[q * C + j]! *= s;
  }
  return f;
}

function planted(scale: number): Float32Array {
  const d = new Float32Array(C);
  for (let j = 24; j < C; j++) d[j] = ((j % 3) + 1) * scale;
  return d;
}

interface World {
  root: string;
  feats: string;
  images: string;
  testFeatures: string;
  testImage: string;
  testCell: [number, number];
  plantedFile: string;
  plantedCell: [number, number, number, number];
}

let world: World | undefined;

async function buildWorld(): Promise<World> {
  if (world) return world;
  const root = tmpDir('uol-explain-');
  const feats = path.join(root, 'features');
  const images = path.join(root, 'images');
  mkdirSync(feats);
  mkdirSync(images);
  const r = seededRandom(7);
  let plantedFile = '';
  let plantedCell: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < TRAIN.length; i++) {
    const stem = `train_${i}`;
    const f = noiseMap(r, ...GRID);
    const img = await readImageRGB(path.resolve('data', TRAIN[i]!));
    if (i === PLANT.img) {
      f.set(planted(30), (PLANT.row * GRID[1] + PLANT.col) * C);
      // Paint the planted cell magenta in the real photo (cell geometry computed here, independently of the code).
      const x0 = Math.floor((PLANT.col * img.width) / GRID[1]);
      const x1 = Math.ceil(((PLANT.col + 1) * img.width) / GRID[1]);
      const y0 = Math.floor((PLANT.row * img.height) / GRID[0]);
      const y1 = Math.ceil(((PLANT.row + 1) * img.height) / GRID[0]);
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) img.data.set(MAGENTA, (y * img.width + x) * 3);
      plantedCell = [x0, y0, x1, y1];
    }
    writeNpySync(path.join(feats, `${stem}.npy`), f, [...GRID, C]);
    const file = path.join(images, `${stem}.png`);
    await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).png().toFile(file);
    if (i === PLANT.img) plantedFile = file;
  }
  // The test: a real photo whose feature cell (1,4) of a 5×6 grid carries the planted direction.
  const test = noiseMap(r, 5, 6);
  test.set(planted(25), (1 * 6 + 4) * C);
  const testFeatures = path.join(root, 'test.npy');
  writeNpySync(testFeatures, test, [5, 6, C]);
  world = { root, feats, images, testFeatures, testImage: path.resolve('data/skimage_astronaut.jpg'), testCell: [1, 4], plantedFile, plantedCell };
  return world;
}

async function pixelAt(file: string, x: number, y: number): Promise<number[]> {
  const img = await readImageRGB(file);
  return Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
}

describe('uol explain: representer points of a test region', function () {
  this.timeout(120000);

  it('the planted training patch is the top representer point (exact and stored modes); its crop is the right pixels', async () => {
    const w = await buildWorld();
    const fit = await fitOptimized(featureDirSource(w.feats), { backbone: externalIdentity(C), loss: 'logistic', topK: 4 });
    expect(fit.converged).to.equal(true);
    const testImg = await readImageRGB(w.testImage);
    const npy = readFileSync(w.testFeatures);
    void npy;
    const { readNpySync } = await import('../src/io/npy.js');
    const t = readNpySync(w.testFeatures);
    // x,y inside test cell (1,4) of the 5×6 grid over the 512×512 astronaut.
    const at = { kind: 'at' as const, x: Math.floor((4.5 * testImg.width) / 6), y: Math.floor((1.5 * testImg.height) / 5) };
    const test = { id: 'astronaut', features: { shape: [5, 6, C] as [number, number, number], data: t.data as Float32Array }, imageSize: [testImg.height, testImg.width] as [number, number] };
    const exact = await expectNoLeak(
      () => explain({ predictor: fit.predictor, test, region: at, top: 3, training: featureDirSource(w.feats, { images: new Map([[`train_${PLANT.img}`, w.plantedFile]]) }) }),
      'explain (exact)',
    );
    expect(exact.mode).to.equal('exact');
    expect(exact.region.cells).to.equal(1);
    expect(exact.region.mask[1 * 6 + 4]).to.equal(1);
    const top = exact.excitatory[0]!;
    expect([top.id, top.row, top.col]).to.deep.equal([`train_${PLANT.img}`, PLANT.row, PLANT.col]);
    expect(top.similarity).to.be.above(0.99);
    expect(exact.decompositionError!).to.be.below(1e-4);
    expect(exact.pointsConsidered).to.equal(TRAIN.length * 49);
    // Stored mode ranks only the top-K by α kept at fit time. With the linear loss α ∝ ‖f‖ − c, and the planted point has
    // the largest norm, so it is stored. (With the logistic loss a well-fitted point can have a small α and be missed:
    // that is the documented approximation of the stored mode; the exact mode above scans every point.)
    const lin = await fitOptimized(featureDirSource(w.feats), { backbone: externalIdentity(C), loss: 'linear', topK: 4 });
    const stored = await expectNoLeak(() => explain({ predictor: lin.predictor, test, region: at, top: 3 }), 'explain (stored)');
    expect(stored.mode).to.equal('stored');
    expect(stored.note).to.match(/approximate/);
    expect([stored.excitatory[0]!.id, stored.excitatory[0]!.row, stored.excitatory[0]!.col]).to.deep.equal([`train_${PLANT.img}`, PLANT.row, PLANT.col]);
    const linExact = await explain({ predictor: lin.predictor, test, region: at, top: 3, training: featureDirSource(w.feats) });
    expect(stored.excitatory[0]!.representerValue).to.be.closeTo(linExact.excitatory[0]!.representerValue, 1e-6);

    const out = tmpDir();
    const files = await expectNoLeak(
      () => writeExplanation(out, exact, { testImage: testImg, predictor: fit.predictor, imageFor: (id) => path.join(w.images, `${id}.png`) }),
      'writeExplanation',
    );
    const p0 = files.points.find((p) => p.side === 'excitatory' && p.rank === 1)!;
    expect(p0.cellBox).to.deep.equal(w.plantedCell);
    const img = await readImageRGB(w.plantedFile);
    expect(p0.cropBox).to.deep.equal([
      Math.floor(((PLANT.col - 1) * img.width) / 7),
      Math.floor(((PLANT.row - 1) * img.height) / 7),
      Math.ceil(((PLANT.col + 2) * img.width) / 7),
      Math.ceil(((PLANT.row + 2) * img.height) / 7),
    ]);
    // The crop PNG shows the magenta cell in its middle third, not at the border.
    const crop = await readImageRGB(path.join(out, p0.crop!));
    expect(await pixelAt(path.join(out, p0.crop!), Math.floor(crop.width / 2), Math.floor(crop.height / 2))).to.deep.equal(MAGENTA);
    expect(await pixelAt(path.join(out, p0.crop!), Math.floor(crop.width / 8), Math.floor(crop.height / 2))).to.not.deep.equal(MAGENTA);
    const html = readFileSync(files.html, 'utf8');
    expect(html).to.match(/^<!doctype html>/);
    expect(html).to.not.match(/<script|https?:\/\/|<link /i);
    // Two test panels, and per crop: the crop and the whole training image with the cell outlined.
    expect((html.match(/src="data:image\/png;base64,/g) ?? []).length).to.equal(2 + 2 * files.points.filter((p) => p.crop).length);
    // The unscaled cell crop is the cell's pixels of the training image: all magenta.
    const cell = await readImageRGB(path.join(out, p0.cellCrop!));
    expect([cell.width, cell.height]).to.deep.equal([w.plantedCell[2] - w.plantedCell[0], w.plantedCell[3] - w.plantedCell[1]]);
    for (let i = 0; i < cell.width * cell.height; i++) expect(Array.from(cell.data.subarray(3 * i, 3 * i + 3))).to.deep.equal(MAGENTA);
    expect(html).to.contain(`train_${PLANT.img}`);
    const json = JSON.parse(readFileSync(files.json, 'utf8'));
    expect(json.mode).to.equal('exact');
    expect(json.excitatory[0].cellBox).to.deep.equal(w.plantedCell);
    expect(json.rawScores).to.have.length(30);
  });

  it('regions: foreground cells (the box rule on the cell map), a box (cell centres inside), the predicted box', async () => {
    const w = await buildWorld();
    const fit = await fitOptimized(featureDirSource(w.feats), { backbone: externalIdentity(C), loss: 'linear', topK: 4 });
    const { readNpySync } = await import('../src/io/npy.js');
    const t = readNpySync(w.testFeatures);
    const test = { id: 't', features: { shape: [5, 6, C] as [number, number, number], data: t.data as Float32Array }, imageSize: [500, 600] as [number, number] };
    const fg = await explain({ predictor: fit.predictor, test, region: { kind: 'pixel', threshold: 0.6 } });
    // The box rule on the cell map: ⌊255·m⌋ > ⌊0.6·max⌊255·m⌋⌋ (max = 255 after min-max).
    const maxGray = Math.max(...Array.from(fg.map, (v) => Math.floor(255 * v)));
    expect(maxGray).to.equal(255);
    for (let q = 0; q < 30; q++) expect(fg.region.mask[q], `cell ${q}`).to.equal(Math.floor(255 * fg.map[q]!) > Math.floor(0.6 * maxGray) ? 1 : 0);
    expect(fg.regionScore).to.be.closeTo(fg.rawScores.reduce((a, v, q) => a + (fg.region.mask[q] ? v : 0), 0) / fg.region.cells, 1e-6);
    // Cells are 100×100 px; the box [160,60,420,260) holds the centres x ∈ {250,350}, y ∈ {150,250}.
    const bx = await explain({ predictor: fit.predictor, test, region: { kind: "box", box: [160, 60, 420, 260] } });
    const want = new Uint8Array(30);
    for (const r of [1, 2]) for (const c of [2, 3]) want[r * 6 + c] = 1;
    expect(Array.from(bx.region.mask)).to.deep.equal(Array.from(want));
    expect(bx.region.bounds).to.deep.equal([200, 100, 400, 300]);
    expect(cellBox([5, 6], 4, 5, 600, 500)).to.deep.equal([500, 400, 600, 500]);
    // Without a box: the box `uol localize` predicts at τ. Recomputed here: the cell map upsampled by an independent
    // align_corners bilinear, the (cv2-verified) largest-contour box, scaled from the 500×600 frame (= the image here).
    const fgBox = await explain({ predictor: fit.predictor, test, region: { kind: 'box', threshold: 0.6 } });
    const [H, W] = [500, 600];
    const up = new Float32Array(H * W);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const sy = (y * 4) / (H - 1);
        const sx = (x * 5) / (W - 1);
        const y0 = Math.min(Math.floor(sy), 3);
        const x0 = Math.min(Math.floor(sx), 4);
        const dy = sy - y0;
        const dx = sx - x0;
        const v = (r: number, c: number) => fgBox.map[r * 6 + c]!;
        up[y * W + x] = (1 - dy) * ((1 - dx) * v(y0, x0) + dx * v(y0, x0 + 1)) + dy * ((1 - dx) * v(y0 + 1, x0) + dx * v(y0 + 1, x0 + 1));
      }
    }
    const want2 = boxesFromMap(up, H, W, 0.6)[0]!;
    expect(fgBox.region.predicted).to.equal(true);
    expect(fgBox.region.threshold).to.equal(0.6);
    fgBox.region.box!.forEach((v, i) => expect(v, `box[${i}]`).to.equal(want2[i]!));
    // Its cells: those whose centre lies inside it.
    for (let q = 0; q < 30; q++) {
      const [cx, cy] = [((q % 6) + 0.5) * 100, (Math.floor(q / 6) + 0.5) * 100];
      const b = fgBox.region.box!;
      expect(fgBox.region.mask[q], `cell ${q}`).to.equal(cx >= b[0] && cx < b[2] && cy >= b[1] && cy < b[3] ? 1 : 0);
    }
  });

  it('CLI: page and JSON from real photos; bad inputs exit 2 naming the problem', async () => {
    const w = await buildWorld();
    const pred = path.join(w.root, 'p.json');
    let r = await runCli(['fit', '--from-features', w.feats, '--method', 'optimize', '--loss', 'linear', '--top-k', '5', '--train-images', w.images, '--out', pred, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const fitJson = JSON.parse(r.stdout);
    expect(fitJson.representerResidual).to.be.below(1e-5);
    const testImg = await readImageRGB(w.testImage);
    const at = `${Math.floor((4.5 * testImg.width) / 6)},${Math.floor((1.5 * testImg.height) / 5)}`;
    const out = path.join(tmpDir(), 'ex');
    r = await runCli(['explain', w.testImage, '--predictor', pred, '--features', w.testFeatures, '--at', at, '--top', '3', '--out', out, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout);
    expect(j.mode).to.equal('stored');
    expect([j.excitatory[0].id, j.excitatory[0].row, j.excitatory[0].col]).to.deep.equal([`train_${PLANT.img}`, PLANT.row, PLANT.col]);
    expect(j.excitatory[0].cellBox).to.deep.equal(w.plantedCell);
    expect(existsSync(path.join(out, 'index.html'))).to.equal(true);
    r = await runCli(['explain', w.testImage, '--predictor', pred, '--features', w.testFeatures, '--out', path.join(tmpDir(), 'ex2'), '--train-features', w.feats, '--train-images', w.images, '--region', 'box', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout).decompositionError).to.be.below(1e-4);

    const bad: [string[], RegExp][] = [
      [['--features', w.testFeatures, '--box', '1,2,3,4', '--region', 'pixel'], /--box needs --region box/],
      [['--features', w.testFeatures, '--box', '1,2,3,4', '--at', '5,5'], /--at x,y or --box/],
      [['--features', w.testFeatures, '--region', 'pixel', '--at', '5,5'], /--at explains the one cell/],
      [['--features', w.testFeatures, '--region', 'box', '--box', '1,2,3'], /--box "1,2,3": expected 4/],
      [['--features', w.testFeatures, '--region', 'box', '--box', '0,0,1,1'], /contains no feature-cell centre/],
      [['--features', w.testFeatures, '--at', '9999,5'], /outside the 512×512 test image/],
      [['--features', w.testFeatures, '--top', '0'], /--top 0/],
      [['--features', w.testFeatures, '--threshold', '2'], /--threshold 2/],
      [[], /fitted on external features .*give the test's --features/],
      [['--features', w.testFeatures, '--backbone', 'nsfwjs-mobilenetv2'], /--features gives the test features: drop --backbone/],
      [['--features', w.testFeatures, '--class', '1'], /--class 1: .* is not a class-wise predictor/],
      [['--features', w.testFeatures, '--train-dataset', 'cub'], /--train-dataset cub needs --train-data-dir/],
      [['--features', w.testFeatures, '--feature-cache', path.join(w.root, 'cache')], /--feature-cache needs the training images/],
      [['--features', path.join(w.feats, 'nope.npy')], /nope\.npy: cannot read/],
      [['--features', w.testFeatures, '--train-features', path.join(w.root, 'nofeats')], /nofeats: cannot read features directory/],
    ];
    for (const [extra, re] of bad) {
      r = await runCli(['explain', w.testImage, '--predictor', pred, '--out', path.join(tmpDir(), 'x'), ...extra]);
      expect(r.code, `${extra.join(' ')}: ${r.stderr}`).to.equal(2);
      expect(r.stderr).to.match(re);
    }
    // Wrong channel count, a predictor without stored points, a training set that is not the fit's.
    const t8 = path.join(w.root, 't8.npy');
    writeNpySync(t8, new Float32Array(2 * 2 * 8).fill(1), [2, 2, 8]);
    r = await runCli(['explain', w.testImage, '--predictor', pred, '--features', t8, '--out', path.join(tmpDir(), 'x')]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/channels/);
    const bare = path.join(w.root, 'bare.json');
    r = await runCli(['fit', '--from-features', w.feats, '--out', bare]);
    expect(r.code).to.equal(0);
    r = await runCli(['explain', w.testImage, '--predictor', bare, '--features', w.testFeatures, '--out', path.join(tmpDir(), 'x')]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/no stored representer points; refit with --top-k/);
    const fewer = path.join(w.root, 'fewer');
    mkdirSync(fewer);
    writeFileSync(path.join(fewer, 'train_0.npy'), readFileSync(path.join(w.feats, 'train_0.npy')));
    r = await runCli(['explain', w.testImage, '--predictor', pred, '--features', w.testFeatures, '--train-features', fewer, '--out', path.join(tmpDir(), 'x')]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/training features have 49 points but .* was fitted on 196/);
    // Closed-form predictors are explainable too (α from their statistics).
    const cf = path.join(w.root, 'cf.json');
    r = await runCli(['fit', '--from-features', w.feats, '--top-k', '3', '--out', cf, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout).representerResidual).to.be.below(1e-5);
    r = await runCli(['explain', w.testImage, '--predictor', cf, '--features', w.testFeatures, '--at', at, '--out', path.join(tmpDir(), 'x'), '--json']);
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout).excitatory[0].id).to.equal(`train_${PLANT.img}`);
    void savePredictor;
  });
});
