// Statistics in 7 shards merged equal one pass (identical predictor bytes); predictor round trip and refusals.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';
import { expectNoLeak } from './helpers/leak.js';
import { assertCompatible, decodePredictor, encodePredictor } from '../src/rps/predictor.js';
import { loadPredictor, savePredictor } from '../src/rps/node/predictor-file.js';
import { loadStatistics, mergeStatisticsFiles } from '../src/rps/node/statistics-file.js';
import { statisticsToJSON } from '../src/rps/node/statistics-json.js';
import { fitFromFeatures, statisticsFromFeatures } from '../src/rps/node/features-pipeline.js';
import { readLabelsCsv } from '../src/io/features-dir.js';

const DIR = path.resolve('spec/fixtures/rps/random');

/** Predictor bytes. */
function body(file: string): string {
  return readFileSync(file, 'utf8');
}

describe('shards and merge', () => {
  it('7 shards merged give the same predictor as one pass (class-wise, byte-identical)', async () => {
    const out = tmpDir();
    const feats = path.join(DIR, 'features');
    const labels = path.join(DIR, 'labels.csv');
    const one = path.join(out, 'one.json');
    let r = await runCli(['fit', '--from-features', feats, '--labels', labels, '--classwise', '--out', one, '--stats-out', path.join(out, 'one.stats.json')]);
    expect(r.code, r.stderr).to.equal(0);
    const shards: string[] = [];
    for (let i = 1; i <= 7; i++) {
      const s = path.join(out, `s${i}.json`);
      r = await runCli(['fit', '--from-features', feats, '--labels', labels, '--classwise', '--shard', `${i}/7`, '--out', s]);
      expect(r.code, r.stderr).to.equal(0);
      shards.push(s);
    }
    const merged = path.join(out, 'merged.json');
    r = await runCli(['merge', ...shards.reverse(), '--out', merged]);
    expect(r.code, r.stderr).to.equal(0);
    expect(body(merged)).to.equal(body(one));
    const ms = path.join(out, 'merged.stats.json');
    r = await runCli(['merge', ...shards, '--statistics', '--out', ms]);
    expect(r.code, r.stderr).to.equal(0);
    const a = statisticsToJSON(loadStatistics(ms).statistics);
    const b = statisticsToJSON(loadStatistics(path.join(out, 'one.stats.json')).statistics);
    expect(JSON.stringify(a.blocks)).to.equal(JSON.stringify(b.blocks));
  });

  it('refuses overlapping shards and shards of other backbones', async () => {
    const out = tmpDir();
    const feats = path.join(DIR, 'features');
    const s1 = path.join(out, 's1.json');
    expect((await runCli(['fit', '--from-features', feats, '--shard', '1/2', '--out', s1])).code).to.equal(0);
    let r = await runCli(['merge', s1, s1, '--out', path.join(out, 'm.json')]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/s1\.json: items \[0,4\) overlap/);
    const s2 = path.join(out, 's2.json');
    expect((await runCli(['fit', '--from-features', feats, '--shard', '2/2', '--backbone-id', 'other', '--out', s2])).code).to.equal(0);
    r = await runCli(['merge', s1, s2, '--out', path.join(out, 'm.json')]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/s2\.json: backbone other/);
    r = await runCli(['fit', '--from-features', feats, '--shard', '3/2', '--out', s2]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/--shard "3\/2"/);
  });

  it('statistics are leak-free and merge in memory', async () => {
    const labels = readLabelsCsv(path.join(DIR, 'labels.csv'));
    const s = await expectNoLeak(() => statisticsFromFeatures({ dir: path.join(DIR, 'features'), labels }), 'statisticsFromFeatures');
    const m = mergeStatisticsFiles([{ file: 'a', content: { meta: { backbone: { id: 'x', arch: 'x', featureLayer: 'x', channels: 64, stride: 1, input: { mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'bilinear', sizeMultiple: 1, minSize: 1, defaultSize: 224 } } }, statistics: s } }]);
    expect(m.statistics.global.images).to.equal(9);
  });
});

describe('predictor file', () => {
  it('loads back bit-identically; re-saving gives identical bytes', async () => {
    const { predictor } = await fitFromFeatures({ dir: path.join(DIR, 'features'), labels: readLabelsCsv(path.join(DIR, 'labels.csv')), classwise: true });
    const f = path.join(tmpDir(), 'p.json');
    savePredictor(predictor, f);
    const back = loadPredictor(f);
    expect(Buffer.from(back.weights.buffer).equals(Buffer.from(predictor.weights.buffer))).to.equal(true);
    expect(Buffer.from(back.perClassWeights!.buffer).equals(Buffer.from(predictor.perClassWeights!.buffer))).to.equal(true);
    expect(Buffer.from(back.statistics[1]!.sumF.buffer).equals(Buffer.from(predictor.statistics[1]!.sumF.buffer))).to.equal(true);
    expect(encodePredictor(back)).to.equal(readFileSync(f, 'utf8'));
  });

  it('refuses another version, another format and another backbone with clear errors', async () => {
    const { predictor } = await fitFromFeatures({ dir: path.join(DIR, 'features') });
    const text = encodePredictor(predictor);
    const j = JSON.parse(text) as Record<string, unknown>;
    j.version = 99;
    const f = path.join(tmpDir(), 'v99.json');
    writeFileSync(f, JSON.stringify(j));
    expect(() => loadPredictor(f)).to.throw(/v99\.json: predictor version 99 is not supported/);
    expect(() => decodePredictor('{"format":"x"}', 'x.json')).to.throw(/x\.json: not a uol-rps predictor/);
    expect(() => decodePredictor('{oops', 'y.json')).to.throw(/y\.json: not a predictor file/);
    expect(() => assertCompatible(predictor, { ...predictor.backbone, id: 'dino_vits16' }, 'p.json')).to.throw(/p\.json: predictor was fitted for another backbone \(backbone "external-features" vs "dino_vits16"\)/);
    expect(() => assertCompatible(predictor, { ...predictor.backbone, weightsSha256: 'aa', }, 'p.json')).to.not.throw();
    expect(() => assertCompatible({ ...predictor, backbone: { ...predictor.backbone, weightsSha256: 'bb' } }, { ...predictor.backbone, weightsSha256: 'aa' })).to.throw(/weights sha256/);
  });
});
