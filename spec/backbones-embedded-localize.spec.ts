// Acceptance, offline: `uol extract` with the embedded default backbone (real pretrained MobileNetV2 from the npm
// package nsfwjs; no download, no conversion) on the sample photos in data/, then the foundation's `uol fit` and
// `uol localize`, put each map's peak on the object for every photo with a box in data/manifest.json, with the map's
// mean inside the box ≥ 2× its mean outside, for all but at most one photo. Control: the same network with each weight tensor's values randomly
// permuted, through the same pipeline, must fail that test on most photos (measured: 0 of 3) — so the test tells a
// working pipeline from a broken one.
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { readNpySync } from '../src/io/npy.js';
import { DEFAULT_BACKBONE, embeddedArtifacts } from '../src/backbones/node/registry.js';
import { tfjsBackboneFromArtifacts } from '../src/backbones/tfjs-model.js';
import { expandImageArgs, extractToDir } from '../src/backbones/extract.js';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';
import { expectNoLeak } from './helpers/leak.js';
import { permuteWeights } from './helpers/control.js';

interface Photo {
  file: string;
  width: number;
  height: number;
  approx_boxes: [number, number, number, number][];
}

const S = 224;
const photos = (JSON.parse(readFileSync(path.join('data', 'manifest.json'), 'utf8')) as Photo[]).filter((p) => p.approx_boxes.length > 0);

/** Per photo: is the peak inside a box, and the inside/outside mean ratio of the map at S×S. */
function score(mapsDir: string): { stem: string; peakIn: boolean; ratio: number }[] {
  return photos.map((p) => {
    const stem = path.parse(p.file).name;
    const m = readNpySync(path.join(mapsDir, `${stem}.npy`));
    const inside = new Uint8Array(S * S);
    for (const [x0, y0, x1, y1] of p.approx_boxes) {
      const [a, b, c, d] = [Math.round((x0 * S) / p.width), Math.round((y0 * S) / p.height), Math.round((x1 * S) / p.width), Math.round((y1 * S) / p.height)];
      for (let y = b; y < d; y++) for (let x = a; x < c; x++) inside[y * S + x] = 1;
    }
    let best = -Infinity;
    let bestAt = 0;
    let sIn = 0;
    let nIn = 0;
    let sOut = 0;
    let nOut = 0;
    for (let i = 0; i < S * S; i++) {
      const v = m.data[i]!;
      if (v > best) {
        best = v;
        bestAt = i;
      }
      if (inside[i]) {
        sIn += v;
        nIn++;
      } else {
        sOut += v;
        nOut++;
      }
    }
    return { stem, peakIn: inside[bestAt] === 1, ratio: sIn / nIn / Math.max(sOut / nOut, 1e-9) };
  });
}

async function fitAndLocalize(feats: string, dir: string): Promise<string> {
  const pred = path.join(dir, 'predictor.json');
  const fit = await runCli(['fit', '--from-features', feats, '--out', pred]);
  expect(fit.code, fit.stderr).to.equal(0);
  const maps = path.join(dir, 'maps');
  const loc = await runCli(['localize', '--predictor', pred, '--from-features', feats, '--size', `${S},${S}`, '--out', maps]);
  expect(loc.code, loc.stderr).to.equal(0);
  return maps;
}

describe('acceptance: the embedded default backbone localizes real objects offline', function () {
  this.timeout(120_000);

  it(`uol extract (default ${DEFAULT_BACKBONE}) → fit → localize puts the peak on the object; permuted-weights control does not`, async () => {
    const dir = tmpDir();
    const feats = path.join(dir, 'feats');
    const x = await runCli(['extract', 'data', '--out', feats, '--json']);
    expect(x.code, x.stderr).to.equal(0);
    const info = JSON.parse(x.stdout) as { backbone: { id: string }; images: number; shape: number[] };
    expect(info.backbone.id).to.equal(DEFAULT_BACKBONE);
    expect(info.shape).to.deep.equal([7, 7, 1280]);
    expect(readdirSync(feats).length).to.equal(readdirSync('data').filter((f) => f.endsWith('.jpg')).length);
    const ours = score(await fitAndLocalize(feats, dir));
    console.log(`      ours:    ${ours.map((r) => `${r.stem} peak ${r.peakIn ? 'in' : 'OUT'} ratio ${r.ratio.toFixed(2)}`).join('; ')}`);

    const { artifacts, spec } = await embeddedArtifacts(DEFAULT_BACKBONE);
    const ctrlFe = await tfjsBackboneFromArtifacts({ ...artifacts, weightData: permuteWeights(artifacts.weightData as ArrayBuffer, artifacts.weightSpecs!) }, { ...spec, id: 'control' });
    const cdir = tmpDir();
    try {
      await expectNoLeak(() => extractToDir({ backbone: ctrlFe, images: expandImageArgs(['data']), outDir: path.join(cdir, 'feats') }), 'extractToDir');
    } finally {
      ctrlFe.dispose();
    }
    const ctrl = score(await fitAndLocalize(path.join(cdir, 'feats'), cdir));
    console.log(`      control: ${ctrl.map((r) => `${r.stem} peak ${r.peakIn ? 'in' : 'OUT'} ratio ${r.ratio.toFixed(2)}`).join('; ')}`);

    // Measured with the 13 annotated photos: ours 12/13 (the dog photo, with a bicycle and a truck, peaks on the
    // bicycle), control 3/13 (large boxes: apple, cat, cup).
    const good = (r: { peakIn: boolean; ratio: number }): boolean => r.peakIn && r.ratio >= 2;
    expect(photos.length).to.be.at.least(10);
    const oursGood = ours.filter(good).length;
    expect(oursGood, ours.filter((r) => !good(r)).map((r) => `${r.stem}: peak in box ${r.peakIn}, ratio ${r.ratio.toFixed(2)}`).join('; ')).to.be.at.least(photos.length - 1);
    expect(ctrl.filter(good).length).to.be.at.most(Math.floor(photos.length / 3));
  });
});
