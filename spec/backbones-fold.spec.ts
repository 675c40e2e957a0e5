// The LayersModel folder (src/backbones/layers-fold.ts): BN folded into convolutions, activations, paddings and
// residual adds fused. Reference: tfjs-layers' own execution of the same model (`model.predict`, layer by layer, on plain
// wasm kernels). Tolerance: relative L2 ≤ 5e-5 (folding changes the rounding of each conv's products; errors of a
// wrong fold are O(1)). Runs with and without the native kernels (the fused ops fall back to TF.js ops).
import { resetSettings } from '../src/util/settings.js';
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { compileFoldedLayers } from '../src/backbones/layers-fold.js';
import { cutLayersTopology } from '../src/backbones/tfjs-model.js';
import { embeddedArtifacts, loadBackbone } from '../src/backbones/node/registry.js';
import { withoutNativeKernels } from '../src/engine/native.js';
import { relL2 } from './helpers/compare.js';
import { expectNoLeak } from './helpers/leak.js';

const TOL = 5e-5;

/** Sets every weight of `m` to seeded random values (BN variances positive). */
function randomize(m: tfl.LayersModel, seed: number): void {
  for (const l of m.layers) {
    const ws = l.getWeights();
    if (!ws.length) continue;
    const rs = ws.map((w, i) => {
      const positive = /variance/.test(l.weights[i]!.name);
      return tf.randomUniform(w.shape, positive ? 0.2 : -0.6, positive ? 1.5 : 0.6, 'float32', seed++);
    });
    l.setWeights(rs);
    tf.dispose(rs);
  }
}

function compare(m: tfl.LayersModel, shape: [number, number, number, number]): number {
  const plan = compileFoldedLayers(m);
  if (typeof plan === 'string') throw new Error(plan);
  try {
    const x = tf.randomUniform(shape, -1, 1, 'float32', 17) as tf.Tensor4D;
    const ref = withoutNativeKernels(() => tf.tidy(() => (m.predict(x) as tf.Tensor).dataSync()));
    const y = plan.run(x);
    const p = m.predict(x) as tf.Tensor;
    expect(y.shape).to.deep.equal(p.shape);
    const e = relL2(y.dataSync(), ref);
    tf.dispose([x, y, p]);
    return e;
  } finally {
    plan.dispose();
  }
}

describe('backbones: LayersModel folding (BN into conv, fused activations/padding/residuals)', () => {
  let tensors0 = 0;
  before(() => {
    tensors0 = tf.memory().numTensors;
  });
  after(() => {
    expect(tf.memory().numTensors, 'tensors left by this spec').to.equal(tensors0);
  });

  it('a Keras-style block graph (pads, conv+BN+ReLU6, depthwise ×2 with bias, BN without scale/center, residual add + relu) matches tfjs-layers', () => {
    const inp = tfl.input({ shape: [null, null, 8] as unknown as number[] });
    const p = tfl.layers.zeroPadding2d({ padding: [[0, 1], [1, 0]] }).apply(inp) as tfl.SymbolicTensor;
    let x = tfl.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'valid', useBias: false }).apply(p) as tfl.SymbolicTensor;
    x = tfl.layers.batchNormalization({ epsilon: 1e-3 }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.reLU({ maxValue: 6 }).apply(x) as tfl.SymbolicTensor;
    const sc = x;
    let y = tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', useBias: true }).apply(x) as tfl.SymbolicTensor;
    y = tfl.layers.batchNormalization({ center: false, scale: false }).apply(y) as tfl.SymbolicTensor;
    y = tfl.layers.activation({ activation: 'relu' }).apply(y) as tfl.SymbolicTensor;
    y = tfl.layers.conv2d({ filters: 16, kernelSize: 1, useBias: false }).apply(y) as tfl.SymbolicTensor;
    y = tfl.layers.batchNormalization().apply(y) as tfl.SymbolicTensor;
    let z = tfl.layers.add().apply([sc, y]) as tfl.SymbolicTensor;
    z = tfl.layers.reLU().apply(z) as tfl.SymbolicTensor;
    const m = tfl.model({ inputs: inp, outputs: z });
    randomize(m, 40);
    const plan = compileFoldedLayers(m);
    expect(typeof plan).to.equal('object');
    if (typeof plan !== 'string') {
      expect(plan.folded).to.be.at.least(7); // 3 BN, 3 activations (+ the add's relu), 1 pad, 1 add
      plan.dispose();
    }
    for (const s of [[1, 17, 13, 8], [2, 12, 12, 8]] as [number, number, number, number][]) {
      const e = compare(m, s);
      expect(e, `rel L2 at [${s}]`).to.be.at.most(TOL);
    }
    m.dispose();
  });

  it('returns the reason for layers it cannot fold, and leaks nothing either way', async () => {
    const inp = tfl.input({ shape: [8, 8, 3] });
    const x = tfl.layers.conv2d({ filters: 4, kernelSize: 3 }).apply(inp) as tfl.SymbolicTensor;
    const pool = tfl.model({ inputs: inp, outputs: tfl.layers.maxPooling2d({ poolSize: 2 }).apply(x) as tfl.SymbolicTensor });
    expect(compileFoldedLayers(pool)).to.match(/MaxPooling2D\) is not foldable/);
    // A BN on a branching convolution cannot be folded into it.
    const c = tfl.layers.conv2d({ filters: 4, kernelSize: 1 }).apply(inp) as tfl.SymbolicTensor;
    const bn = tfl.layers.batchNormalization().apply(c) as tfl.SymbolicTensor;
    const branch = tfl.model({ inputs: inp, outputs: tfl.layers.add().apply([bn, c]) as tfl.SymbolicTensor });
    expect(compileFoldedLayers(branch)).to.match(/batch norm that does not follow a convolution/);
    await expectNoLeak(() => {
      const r = compileFoldedLayers(branch);
      expect(r).to.be.a('string');
    }, 'fold failure');
    pool.dispose();
    branch.dispose();
  });

  it('the embedded MobileNetV2 folds and matches its LayersModel at 224 and 160 (batch 2)', async () => {
    const { artifacts, spec } = await embeddedArtifacts('nsfwjs-mobilenetv2');
    const cut = cutLayersTopology(artifacts.modelTopology as Record<string, unknown>, spec.featureNode);
    const m = await tfl.loadLayersModel(tf.io.fromMemory({ ...artifacts, modelTopology: cut }), { strict: false });
    for (const s of [[2, 224, 224, 3], [2, 160, 160, 3]] as [number, number, number, number][]) {
      const e = compare(m, s);
      expect(e, `rel L2 at [${s}]`).to.be.at.most(TOL);
    }
    m.dispose();
  });

  it('loadBackbone uses the folded plan for the default backbone (and UOL_FOLD_LAYERS=0 keeps the LayersModel)', async () => {
    const fe = await loadBackbone('nsfwjs-mobilenetv2');
    expect((fe as unknown as { plan?: unknown }).plan).to.not.equal(undefined);
    fe.dispose();
    process.env.UOL_FOLD_LAYERS = '0';
    resetSettings();
    try {
      const plain = await loadBackbone('nsfwjs-mobilenetv2');
      expect((plain as unknown as { plan?: unknown }).plan).to.equal(undefined);
      plain.dispose();
    } finally {
      delete process.env.UOL_FOLD_LAYERS;
      resetSettings();
    }
  });
});
