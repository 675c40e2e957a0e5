/**
 * Benchmark: activation maps (score, clamp, min-max, upsample) for a feature batch.
 */
import * as tf from '@tensorflow/tfjs-core';
import { activationMaps } from '../rps/activation.js';
import type { BenchResult, BenchSuite } from './types.js';

export const mapsSuite: BenchSuite = {
  name: 'maps',
  description: 'activation maps from features: ⟨f̂,w⟩ → clamp → min-max → upsample',
  async run(opts) {
    const out: BenchResult[] = [];
    const cases: [string, [number, number, number], [number, number]][] = [
      ['R50@448 14x14x2048→448', [14, 14, 2048], [448, 448]],
      ['ViT-S/16@224 14x14x384→224', [14, 14, 384], [224, 224]],
    ];
    for (const [name, [h, w, c], size] of cases) {
      if (opts.filter && !name.includes(opts.filter)) continue;
      const feats = tf.randomUniform([1, h, w, c]) as tf.Tensor4D;
      const wt = tf.randomNormal([c]) as tf.Tensor1D;
      const reps = opts.quick ? 5 : 30;
      tf.dispose(activationMaps(feats, wt, { size }));
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < reps; i++) {
        const m = activationMaps(feats, wt, { size });
        await m.data();
        m.dispose();
      }
      const ms = Number(process.hrtime.bigint() - t0) / 1e6 / reps;
      tf.dispose([feats, wt]);
      out.push({ suite: 'maps', case: name, metric: 'ms/map', value: ms });
      opts.onProgress?.({ stage: 'bench', done: out.length, detail: name });
    }
    return out;
  },
};
