// Real-data check (issue: end to end): w* fitted with the embedded real network on the UNANNOTATED photos of data/,
// maps on the ANNOTATED photos (approximate hand-drawn boxes, data/manifest.json), whole images at 224 as `uol
// localize IMAGES` uses them. The real network must beat the same network with permuted weights by a wide margin on
// the pointing game (map peak inside a GT box) and on box accuracy (MaxBoxAcc: IoU ≥ 0.5 at the best τ).
// Measured (13 annotated photos): real 12/13 pointing, MaxBoxAcc 76.9; permuted 7/13, MaxBoxAcc 23.1 — see the log.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_BACKBONE, embeddedArtifacts, loadBackbone } from '../src/backbones/registry.js';
import { tfjsBackboneFromArtifacts } from '../src/backbones/tfjs-model.js';
import type { FeatureExtractor } from '../src/backbones/types.js';
import type { DatasetRecord } from '../src/data/datasets/types.js';
import { wholeProtocol } from '../src/data/transforms.js';
import { BoxEvaluator } from '../src/evaluate/box-metrics.js';
import { fitOnRecords } from '../src/pipeline/fit-run.js';
import { localizeRecords } from '../src/pipeline/localize.js';
import { expectNoLeak } from './helpers/leak.js';
import { permuteWeights } from './helpers/control.js';

interface Photo {
  file: string;
  approx_boxes: [number, number, number, number][];
}

const manifest = JSON.parse(readFileSync('data/manifest.json', 'utf8')) as Photo[];
const rec = (p: Photo): DatasetRecord => {
  const r: DatasetRecord = { id: p.file, file: path.resolve('data', p.file) };
  if (p.approx_boxes.length) r.boxes = p.approx_boxes;
  return r;
};
const fitSet = (process.env.FITALL ? manifest : manifest.filter((p) => !p.approx_boxes.length)).map(rec);
const testSet = manifest.filter((p) => p.approx_boxes.length).map(rec);

async function score(backbone: FeatureExtractor): Promise<{ pointing: number; maxBoxAcc: number; images: number }> {
  const { predictor } = await fitOnRecords({ backbone, records: fitSet, sourceDescription: 'unannotated photos', listingHash: 'x', tool: 'test' });
  const ev = new BoxEvaluator();
  let hits = 0;
  await localizeRecords({
    backbone,
    predictor,
    records: testSet,
    protocol: wholeProtocol(224),
    threshold: 0.5,
    onMap: (r, map, [H, W]) => {
      let best = 0;
      for (let i = 1; i < map.length; i++) if (map[i]! > map[best]!) best = i;
      const x = best % W;
      const y = Math.floor(best / W);
      if (r.gtInput!.some(([x0, y0, x1, y1]) => x >= x0 && x <= x1 && y >= y0 && y <= y1)) hits++;
      ev.accumulate({ map, height: H, width: W, gtBoxes: r.gtInput!, id: r.id });
    },
  });
  const m = ev.compute();
  console.log(JSON.stringify({ v2: m.MaxBoxAccV2, iou: m.IoU, rel: m.MaxBoxAccV2_release, best: m.bestThreshold, c50: m.curves.release['50']!.filter((_, i) => i % 10 === 4), c70: m.curves.release['70']!.filter((_, i) => i % 10 === 4) }));
  return { pointing: hits, maxBoxAcc: m.MaxBoxAcc, images: m.images };
}

describe('real data: real network vs permuted weights (fit on unannotated photos, test on annotated ones)', function () {
  this.timeout(180_000);

  it('the real network wins by a wide margin on pointing game and MaxBoxAcc', async () => {
    expect(fitSet.length).to.be.at.least(6);
    expect(testSet.length).to.be.at.least(10);
    const real = await loadBackbone(DEFAULT_BACKBONE);
    const ours = await expectNoLeak(() => score(real), 'fit + localize');
    real.dispose();
    const { artifacts, spec } = await embeddedArtifacts(DEFAULT_BACKBONE);
    const ctrlFe = await tfjsBackboneFromArtifacts({ ...artifacts, weightData: permuteWeights(artifacts.weightData as ArrayBuffer, artifacts.weightSpecs!) }, { ...spec, id: DEFAULT_BACKBONE });
    const ctrl = await score(ctrlFe);
    ctrlFe.dispose();
    console.log(`      real:     pointing ${ours.pointing}/${ours.images}, MaxBoxAcc ${ours.maxBoxAcc.toFixed(1)}`);
    console.log(`      permuted: pointing ${ctrl.pointing}/${ctrl.images}, MaxBoxAcc ${ctrl.maxBoxAcc.toFixed(1)}`);
    // Stated margins: pointing ≥ 85 % of the photos and ≥ 4 more hits than the control; MaxBoxAcc ≥ 30 points above it.
    expect(ours.pointing).to.be.at.least(Math.ceil(0.85 * ours.images));
    expect(ours.pointing - ctrl.pointing).to.be.at.least(4);
    expect(ours.maxBoxAcc - ctrl.maxBoxAcc).to.be.at.least(30);
  });
});
