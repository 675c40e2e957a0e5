// The method's core against the independent numpy reference (tools/ref_rps.py, fixtures in spec/fixtures/rps).
// Tolerances: w* relative L2 ≤ 1e-5; maps (values in [0,1]) max abs ≤ 1e-5.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { readNpySync, writeNpySync } from '../src/io/npy.js';
import { readLabelsCsv } from '../src/io/features-dir.js';
import { fitFromFeatures, localizeFromFeatures } from '../src/rps/node/features-pipeline.js';
import { loadPredictor } from '../src/rps/node/predictor-file.js';
import { maxAbsDiff, relL2 } from './helpers/compare.js';
import { expectNoLeak } from './helpers/leak.js';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';

const ROOT = path.resolve('spec/fixtures/rps');

interface Meta {
  size: [number, number];
  channels: number;
  images: number;
  points?: number;
  c?: number;
  classes?: number[];
}

for (const name of ['random', 'realistic2048', 'realistic384']) {
  describe(`rps core vs numpy reference: ${name}`, () => {
    const dir = path.join(ROOT, name);
    const meta = JSON.parse(readFileSync(path.join(dir, 'expected/meta.json'), 'utf8')) as Meta;
    const labels = readLabelsCsv(path.join(dir, 'labels.csv'));

    it('global and class-wise w* match to 1e-5 (relative L2); counts and c agree', async () => {
      const { predictor, statistics } = await expectNoLeak(() => fitFromFeatures({ dir: path.join(dir, 'features'), labels, classwise: true }), 'fitFromFeatures');
      const w = readNpySync(path.join(dir, 'expected/w.npy')).data;
      expect(relL2(predictor.weights, w)).to.be.below(1e-5);
      expect(statistics.global.points).to.equal(meta.points);
      expect(statistics.global.images).to.equal(meta.images);
      expect(Math.abs(predictor.statistics[0]!.c - meta.c!) / meta.c!).to.be.below(1e-6);
      const wc = readNpySync(path.join(dir, 'expected/w_class.npy'));
      expect(predictor.classes.map((c) => c.index)).to.deep.equal(meta.classes);
      const C = meta.channels;
      meta.classes!.forEach((_, row) => {
        const got = predictor.perClassWeights!.subarray(row * C, (row + 1) * C);
        const exp = wc.data.subarray(row * C, (row + 1) * C);
        expect(relL2(got, exp), `class row ${row}`).to.be.below(1e-5);
      });
    });

    it('maps, class-wise maps and CAAM maps match to 1e-5 through the CLI', async () => {
      const out = tmpDir();
      const pred = path.join(out, 'p.json');
      let r = await runCli(['fit', '--from-features', path.join(dir, 'features'), '--labels', path.join(dir, 'labels.csv'), '--classwise', '--out', pred]);
      expect(r.code, r.stderr).to.equal(0);
      const size = meta.size.join(',');
      const cases: [string, string[]][] = [
        ['maps', []],
        ['cmaps', ['--labels', path.join(dir, 'labels.csv')]],
        ['caam', ['--caam']],
      ];
      for (const [sub, extra] of cases) {
        const od = path.join(out, sub);
        r = await runCli(['localize', '--predictor', pred, '--from-features', path.join(dir, 'features'), '--size', size, '--out', od, ...extra]);
        expect(r.code, r.stderr).to.equal(0);
        for (const stem of labels.keys()) {
          const got = readNpySync(path.join(od, `${stem}.npy`));
          const exp = readNpySync(path.join(dir, 'expected', sub, `${stem}.npy`));
          expect(got.dtype).to.equal('float32');
          expect(got.shape).to.deep.equal(meta.size);
          expect(maxAbsDiff(got.data, exp.data), `${sub}/${stem}`).to.be.below(1e-5);
          expect(Math.min(...got.data)).to.be.at.least(0);
          expect(Math.max(...got.data)).to.be.at.most(1);
        }
      }
    });
  });
}

describe('rps core: degenerate inputs', () => {
  it('constant feature maps give all-zero maps, not NaN (CAAM reference)', async () => {
    const dir = path.join(ROOT, 'constant');
    const out = tmpDir();
    const res = await expectNoLeak(
      () => localizeFromFeatures({ dir: path.join(dir, 'features'), size: [8, 8], outDir: out, caam: true }),
      'localizeFromFeatures',
    );
    expect(res.maps).to.have.length(2);
    for (const f of res.maps) {
      const got = readNpySync(f);
      const exp = readNpySync(path.join(dir, 'expected/caam', path.basename(f)));
      expect(maxAbsDiff(got.data, exp.data)).to.equal(0);
    }
  });

  it('fit on identical-norm features (v ∥ u) fails with a clear message', async () => {
    const d = tmpDir();
    const f = new Float32Array(3 * 3 * 16);
    for (let i = 0; i < f.length; i++) f[i] = (i % 16) / 7;
    writeNpySync(path.join(d, 'one.npy'), f, [3, 3, 16]);
    const r = await runCli(['fit', '--from-features', d, '--out', path.join(tmpDir(), 'p.json')]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/parallel|same norm/);
  });

  it('a predictor loads back bit-identically', async () => {
    const out = tmpDir();
    const pred = path.join(out, 'p.json');
    const r = await runCli(['fit', '--from-features', path.join(ROOT, 'random/features'), '--out', pred]);
    expect(r.code, r.stderr).to.equal(0);
    const p = loadPredictor(pred);
    expect(p.weights).to.be.instanceOf(Float32Array);
  });
});
