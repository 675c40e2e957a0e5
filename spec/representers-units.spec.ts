// Building blocks of the representer path: losses (derivative vs tf.grad), bounded top-K, the point stream (cache vs
// streaming, batching), L-BFGS, budgets, the image-path source, predictor storage of representer points, fit CLI
// bad inputs.
import { expect } from 'chai';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { getLoss, LOSS_NAMES } from '../src/rps/losses.js';
import { TopK, storedRepresenters } from '../src/rps/representers.js';
import { PointStream, type TrainingSource } from '../src/rps/point-source.js';
import { extractorSource, featureDirSource } from '../src/rps/node/sources.js';
import { minimizeLbfgs } from '../src/rps/lbfgs.js';
import { addRepresenters, fitOptimized } from '../src/rps/optimize.js';
import { explainImage } from '../src/rps/node/explain-image.js';
import { fitFromFeatures } from '../src/rps/node/features-pipeline.js';
import { externalIdentity } from '../src/rps/node/features-pipeline.js';
import { decodePredictor, encodePredictor } from '../src/rps/predictor.js';
import type { FeatureExtractor } from '../src/backbones/types.js';
import { expectNoLeak } from './helpers/leak.js';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';
import { relL2 } from './helpers/compare.js';

const SMALL = path.resolve('spec/fixtures/representers/small/features');

describe('representer path: building blocks', () => {
  it('losses: ∂L/∂ŷ equals tf.grad of L (both losses), labels follow the documented formulas', async () => {
    const norms = tf.tensor2d([0, 10, 50, 57.3, 80, 200], [6, 1]);
    const yhat = tf.tensor2d([-0.9, -0.2, 0, 0.1, 0.5, 0.95], [6, 1]);
    const p = { c: 57.3, kappa: 5, scale: 2.5 };
    for (const name of LOSS_NAMES) {
      const loss = getLoss(name);
      const labels = loss.labels(norms, p);
      const analytic = loss.derivative(yhat, labels, p);
      const auto = tf.grad((y: tf.Tensor) => tf.sum(loss.value(y as tf.Tensor2D, labels, p)))(yhat);
      const a = await analytic.data();
      const b = await auto.data();
      for (let i = 0; i < 6; i++) expect(a[i]!, `${name}[${i}]`).to.be.closeTo(b[i]!, 1e-5);
      const lab = await labels.data();
      const n = [0, 10, 50, 57.3, 80, 200];
      for (let i = 0; i < 6; i++) {
        const m = n[i]! / 57.3 - 1;
        expect(lab[i]!).to.be.closeTo(name === 'linear' ? m : 1 / (1 + Math.exp(-5 * m)), 1e-6);
      }
      tf.dispose([labels, analytic, auto]);
    }
    tf.dispose([norms, yhat]);
    expect(() => getLoss('hinge')).to.throw(/unknown loss "hinge"/);
  });

  it('TopK keeps exactly the K largest keys, earlier entries winning ties', () => {
    let s = 3;
    const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    const keys = Array.from({ length: 500 }, () => Math.round(rand() * 50) / 10);
    const t = new TopK<number>(17);
    keys.forEach((k, i) => t.offer(k, i, () => i));
    const want = keys.map((k, i) => [k, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 17).map((x) => x[1]);
    expect(t.sorted()).to.deep.equal(want);
    const z = new TopK<number>(0);
    z.offer(1, 0, () => 0);
    expect(z.size).to.equal(0);
  });

  it('PointStream: cached and streamed passes see the same points; any batching gives the same optimum', async () => {
    const sums: number[][] = [];
    for (const cacheBytes of [0, 1 << 30]) {
      const st = new PointStream(featureDirSource(SMALL), { batchPoints: 23, cacheBytes });
      for (let pass = 0; pass < 2; pass++) {
        let s = 0;
        let n = 0;
        const info = await st.pass(async (b) => {
          s += (await tf.sum(b.norms).data())[0]!;
          n += b.size;
          expect(b.items.reduce((a, it) => a + it.count, 0)).to.equal(b.size);
        });
        expect(info.cached).to.equal(cacheBytes > 0 && pass === 1);
        sums.push([s, n]);
      }
      st.dispose();
    }
    for (const x of sums) {
      expect(x[1]).to.equal(77);
      expect(x[0]).to.be.closeTo(sums[0]![0]!, 1e-3);
    }
    const ws: Float32Array[] = [];
    for (const batchPoints of [1, 20, 100000]) {
      const r = await fitOptimized(featureDirSource(SMALL), { backbone: externalIdentity(24), batchPoints, cacheBytes: batchPoints === 20 ? 0 : undefined, topK: 0 });
      ws.push(r.predictor.weights);
    }
    expect(relL2(ws[0]!, ws[2]!)).to.be.below(1e-5);
    expect(relL2(ws[1]!, ws[2]!)).to.be.below(1e-5);
  });

  it('PointStream: empty and mixed-C sources are usage errors; disposing releases the cache', async () => {
    const empty: TrainingSource = async function* () {};
    const st = new PointStream(empty);
    let err: unknown;
    await st.pass(() => undefined).catch((e) => (err = e));
    expect(String(err)).to.match(/source is empty/);
    const mixed: TrainingSource = async function* () {
      yield { id: 'a', features: { shape: [1, 2, 4], data: new Float32Array(8).fill(1) } };
      yield { id: 'b', features: { shape: [1, 2, 3], data: new Float32Array(6).fill(1) } };
    };
    err = undefined;
    await new PointStream(mixed).pass(() => undefined).catch((e) => (err = e));
    expect(String(err)).to.match(/b: has 3 channels but earlier items have 4/);
    await expectNoLeak(async () => {
      const s2 = new PointStream(featureDirSource(SMALL));
      await s2.pass(() => undefined);
      await s2.pass(() => undefined);
      s2.dispose();
    }, 'PointStream');
  });

  it('L-BFGS: exact minimiser of a convex quadratic; budgets stop it with the reason', async () => {
    const A = [4, 1, 0.5, 0.1, 0.01];
    const b = [1, -2, 3, -4, 5];
    const fg = async (x: Float64Array) => {
      let f = 0;
      const g = new Float64Array(5);
      for (let i = 0; i < 5; i++) {
        f += 0.5 * A[i]! * x[i]! * x[i]! - b[i]! * x[i]!;
        g[i] = A[i]! * x[i]! - b[i]!;
      }
      return { f, g };
    };
    const r = await minimizeLbfgs(fg, new Float64Array(5), { maxEvaluations: 200, converged: (_x, e) => Math.hypot(...e.g) < 1e-10 });
    expect(r.stop).to.equal('converged');
    for (let i = 0; i < 5; i++) expect(r.x[i]!).to.be.closeTo(b[i]! / A[i]!, 1e-8);
    const r2 = await minimizeLbfgs(fg, new Float64Array(5), { maxEvaluations: 3, converged: () => false });
    expect(r2.stop).to.equal('max-evaluations');
    expect(r2.evaluations).to.equal(3);
    const r3 = await minimizeLbfgs(fg, new Float64Array(5), { maxEvaluations: 100, maxSeconds: 0, converged: () => false });
    expect(r3.stop).to.equal('max-seconds');
    // A gradient with a noise floor of 1e-6: the run ends as `stalled` near the floor instead of burning the budget.
    let k = 0;
    const noisy = async (x: Float64Array) => {
      const e = await fg(x);
      for (let i = 0; i < 5; i++) e.g[i]! += 1e-6 * Math.sin(++k * 7.1);
      return e;
    };
    const norm = (e: { g: Float64Array }) => Math.hypot(...e.g);
    const r4 = await minimizeLbfgs(noisy, new Float64Array(5), { maxEvaluations: 1000, converged: (_x, e) => norm(e) < 1e-12, measure: (_x, e) => norm(e), stallIterations: 10 });
    expect(r4.stop).to.equal('stalled');
    expect(r4.evaluations).to.be.below(200);
    for (let i = 0; i < 5; i++) expect(r4.x[i]!).to.be.closeTo(b[i]! / A[i]!, 1e-3);
  });

  it('fitOptimized: the pass budget stops a logistic fit that has not converged, and says so', async () => {
    const r = await fitOptimized(featureDirSource(SMALL), { backbone: externalIdentity(24), maxPasses: 5, topK: 0 });
    expect(r.converged).to.equal(false);
    expect(r.stop).to.equal('max-evaluations');
    expect(r.passes).to.be.at.most(5);
    expect(r.predictor.method.params!.converged).to.equal(false);
    expect(r.residual).to.be.above(1e-6);
  });

  it('extractorSource (image path integration point): real photos through a feature extractor, leak-free', async () => {
    // A small frozen conv net stands in for a backbone here; the registry plugs real ones into the same interface.
    const k = tf.tensor4d(Array.from({ length: 4 * 4 * 3 * 16 }, (_, i) => Math.sin(i * 12.9898) * 0.5), [4, 4, 3, 16]);
    const extractor: FeatureExtractor = {
      identity: { ...externalIdentity(16, 'toy-conv'), stride: 32, input: { ...externalIdentity(16).input, defaultSize: 64 } },
      extract: (x) => tf.tidy(() => tf.relu(tf.conv2d(tf.avgPool(x, 8, 8, 'valid'), k, 1, 'same'))),
      dispose: () => k.dispose(),
    };
    const files = ['skimage_coffee.jpg', 'skimage_rocket.jpg', 'sklearn_flower.jpg'].map((f) => path.resolve('data', f));
    const r = await expectNoLeak(() => fitOptimized(extractorSource(extractor, files), { backbone: extractor.identity, topK: 3 }), 'fitOptimized(extractorSource)');
    expect(r.converged, `${r.stop} after ${r.passes} passes, residual ${r.residual}`).to.equal(true);
    expect(r.residual).to.be.below(1e-4);
    expect(r.statistics.global.points).to.equal(3 * 8 * 8);
    expect(r.representers.excitatory[0]!.imageFile).to.be.oneOf(files);
    expect(r.representers.excitatory[0]!.inputSize).to.deep.equal([64, 64]);
    // explainImage: the same extractor on a test photo; the stored points carry their image files.
    const ex = await expectNoLeak(() => explainImage(extractor, path.resolve('data/skimage_chelsea.jpg'), { predictor: r.predictor, region: { kind: 'box' }, top: 2 }), 'explainImage');
    expect(ex.image.width).to.equal(451);
    expect(ex.result.test.grid).to.deep.equal([8, 8]);
    expect(ex.result.test.imageSize).to.deep.equal([300, 451]);
    expect(ex.result.mode).to.equal('stored');
    const exExact = await expectNoLeak(
      () => explainImage(extractor, path.resolve('data/skimage_chelsea.jpg'), { predictor: r.predictor, region: { kind: 'box' }, top: 2, training: extractorSource(extractor, files) }),
      'explainImage (exact)',
    );
    expect(exExact.result.decompositionError!).to.be.below(1e-3);
    extractor.dispose();
  });

  it('addRepresenters: a closed-form predictor gains exact top-K points and its residual (α from the statistics)', async () => {
    const { predictor } = await fitFromFeatures({ dir: SMALL });
    const r = await expectNoLeak(() => addRepresenters(predictor, featureDirSource(SMALL), { topK: 4 }), 'addRepresenters');
    expect(r.representers.residual).to.be.below(1e-5);
    expect(r.predictor.method.name).to.equal('closed-form');
    expect(r.predictor.method.representerResidual).to.equal(r.representers.residual);
    const norms = r.representers.excitatory.map((p) => p.norm);
    expect(norms).to.deep.equal([...norms].sort((a, b) => b - a)); // linear loss: α ∝ ‖f‖ − c, so largest norms first
    let err: unknown;
    await addRepresenters(predictor, featureDirSource(path.resolve('spec/fixtures/representers/wide/features')), { topK: 2 }).catch((e) => (err = e));
    expect(String(err)).to.match(/384 channels but the predictor has 24/);
  });

  it('representer points survive the predictor file; malformed blocks are refused', async () => {
    const r = await fitOptimized(featureDirSource(SMALL), { backbone: externalIdentity(24), topK: 3 });
    const p = decodePredictor(encodePredictor(r.predictor));
    const s = storedRepresenters(p)!;
    expect(s.excitatory.map((x) => [x.id, x.row, x.col, x.alpha])).to.deep.equal(r.representers.excitatory.map((x) => [x.id, x.row, x.col, x.alpha]));
    expect(Array.from(s.inhibitory[0]!.feature)).to.deep.equal(Array.from(r.representers.inhibitory[0]!.feature));
    p.extras = { representers: { format: 'uol-rps-representers', version: 1, excitatory: [{ id: 'x', grid: [1, 1], row: 0, col: 0, alpha: 1, norm: 1, feature: 'AAAA' }] } };
    expect(() => storedRepresenters(p, 'p.json')).to.throw(/p\.json: extras\.representers\.excitatory\[0\]: feature has 3 bytes, expected 96/);
  });

  it('uol fit --method optimize: bad options exit 2 and leave no predictor', async () => {
    const bad: [string[], RegExp][] = [
      [['--lambda', '0'], /--lambda 0/],
      [['--max-passes', '2'], /--max-passes 2/],
      [['--top-k', '-1'], /--top-k -1/],
      [['--kappa', '-3'], /--kappa -3/],
      [['--loss', 'hinge'], /Invalid values|loss/],
      [['--classwise', '--labels', path.resolve('spec/fixtures/rps/random/labels.csv')], /no label for stem "\w+" in .*labels\.csv/],
      [['--shard', '1/2'], /--shard/],
      [['--train-images', path.join(tmpDir(), 'none')], /none: cannot read image map/],
      [['--train-size', '224'], /--train-size "224"/],
    ];
    for (const [extra, re] of bad) {
      const out = path.join(tmpDir(), 'p.json');
      const r = await runCli(['fit', '--from-features', SMALL, '--method', 'optimize', '--out', out, ...extra]);
      expect(r.code, `${extra.join(' ')}: ${r.stderr}`).to.equal(2);
      expect(r.stderr).to.match(re);
      expect(existsSync(out)).to.equal(false);
      expect(readdirSync(path.dirname(out))).to.deep.equal([]);
    }
    // An optimised predictor localises like any other.
    const good = path.join(tmpDir(), 'good.json');
    let r = await runCli(['fit', '--from-features', SMALL, '--method', 'optimize', '--out', good]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/converged after \d+ iterations/);
    const maps = tmpDir();
    r = await runCli(['localize', '--predictor', good, '--from-features', SMALL, '--size', '8,8', '--out', maps]);
    expect(r.code, r.stderr).to.equal(0);
    expect(readdirSync(maps).filter((f) => f.endsWith('.npy'))).to.have.length(5);
    const out = path.join(tmpDir(), 'p.json');
    r = await runCli(['fit', '--from-features', SMALL, '--method', 'optimize', '--max-passes', '5', '--out', out, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout);
    expect(j.converged).to.equal(false);
    expect(j.stop).to.equal('max-evaluations');
    expect(j.representerResidual).to.be.a('number');
  });
});
