// Closed form vs logistic optimisation (issue 7): the comparison harness (src/pipeline/compare-fits.ts) is leak-free and
// scores what it says (checked against the evaluators on a toy extractor), and on the real sample photos with the
// embedded backbone the logistic fit localizes at least as well as the closed form within the tolerance stated below.
// The committed numbers: docs/results/fit-methods.md (tools/compare-fit-methods.ts).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { compareFits } from '../src/pipeline/compare-fits.js';
import { externalIdentity } from '../src/rps/features-pipeline.js';
import { DEFAULT_BACKBONE, loadBackbone } from '../src/backbones/registry.js';
import type { FeatureExtractor } from '../src/backbones/types.js';
import type { DatasetRecord } from '../src/data/datasets/types.js';
import { runCli } from './helpers/cli.js';
import { expectNoLeak } from './helpers/leak.js';
import { tmpDir } from './helpers/tmp.js';

const manifest = JSON.parse(readFileSync('data/manifest.json', 'utf8')) as { file: string; approx_boxes: [number, number, number, number][] }[];
const training: DatasetRecord[] = manifest.map((e) => ({ id: e.file, file: path.resolve('data', e.file) }));
const test: DatasetRecord[] = manifest.filter((e) => e.approx_boxes.length).map((e) => ({ id: e.file, file: path.resolve('data', e.file), boxes: e.approx_boxes }));

describe('closed form vs logistic optimisation', function () {
  this.timeout(300_000);

  it('compareFits: one streamed fit, both predictors scored with the evaluators, leak-free (toy extractor)', async () => {
    const k = tf.tensor4d(Array.from({ length: 3 * 3 * 3 * 24 }, (_, i) => Math.cos(i * 7.77) * 0.6), [3, 3, 3, 24]);
    const extractor: FeatureExtractor = {
      identity: { ...externalIdentity(24, 'toy-conv'), stride: 16, input: { ...externalIdentity(24).input, defaultSize: 96 } },
      extract: (x) => tf.tidy(() => tf.relu(tf.conv2d(tf.avgPool(x, 16, 16, 'valid'), k, 1, 'same'))),
      dispose: () => k.dispose(),
    };
    const r = await expectNoLeak(() => compareFits(extractor, { training, test }), 'compareFits');
    extractor.dispose();
    expect(r.fit.converged).to.equal(true);
    expect(r.predictors.closedForm.method.name).to.equal('closed-form');
    expect(r.predictors.optimized.method.name).to.equal('optimize');
    expect(r.predictors.optimized.statistics[0]!.images).to.equal(training.length);
    for (const s of [r.closedForm, r.optimized]) {
      expect(s.images).to.equal(test.length);
      expect(s.perImage).to.have.length(test.length);
      expect(s.pointingHits).to.equal(s.perImage.filter((p) => p.pointing).length);
      // The reported mean IoU is the mean of the per-image IoUs at its τ.
      expect(s.meanIoU).to.be.closeTo(s.perImage.reduce((a, p) => a + p.iou, 0) / test.length, 1e-12);
      expect(s.maxBoxAcc).to.be.at.least(s.boxAccAtFixedTau);
      // Accuracies are whole photos out of 13.
      expect((s.maxBoxAcc * test.length) / 100).to.be.closeTo(Math.round((s.maxBoxAcc * test.length) / 100), 1e-9);
    }
  });

  // Tolerance: one photo of 13 on the counts (pointing game, MaxBoxAcc, MaxBoxAccV2 as a mean of three counts) and 0.02
  // on mean IoU. Measured (wasm, embedded MobileNetV2, logistic λ=1e-3 κ=5): closed form pointing 12/13, MaxBoxAcc 76.9,
  // MaxBoxAccV2 66.7, mean IoU 0.580; logistic 11/13, 69.2, 69.2, 0.587 — ahead on MaxBoxAccV2 and mean IoU, one photo
  // behind on pointing and MaxBoxAcc.
  it('real photos, embedded backbone: the logistic fit localizes at least as well as the closed form (within one photo)', async () => {
    const backbone = await loadBackbone(DEFAULT_BACKBONE);
    let r: Awaited<ReturnType<typeof compareFits>>;
    try {
      r = await compareFits(backbone, { training, test, optimize: { loss: 'logistic' } });
    } finally {
      backbone.dispose();
    }
    const { closedForm: cf, optimized: lg } = r;
    const line = (n: string, s: typeof cf) =>
      `${n}: pointing ${s.pointingHits}/${s.images}, MaxBoxAcc ${s.maxBoxAcc.toFixed(1)} (τ ${s.maxBoxAccTau.toFixed(2)}), MaxBoxAccV2 ${s.maxBoxAccV2.toFixed(1)}, BoxAcc@0.5 ${s.boxAccAtFixedTau.toFixed(1)}, mean IoU ${s.meanIoU.toFixed(3)} (τ ${s.meanIoUTau.toFixed(2)})`;
    console.log(`      ${line('closed form', cf)}\n      ${line('logistic   ', lg)}\n      fit: ${r.fit.stop}, residual ${r.fit.residual.toExponential(2)}, cos ${r.fit.cosineToClosedForm.toFixed(3)}`);
    expect(r.fit.converged).to.equal(true);
    expect(r.fit.residual).to.be.at.most(1e-3);
    const photo = 100 / test.length;
    expect(lg.pointingHits, 'pointing').to.be.at.least(cf.pointingHits - 1);
    expect(lg.maxBoxAcc, 'MaxBoxAcc').to.be.at.least(cf.maxBoxAcc - photo - 1e-9);
    expect(lg.maxBoxAccV2, 'MaxBoxAccV2').to.be.at.least(cf.maxBoxAccV2 - photo - 1e-9);
    expect(lg.meanIoU, 'mean IoU').to.be.at.least(cf.meanIoU - 0.02);
    // Both are real localizers on these photos, not flat maps.
    expect(cf.pointingHits).to.be.at.least(10);
    expect(lg.pointingHits).to.be.at.least(10);
    expect(Math.min(cf.meanIoU, lg.meanIoU)).to.be.above(0.5);
  });

  it('uol fit --images data --method optimize --loss logistic --json: representerResidual ≤ 1e-3', async () => {
    const out = path.join(tmpDir(), 'p.json');
    const r = await runCli(['fit', '--images', 'data', '--method', 'optimize', '--loss', 'logistic', '--out', out, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout);
    expect(j.method).to.equal('optimize');
    expect(j.images).to.equal(manifest.length);
    expect(j.converged).to.equal(true);
    expect(j.representerResidual).to.be.a('number').and.at.most(1e-3);
  });
});
