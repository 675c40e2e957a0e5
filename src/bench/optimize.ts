/**
 * Benchmark: the representer optimisation path (rps/optimize.ts) on synthetic ReLU'd feature maps held in memory —
 * throughput of one objective pass (points/s) and of a whole logistic fit, streamed (cache off) and cached.
 */
import { mulberry32 } from '../util/random.js';
import * as tf from '@tensorflow/tfjs-core';
import { fitOptimized } from '../rps/optimize.js';
import type { TrainingSource } from '../rps/point-source.js';
import type { BackboneIdentity } from '../backbones/types.js';
import type { BenchResult, BenchSuite } from './types.js';

function syntheticSource(images: number, h: number, w: number, c: number, seed: number): TrainingSource {
  const maps: Float32Array[] = [];
  const rnd = mulberry32(seed);
  for (let i = 0; i < images; i++) {
    const f = new Float32Array(h * w * c);
    for (let j = 0; j < f.length; j++) f[j] = Math.max(0, rnd() - 0.6) * (1 + 3 * rnd());
    maps.push(f);
  }
  return async function* () {
    for (let i = 0; i < images; i++) yield { id: `img_${i}`, features: { shape: [h, w, c] as [number, number, number], data: maps[i]! } };
  };
}

function identity(c: number): BackboneIdentity {
  return {
    id: 'bench-synthetic',
    arch: 'external',
    featureLayer: 'external',
    channels: c,
    stride: 32,
    input: { mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'bilinear', sizeMultiple: 1, minSize: 1, defaultSize: 224 },
  };
}

export const optimizeSuite: BenchSuite = {
  name: 'optimize',
  description: 'representer ERM: logistic fit by L-BFGS over streamed passes (points/s per pass, whole fit)',
  async run(opts) {
    const out: BenchResult[] = [];
    const cases: [string, number, number, number, number][] = [
      ['MobileNetV2 7x7x1280, 256 images', 256, 7, 7, 1280],
      ['ViT-S/16 14x14x384, 128 images', 128, 14, 14, 384],
    ];
    for (const [name, n, h, w, c] of cases) {
      if (opts.filter && !name.includes(opts.filter)) continue;
      const images = opts.quick ? Math.max(8, n / 8) : n;
      const src = syntheticSource(images, h, w, c, 7);
      for (const cached of [false, true]) {
        const t0 = process.hrtime.bigint();
        const r = await fitOptimized(src, { backbone: identity(c), loss: 'logistic', topK: 8, cacheBytes: cached ? 1 << 30 : 0, maxPasses: opts.quick ? 12 : 100 });
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        const points = images * h * w;
        out.push({
          suite: 'optimize',
          case: `${name}${opts.quick ? ' (quick)' : ''}, ${cached ? 'cached' : 'streamed'}`,
          metric: 'points/s per pass',
          value: (points * r.passes) / s,
          details: { seconds: s, passes: r.passes, stop: r.stop, residual: r.residual, points, tensorsAlive: tf.memory().numTensors },
        });
        opts.onProgress?.({ stage: 'bench', done: out.length, detail: name });
      }
    }
    return out;
  },
};
