// Real-data check (end-to-end issue): w* is fitted with the embedded real network on the UNANNOTATED photos of data/,
// maps are made for ANNOTATED photos, whole images at 224 as `uol localize IMAGES` uses them. The real network must
// beat the same network with permuted weights by a wide margin on the pointing game (map peak inside a GT box) and on
// box accuracy (MaxBoxAcc: IoU ≥ 0.5 at the best τ).
//
// Two test sets:
// - the 13 annotated photos as they are (approximate hand-drawn boxes, data/manifest.json). Their objects are large
//   and centred, so a centre-biased map already scores high on box accuracy; only the pointing game separates here.
// - 26 composites: each annotated object (its box cropped from the photo) pasted at 40 % of a 448×448 canvas into a
//   corner of an unannotated photo. Objects are small and off-centre, so box accuracy separates too.
// Measured: photos — real pointing 11/13, permuted 8/13; composites — real pointing 9/26 and MaxBoxAcc 46.2, permuted
// 0/26 and 0.0 (see the log lines).
import { expect } from 'chai';
import sharp from 'sharp';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_BACKBONE, embeddedArtifacts, loadBackbone } from '../src/backbones/node/registry.js';
import { tfjsBackboneFromArtifacts } from '../src/backbones/tfjs-model.js';
import type { FeatureExtractor } from '../src/backbones/types.js';
import type { DatasetRecord } from '../src/data/datasets/types.js';
import { makeComposites, sampleComposites } from '../src/data/composites.js';
import { wholeProtocol } from '../src/data/transforms.js';
import { BoxEvaluator } from '../src/evaluate/box-metrics.js';
import { fitOnRecords } from '../src/pipeline/fit-run.js';
import { localizeRecords } from '../src/pipeline/localize.js';
import { expectNoLeak } from './helpers/leak.js';
import { permuteWeights } from './helpers/control.js';
import { tmpDir } from './helpers/tmp.js';

interface Photo {
  file: string;
  approx_boxes: [number, number, number, number][];
}

const manifest = JSON.parse(readFileSync('data/manifest.json', 'utf8')) as Photo[];
const annotated = manifest.filter((p) => p.approx_boxes.length);
const plain = manifest.filter((p) => !p.approx_boxes.length);
const fitSet: DatasetRecord[] = plain.map((p) => ({ id: p.file, file: path.resolve('data', p.file) }));
const photoSet: DatasetRecord[] = annotated.map((p) => ({ id: p.file, file: path.resolve('data', p.file), boxes: p.approx_boxes }));

/** Each annotated object pasted at 40 % of a 448² canvas into a corner of an unannotated photo, two corners each. */
function composites(dir: string): Promise<DatasetRecord[]> {
  return sampleComposites('data', dir);
}

interface Score {
  pointing: number;
  images: number;
  maxBoxAcc: number;
}

async function score(backbone: FeatureExtractor, sets: DatasetRecord[][]): Promise<Score[]> {
  const { predictor } = await fitOnRecords({ backbone, records: fitSet, sourceDescription: 'unannotated photos', listingHash: 'test', tool: 'test' });
  const out: Score[] = [];
  for (const records of sets) {
    const ev = new BoxEvaluator();
    let hits = 0;
    await localizeRecords({
      backbone,
      predictor,
      records,
      protocol: wholeProtocol(224),
      threshold: 0.5,
      onMap: (r, map, [H, W]) => {
        let best = 0;
        for (let i = 1; i < map.length; i++) if (map[i]! > map[best]!) best = i;
        const x = best % W;
        const y = Math.floor(best / W);
        if (r.gtInput!.some(([a, b, c, d]) => x >= a && x <= c && y >= b && y <= d)) hits++;
        ev.accumulate({ map, height: H, width: W, gtBoxes: r.gtInput!, id: r.id });
      },
    });
    const m = ev.compute();
    out.push({ pointing: hits, images: m.images, maxBoxAcc: m.MaxBoxAcc });
  }
  return out;
}

describe('real data: real network vs permuted weights (fit on unannotated photos)', function () {
  this.timeout(300_000);

  it('wins by a wide margin on the pointing game (photos, composites) and on MaxBoxAcc (composites)', async () => {
    expect(fitSet.length).to.be.at.least(6);
    expect(photoSet.length).to.be.at.least(10);
    const comp = await composites(tmpDir());
    const real = await loadBackbone(DEFAULT_BACKBONE);
    const [oursPhotos, oursComp] = await expectNoLeak(() => score(real, [photoSet, comp]), 'fit + localize');
    real.dispose();
    const { artifacts, spec } = await embeddedArtifacts(DEFAULT_BACKBONE);
    const ctrlFe = await tfjsBackboneFromArtifacts({ ...artifacts, weightData: permuteWeights(artifacts.weightData as ArrayBuffer, artifacts.weightSpecs!) }, { ...spec, id: DEFAULT_BACKBONE });
    const [ctrlPhotos, ctrlComp] = await score(ctrlFe, [photoSet, comp]);
    ctrlFe.dispose();
    const fmt = (s: Score) => `pointing ${s.pointing}/${s.images}, MaxBoxAcc ${s.maxBoxAcc.toFixed(1)}`;
    console.log(`      photos:     real ${fmt(oursPhotos!)} | permuted ${fmt(ctrlPhotos!)}`);
    console.log(`      composites: real ${fmt(oursComp!)} | permuted ${fmt(ctrlComp!)}`);
    // Stated margins.
    expect(oursPhotos!.pointing, 'photos: real pointing').to.be.at.least(Math.ceil(0.75 * oursPhotos!.images));
    expect(oursPhotos!.pointing - ctrlPhotos!.pointing, 'photos: pointing margin').to.be.at.least(2);
    expect(oursComp!.pointing - ctrlComp!.pointing, 'composites: pointing margin').to.be.at.least(6);
    expect(oursComp!.maxBoxAcc - ctrlComp!.maxBoxAcc, 'composites: MaxBoxAcc margin (points)').to.be.at.least(25);
  });
});

describe('composites (src/data/composites.ts)', () => {
  it('pastes the object where its GT box says (pixels equal the resized crop) and refuses bad inputs by name', async () => {
    const obj = annotated[0]!;
    const dir = tmpDir();
    const [rec] = await makeComposites([{ file: path.resolve('data', obj.file), boxes: obj.approx_boxes }], [path.resolve('data', plain[0]!.file)], dir, { copies: 1 });
    const [x0, y0, x1, y1] = rec!.boxes![0]!;
    expect(x0).to.equal(16);
    expect(y0).to.equal(16);
    expect(Math.max(x1 - x0 + 1, y1 - y0 + 1)).to.equal(Math.round(0.4 * 448));
    // The pasted rectangle is the object's crop resized (sharp, same call), bit for bit; the pixel just outside is not.
    const [a, b, c, d] = obj.approx_boxes[0]!.map(Math.round) as [number, number, number, number];
    const crop = await sharp(path.resolve('data', obj.file)).extract({ left: a, top: b, width: c - a, height: d - b }).resize(x1 - x0 + 1, y1 - y0 + 1).removeAlpha().raw().toBuffer();
    const img = await sharp(rec!.file!).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([img.info.width, img.info.height]).to.deep.equal([448, 448]);
    const W = img.info.width;
    let diff = 0;
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        for (let ch = 0; ch < 3; ch++) diff = Math.max(diff, Math.abs(img.data[(y * W + x) * 3 + ch]! - crop[((y - y0) * (x1 - x0 + 1) + (x - x0)) * 3 + ch]!));
      }
    }
    expect(diff).to.equal(0);
    await expectRejectWith(makeComposites([{ file: 'a.jpg', boxes: [] }], ['b.jpg'], dir), /a\.jpg has no box/);
    await expectRejectWith(makeComposites([{ file: 'a.jpg', boxes: [[5, 5, 5, 9]] }], ['b.jpg'], dir), /a\.jpg: box \[5, 5, 5, 9\] is empty/);
    await expectRejectWith(makeComposites([], [], dir), /no background/);
  });
});

async function expectRejectWith(p: Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect((e as Error).message).to.match(re);
    return;
  }
  expect.fail(`expected a rejection matching ${re}`);
}
