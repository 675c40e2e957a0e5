// Class-wise optimisation (`uol fit --method optimize --classwise`) against the independent numpy/scipy reference
// (tools/ref_representers.py → spec/fixtures/representers/small/expected/classwise.json): for each class, the logistic
// optimum over that class's points only (its own c_k), and the class's closed form. Tolerances are stated per check.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readNpySync } from '../src/io/npy.js';
import { readLabelsCsv } from '../src/io/features-dir.js';
import { externalIdentity } from '../src/rps/node/features-pipeline.js';
import { PointStream } from '../src/rps/point-source.js';
import { featureDirSource } from '../src/rps/node/sources.js';
import { fitOptimized } from '../src/rps/optimize.js';
import { alphaModelFromPredictor, scanPoints } from '../src/rps/representers.js';
import { rawScores } from '../src/rps/activation.js';
import { decodePredictor, encodePredictor, type Predictor } from '../src/rps/predictor.js';
import { cosine, relL2 } from './helpers/compare.js';
import { expectNoLeak } from './helpers/leak.js';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';

const DIR = path.resolve('spec/fixtures/representers/small');
const FEATS = path.join(DIR, 'features');
const LABELS = path.join(DIR, 'labels.csv');
const meta = JSON.parse(readFileSync(path.join(DIR, 'expected/meta.json'), 'utf8')) as { channels: number; tests: string[]; params: Record<string, { lambda: number; scale: number; kappa: number }> };
interface RefClass {
  index: number;
  N: number;
  c: number;
  w_cf: number[];
  [param: string]: unknown;
}
const ref = JSON.parse(readFileSync(path.join(DIR, 'expected/classwise.json'), 'utf8')) as { classes: RefClass[] };
const backbone = externalIdentity(meta.channels);
const labels = readLabelsCsv(LABELS);

function row(p: Predictor, r: number): Float32Array {
  const C = p.weights.length;
  return p.perClassWeights!.subarray(r * C, (r + 1) * C);
}


describe('class-wise optimisation vs numpy/scipy reference (small fixture, classes 3 and 7)', function () {
  this.timeout(120_000);

  for (const pname of Object.keys(meta.params)) {
    it(`logistic (${pname}): each class's w_k, ‖w_k‖ and c_k match scipy on that class's points (rel. L2 ≤ 1e-4; c_k 1e-6); residual ≤ 1e-3; leak-free`, async () => {
      const P = meta.params[pname]!;
      const fit = await expectNoLeak(
        () => fitOptimized(featureDirSource(FEATS, { labels }), { backbone, loss: 'logistic', lambda: P.lambda, scale: P.scale, kappa: P.kappa, tol: 1e-6, topK: 4, classwise: true, batchPoints: 29 }),
        'fitOptimized classwise',
      );
      const p = fit.predictor;
      expect(p.classwise).to.equal(true);
      expect(p.classes.map((c) => c.index)).to.deep.equal(ref.classes.map((c) => c.index));
      const cw = fit.classwise!;
      expect(cw.converged, cw.stop).to.equal(true);
      ref.classes.forEach((rc, r) => {
        const rp = rc[pname] as { w_raw: number[]; wNorm: number };
        const got = cw.classes[r]!;
        expect(got.index).to.equal(rc.index);
        expect(got.points).to.equal(rc.N);
        expect(Math.abs(got.c - rc.c) / rc.c, `class ${rc.index} c`).to.be.below(1e-6);
        const wRef = rp.w_raw.map((x) => x / rp.wNorm);
        expect(relL2(row(p, r), wRef), `class ${rc.index} w`).to.be.below(1e-4);
        expect(Math.abs(got.wNorm - rp.wNorm) / rp.wNorm, `class ${rc.index} ‖w‖`).to.be.below(1e-4);
        expect(got.residual, `class ${rc.index} residual`).to.be.at.most(1e-3);
        expect(got.cosineToClosedForm).to.be.closeTo(cosine(wRef, rc.w_cf), 1e-4);
        console.log(
          `      class ${rc.index}: w rel L2 ${relL2(row(p, r), wRef).toExponential(1)}, ‖w‖ rel ${(Math.abs(got.wNorm - rp.wNorm) / rp.wNorm).toExponential(1)}, c rel ${(Math.abs(got.c - rc.c) / rc.c).toExponential(1)}, residual ${got.residual.toExponential(1)}`,
        );
      });
      // The global w is the plain fit's, untouched by the class-wise phase.
      const plain = await fitOptimized(featureDirSource(FEATS), { backbone, loss: 'logistic', lambda: P.lambda, scale: P.scale, kappa: P.kappa, tol: 1e-6, topK: 0, batchPoints: 29 });
      expect(relL2(p.weights, plain.predictor.weights)).to.be.below(1e-6);
    });
  }

  it('linear loss: each w_k is the class-wise closed form (cosine ≥ 0.9999; measured rel. L2 ≤ 1e-5)', async () => {
    const fit = await fitOptimized(featureDirSource(FEATS, { labels }), { backbone, loss: 'linear', topK: 0, classwise: true });
    ref.classes.forEach((rc, r) => {
      expect(cosine(row(fit.predictor, r), rc.w_cf)).to.be.at.least(0.9999);
      expect(relL2(row(fit.predictor, r), rc.w_cf)).to.be.below(1e-5);
    });
  });

  it('decomposition per class: Σ over class-k training points of α_i⟨f̂_i, f̂_q⟩ equals ⟨w_k, f̂_q⟩ (1e-4 relative to max(|score|, 0.01)), also after a save/load round trip', async () => {
    const P = meta.params.default!;
    const fit = await fitOptimized(featureDirSource(FEATS, { labels }), { backbone, loss: 'logistic', lambda: P.lambda, scale: P.scale, kappa: P.kappa, tol: 1e-6, topK: 0, classwise: true });
    const p = decodePredictor(encodePredictor(fit.predictor), 'roundtrip.json');
    const a = readNpySync(path.join(DIR, 'test', `${meta.tests[0]}.npy`));
    const [h, w, C] = a.shape as [number, number, number];
    for (const [r, cls] of p.classes.entries()) {
      const model = alphaModelFromPredictor(p, 'roundtrip.json', cls.index);
      expect(model.points).to.equal(ref.classes[r]!.N);
      const raw = tf.tidy(() => rawScores(tf.tensor4d(a.data as Float32Array, [1, h, w, C]), tf.tensor1d(row(p, r))).dataSync().slice());
      const stream = new PointStream(featureDirSource(FEATS, { labels }), { batchPoints: 31 });
      try {
        for (let q = 0; q < h * w; q++) {
          const f = (a.data as Float32Array).subarray(q * C, (q + 1) * C);
          const n = Math.hypot(...f);
          const query = n > 0 ? f.map((x) => x / n) : new Float32Array(C);
          const s = await scanPoints(stream, model, { k: 2, query });
          expect(Math.abs(s.keySum - raw[q]!) / Math.max(Math.abs(raw[q]!), 1e-2), `class ${cls.index} q=${q}`).to.be.below(1e-4);
          // Only class-k points carry α.
          for (const t of s.top) expect(labels.get(t.id)).to.equal(cls.index);
        }
      } finally {
        stream.dispose();
      }
    }
  });

  it('predictor file: a malformed class-wise block is refused naming the field', async () => {
    const fit = await fitOptimized(featureDirSource(FEATS, { labels }), { backbone, loss: 'logistic', topK: 0, classwise: true });
    const j = JSON.parse(encodePredictor(fit.predictor)) as { extras: { classwiseFit: { classes: { wNorm: unknown }[] } } };
    j.extras.classwiseFit.classes[1]!.wNorm = -2;
    const p = decodePredictor(JSON.stringify(j), 'bad.json');
    expect(() => alphaModelFromPredictor(p, 'bad.json', p.classes[1]!.index)).to.throw(/bad\.json: extras\.classwiseFit\.classes\[1\]\.wNorm: expected a finite number > 0, got -2/);
  });

  it('CLI: fit --classwise --method optimize (features), explain --class with --train-labels; missing labels exit 2', async () => {
    const dir = tmpDir();
    const out = path.join(dir, 'p.json');
    const r = await runCli(['fit', '--from-features', FEATS, '--labels', LABELS, '--classwise', '--method', 'optimize', '--out', out, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout) as { classwise: { classes: number; converged: boolean; maxRepresenterResidual: number } };
    expect(j.classwise.classes).to.equal(2);
    expect(j.classwise.converged).to.equal(true);
    expect(j.classwise.maxRepresenterResidual).to.be.at.most(1e-3);
    const ex = await runCli(['explain', 'data/cimg_parrot.jpg', '--predictor', out, '--features', path.join(DIR, 'test', `${meta.tests[0]}.npy`), '--train-features', FEATS, '--train-labels', LABELS, '--class', '7', '--out', path.join(dir, 'why'), '--json']);
    expect(ex.code, ex.stderr).to.equal(0);
    const explained = readFileSync(path.join(dir, 'why', 'explain.json'), 'utf8');
    const errs = [...explained.matchAll(/"decompositionError":\s*([0-9.eE+-]+)/g)].map((m) => Number(m[1]));
    expect(errs.length).to.be.above(0);
    for (const e of errs) expect(e).to.be.below(1e-4);
    const bad = await runCli(['fit', '--from-features', FEATS, '--classwise', '--method', 'optimize', '--out', path.join(dir, 'q.json')]);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/--classwise needs class labels: give --labels CSV/);
    const unl = await runCli(['explain', 'data/cimg_parrot.jpg', '--predictor', out, '--features', path.join(DIR, 'test', `${meta.tests[0]}.npy`), '--train-labels', LABELS, '--class', '7', '--out', path.join(dir, 'why2')]);
    expect(unl.code).to.equal(2);
    expect(unl.stderr).to.match(/--train-labels labels the stems of --train-features/);
  });

  it('image path: uol fit --dataset cub --classwise --method optimize on tiny-cub (real photos, embedded backbone)', async () => {
    const out = path.join(tmpDir(), 'p.json');
    const r = await runCli(['fit', '--dataset', 'cub', '--data-dir', 'data/tiny-cub', '--classwise', '--method', 'optimize', '--out', out, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout) as { images: number; converged: boolean; classwise: { classes: number; converged: boolean; maxRepresenterResidual: number; perClass: { images: number }[] } };
    expect(j.images).to.equal(6);
    expect(j.converged).to.equal(true);
    expect(j.classwise.classes).to.equal(6);
    expect(j.classwise.converged).to.equal(true);
    expect(j.classwise.maxRepresenterResidual).to.be.at.most(1e-3);
    expect(j.classwise.perClass.map((c) => c.images)).to.deep.equal([1, 1, 1, 1, 1, 1]);
    const p = decodePredictor(readFileSync(out, 'utf8'), out);
    expect(p.classwise).to.equal(true);
    expect(p.perClassWeights).to.have.length(6 * p.weights.length);
  });
});
