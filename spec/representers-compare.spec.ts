// The comparison harness behind "logistic maps localise at least as well as the closed form": pointing game and
// threshold-box IoU on hand-made maps (values computed by hand), and the end-to-end comparison through a feature
// extractor on real photos (leak-free; the integrator runs it with the embedded backbone).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { argmax, boxIoU, pointingHit, summarizeLocalization, thresholdBox, type Box } from '../src/evaluate/map-vs-boxes.js';
import { compareFitMethods } from '../src/rps/compare-methods.js';
import { externalIdentity } from '../src/rps/features-pipeline.js';
import type { FeatureExtractor } from '../src/backbones/types.js';
import { expectNoLeak } from './helpers/leak.js';

function map(W: number, H: number, f: (x: number, y: number) => number) {
  const data = new Float32Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data[y * W + x] = f(x, y);
  return { width: W, height: H, data };
}

describe('map vs boxes: pointing game and threshold boxes', () => {
  it('argmax, pointing, IoU (inclusive boxes) and the largest 8-connected blob', () => {
    // Two blobs: a 3×3 at (1..3, 1..3) valued 0.6, a 4×2 at (6..9, 5..6) valued 1.0; a diagonal neighbour joins (4,4).
    const m = map(12, 8, (x, y) => (x >= 1 && x <= 3 && y >= 1 && y <= 3 ? 0.6 : x === 4 && y === 4 ? 0.6 : x >= 6 && x <= 9 && y >= 5 && y <= 6 ? 1 : 0));
    expect(argmax(m)).to.deep.equal({ x: 6, y: 5 });
    expect(pointingHit(m, [[6, 5, 6, 5]])).to.equal(true);
    expect(pointingHit(m, [[0, 0, 5, 7]])).to.equal(false);
    // τ = 0.5: both blobs survive; the left one has 10 pixels (with the diagonal neighbour) vs 8 → it wins.
    expect(thresholdBox(m, 0.5)).to.deep.equal([1, 1, 4, 4]);
    // τ = 0.7: gray 153 ≤ ⌊0.7·255⌋ = 178 drops the left blob.
    expect(thresholdBox(m, 0.7)).to.deep.equal([6, 5, 9, 6]);
    expect(thresholdBox(map(3, 3, () => 0), 0.5)).to.equal(undefined);
    expect(boxIoU([0, 0, 9, 9], [5, 5, 14, 14])).to.be.closeTo(25 / 175, 1e-12);
    expect(boxIoU([0, 0, 1, 1], [3, 3, 4, 4])).to.equal(0);
    const s = summarizeLocalization([{ map: m, boxes: [[6, 5, 9, 6]] as Box[] }], [0.5, 0.7]);
    expect(s).to.deep.include({ images: 1, pointingHits: 1, meanIoU: 1, bestTau: 0.7, boxAccHits: 1, boxAccTau: 0.7 });
  });

  it('compareFitMethods: both predictors fitted once and scored on real photos, leak-free', async () => {
    const k = tf.tensor4d(Array.from({ length: 3 * 3 * 3 * 24 }, (_, i) => Math.cos(i * 7.77) * 0.6), [3, 3, 3, 24]);
    const extractor: FeatureExtractor = {
      identity: { ...externalIdentity(24, 'toy-conv'), stride: 16, input: { ...externalIdentity(24).input, defaultSize: 96 } },
      extract: (x) => tf.tidy(() => tf.relu(tf.conv2d(tf.avgPool(x, 16, 16, 'valid'), k, 1, 'same'))),
      dispose: () => k.dispose(),
    };
    const manifest = JSON.parse(readFileSync('data/manifest.json', 'utf8')) as { file: string; approx_boxes: number[][] }[];
    const photos = manifest.filter((e) => e.approx_boxes.length).map((e) => ({ file: path.resolve('data', e.file), boxes: e.approx_boxes.map((b) => b.map(Math.round) as Box) }));
    const r = await expectNoLeak(() => compareFitMethods(extractor, photos, { training: manifest.map((e) => path.resolve('data', e.file)) }), 'compareFitMethods');
    expect(r.closedForm.images).to.equal(photos.length);
    expect(r.optimized.images).to.equal(photos.length);
    expect(r.fit.converged).to.equal(true);
    expect(r.predictors.closedForm.method.name).to.equal('closed-form');
    expect(r.predictors.optimized.method.name).to.equal('optimize');
    expect(r.predictors.optimized.statistics[0]!.images).to.equal(manifest.length);
    for (const s of [r.closedForm, r.optimized]) {
      expect(s.meanIoU).to.be.within(0, 1);
      expect(s.perImage).to.have.length(photos.length);
    }
    extractor.dispose();
  });
});
