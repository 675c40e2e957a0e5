// The optimisation path against the independent numpy/scipy reference (tools/ref_representers.py, fixtures in
// spec/fixtures/representers). Tolerances are stated per check.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readNpySync } from '../src/io/npy.js';
import { externalIdentity } from '../src/rps/node/features-pipeline.js';
import { PointStream } from '../src/rps/point-source.js';
import { featureDirSource } from '../src/rps/node/sources.js';
import { fitOptimized } from '../src/rps/optimize.js';
import { alphaModelFromPredictor, forEachAlpha, scanPoints } from '../src/rps/representers.js';
import { rawScores } from '../src/rps/activation.js';
import { cosine, relL2 } from './helpers/compare.js';
import { expectNoLeak } from './helpers/leak.js';

const ROOT = path.resolve('spec/fixtures/representers');

interface Meta {
  N: number;
  channels: number;
  c: number;
  stems: string[];
  tests: string[];
  params: Record<string, { lambda: number; scale: number; kappa: number; objective: number; wNorm: number; residual: number; cosineToClosedForm: number }>;
}

function npy(...p: string[]): Float64Array | Float32Array {
  return readNpySync(path.join(...p)).data as Float64Array;
}


async function allAlphas(dir: string, pred: Parameters<typeof alphaModelFromPredictor>[0]): Promise<Float64Array> {
  const stream = new PointStream(featureDirSource(dir), { batchPoints: 37 });
  const out: number[] = [];
  try {
    await forEachAlpha(stream, alphaModelFromPredictor(pred), (_s, a) => void out.push(...a));
  } finally {
    stream.dispose();
  }
  return Float64Array.from(out);
}

for (const name of ['small', 'wide']) {
  describe(`optimisation path vs numpy/scipy reference: ${name}`, () => {
    const dir = path.join(ROOT, name);
    const feats = path.join(dir, 'features');
    const meta = JSON.parse(readFileSync(path.join(dir, 'expected/meta.json'), 'utf8')) as Meta;
    const backbone = externalIdentity(meta.channels);

    it('linear loss: w matches the closed form (cosine ≥ 0.9999; measured rel. L2 ≤ 1e-5) and α ∝ ‖f‖ − c (rel. L2 ≤ 1e-5)', async () => {
      const r = await expectNoLeak(() => fitOptimized(featureDirSource(feats), { backbone, loss: 'linear', topK: 4, batchPoints: 29 }), 'fitOptimized');
      const wcf = npy(dir, 'expected/w_cf.npy');
      expect(cosine(r.predictor.weights, wcf)).to.be.at.least(0.9999);
      expect(relL2(r.predictor.weights, wcf)).to.be.below(1e-5);
      expect(r.converged).to.equal(true);
      expect(r.residual).to.be.below(1e-5);
      expect(r.predictor.method.name).to.equal('optimize');
      expect(r.predictor.method.representerResidual).to.equal(r.residual);
      expect(Math.abs(Number(r.predictor.method.params!.c) - meta.c) / meta.c).to.be.below(1e-6);
      // A quadratic with Hessian 2λI: the first L-BFGS step (scale 1/2λ) is the optimum → 1 stats + 2 evaluations + final.
      expect(r.passes).to.equal(4);
      const alpha = await expectNoLeak(() => allAlphas(feats, r.predictor), 'forEachAlpha');
      const ref = npy(dir, 'expected/alpha_cf.npy');
      expect(alpha.length).to.equal(meta.N);
      expect(relL2(alpha, ref)).to.be.below(1e-5);
      // α ∝ ‖f‖ − c, directly: α_i / (‖f_i‖ − c) is one constant (over points away from the threshold).
      const norms = npy(dir, 'expected/norms.npy');
      const ratios = [...alpha].map((a, i) => a / (norms[i]! - meta.c)).filter((_, i) => Math.abs(norms[i]! - meta.c) > 1);
      const k = ratios[0]!;
      for (const q of ratios) expect(Math.abs(q - k) / Math.abs(k)).to.be.below(1e-4);
    });

    for (const pname of Object.keys(meta.params)) {
      it(`logistic loss (${pname}): w, ‖w‖, α and the objective match scipy; residual ≤ 1e-3 (measured ≤ 2e-6 with tol 1e-6)`, async () => {
        const P = meta.params[pname]!;
        const r = await expectNoLeak(
          () => fitOptimized(featureDirSource(feats), { backbone, loss: 'logistic', lambda: P.lambda, scale: P.scale, kappa: P.kappa, tol: 1e-6, topK: 5, batchPoints: 41 }),
          'fitOptimized',
        );
        expect(r.converged, `stop: ${r.stop}`).to.equal(true);
        expect(r.residual).to.be.below(1e-3);
        expect(r.residual).to.be.below(2e-6);
        const wref = npy(dir, 'expected', pname, 'w_raw.npy');
        const wgot = Float64Array.from(r.predictor.weights, (x) => x * r.wNorm);
        expect(relL2(wgot, wref)).to.be.below(1e-4);
        expect(Math.abs(r.wNorm - P.wNorm) / P.wNorm).to.be.below(1e-4);
        expect(Math.abs(r.objective - P.objective) / P.objective).to.be.below(1e-6);
        expect(Math.abs(r.cosineToClosedForm - P.cosineToClosedForm)).to.be.below(1e-5);
        const alpha = await allAlphas(feats, r.predictor);
        const aref = Float64Array.from(npy(dir, 'expected', pname, 'alpha_raw.npy'), (a) => a / P.wNorm);
        expect(relL2(alpha, aref)).to.be.below(1e-4);
        // Representer points: the stored top-5 excitatory are the 5 largest α of the reference, in order.
        const order = [...aref.keys()].sort((i, j) => aref[j]! - aref[i]!).slice(0, 5);
        const got = r.representers.excitatory.map((p) => p.alpha);
        order.forEach((i, n) => expect(Math.abs(got[n]! - aref[i]!) / Math.abs(aref[i]!)).to.be.below(1e-4));
        const inh = [...aref.keys()].sort((i, j) => aref[i]! - aref[j]!).slice(0, 5);
        inh.forEach((i, n) => expect(Math.abs(r.representers.inhibitory[n]!.alpha - aref[i]!) / Math.abs(aref[i]!)).to.be.below(1e-4));
      });
    }

    it('decomposition: Σ over all training points of α_i⟨f̂_i, f̂_q⟩ equals the raw score ⟨w, f̂_q⟩ at every test position (1e-4 relative to max(|score|, 0.01); scores lie in [−1,1])', async () => {
      for (const pname of ['cf', ...Object.keys(meta.params)]) {
        const P = meta.params[pname];
        const fit =
          pname === 'cf'
            ? await fitOptimized(featureDirSource(feats), { backbone, loss: 'linear', topK: 0 })
            : await fitOptimized(featureDirSource(feats), { backbone, loss: 'logistic', lambda: P!.lambda, scale: P!.scale, kappa: P!.kappa, tol: 1e-6, topK: 0 });
        const model = alphaModelFromPredictor(fit.predictor);
        for (const ts of meta.tests) {
          const a = readNpySync(path.join(dir, 'test', `${ts}.npy`));
          const [h, w, C] = a.shape as [number, number, number];
          const raw = await expectNoLeak(() => {
            const t = tf.tidy(() => rawScores(tf.tensor4d(a.data as Float32Array, [1, h, w, C]), tf.tensor1d(fit.predictor.weights)));
            const d = t.dataSync();
            t.dispose();
            return Float32Array.from(d);
          });
          const rvRef = readNpySync(path.join(dir, 'expected', pname, `rv_${ts}.npy`));
          const rawRef = npy(dir, 'expected', pname, `raw_${ts}.npy`);
          const stream = new PointStream(featureDirSource(feats), { cacheBytes: 0 });
          try {
            for (let q = 0; q < h * w; q++) {
              const f = (a.data as Float32Array).subarray(q * C, (q + 1) * C);
              const n = Math.hypot(...f);
              const query = n > 0 ? f.map((x) => x / n) : new Float32Array(C);
              const s = await expectNoLeak(() => scanPoints(stream, model, { k: 3, query }), 'scanPoints');
              const scale = Math.max(Math.abs(raw[q]!), 1e-2);
              expect(Math.abs(s.keySum - raw[q]!) / scale, `${pname}/${ts} q=${q}`).to.be.below(1e-4);
              expect(Math.abs(raw[q]! - rawRef[q]!)).to.be.below(1e-5);
              // Per-point representer values agree with the reference for the top ones.
              const N = meta.N;
              const col = Array.from({ length: N }, (_, i) => (rvRef.data as Float64Array)[i * h * w + q]!);
              const best = Math.max(...col);
              if (n > 0) expect(Math.abs(s.top[0]!.key - best) / Math.abs(best)).to.be.below(1e-4);
            }
          } finally {
            stream.dispose();
          }
        }
      }
    });
  });
}
