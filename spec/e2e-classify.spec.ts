// Top-1/Top-5 Loc and class-wise fits with a classifier, end to end on tiny-cub (real photos, embedded backbone): a tiny
// random-weight CUB ResNet in the release's layout (spec/fixtures/classify, checked against PyTorch in classify.spec.ts)
// converted with `uol convert-classifier`; `uol evaluate --cls-network` gives the same Top-k Loc as `--predictions` with
// the classifier's scores; `uol fit --classwise --cls-network` takes the classes from the classifier's argmax (as the
// release's load_param). Leak-checked; bad combinations exit 2 naming the option.
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';
import { expectNoLeak } from './helpers/leak.js';
import { loadClassifier } from '../src/classify/registry.js';
import { classifyRecords, classifierDatasetOf } from '../src/classify/run.js';
import { openDataset } from '../src/data/datasets/index.js';
import { loadBatches } from '../src/data/loader.js';
import { classRank } from '../src/classify/ranks.js';

const CUB = path.join('data', 'tiny-cub');
const FIX = path.join('spec', 'fixtures', 'classify');


/** A class-score CSV (header + one row per record: the classifier's logits, in the release's transform for CUB). */
async function scoreLines(c: Awaited<ReturnType<typeof loadClassifier>>, records: Parameters<typeof loadBatches>[0]['records']): Promise<string[]> {
  const lines = [['image_id', ...Array.from({ length: 10 }, (_, k) => `score_${k}`)].join(',')];
  const loader = loadBatches({ records, protocol: c.inputTransform('cub'), contract: c.identity.input, batchSize: 1 });
  for await (const b of loader) {
    const y = c.classify(b.input);
    lines.push([b.records[0]!.id, ...Array.from(await y.data()).map(String)].join(','));
    y.dispose();
    b.input.dispose();
  }
  return lines;
}

describe('classifiers end to end (tiny-cub)', function () {
  this.timeout(300_000);
  const dir = tmpDir('uol-e2e-cls-');
  const cls = path.join(dir, 'cub-tiny-classifier');
  const pred = path.join(dir, 'p.json');
  const json = <T>(s: string): T => JSON.parse(s) as T;

  before(async () => {
    const c = await runCli(['convert-classifier', 'cub_resnet50', path.join(FIX, 'cub_resnet50.pth.tar'), '--arch-config', '{"layers":[1,1,1,1],"width":4}', '--classes', '10', '--out', cls, '--json']);
    expect(c.code, c.stderr).to.equal(0);
    const f = await runCli(['fit', '--dataset', 'cub', '--data-dir', CUB, '--out', pred]);
    expect(f.code, f.stderr).to.equal(0);
  });

  it('classifyRecords: ranks from logits under the release transform (Resize((448,448))), no leak', async () => {
    const ds = await openDataset('cub', { dataDir: CUB });
    expect(classifierDatasetOf(ds)).to.equal('cub');
    const recs = await ds.records('test');
    const c = await loadClassifier('cub_resnet50', cls);
    try {
      const { results } = await expectNoLeak(() => classifyRecords({ classifier: c, records: recs, dataset: 'cub', batchSize: 3 }), 'classifyRecords');
      // The same numbers from the logits of a plain pass over the same batches.
      const loader = loadBatches({ records: recs, protocol: c.inputTransform('cub'), contract: c.identity.input, batchSize: 1 });
      for await (const b of loader) {
        const y = c.classify(b.input);
        const row = Array.from(await y.data());
        y.dispose();
        b.input.dispose();
        const r = results.get(b.records[0]!.id)!;
        expect(r.rank).to.equal(classRank(row, b.records[0]!.label!));
        expect(r.predicted).to.equal(row.indexOf(Math.max(...row)));
        expect(b.input.shape).to.deep.equal([1, 448, 448, 3]);
      }
    } finally {
      c.dispose();
    }
  });

  it('uol evaluate --cls-network equals --predictions with its scores (release and wsol Top-1/Top-5); no leak', async () => {
    const ev = path.join(dir, 'ev');
    const before = tf.memory().numTensors;
    const r = await runCli(['evaluate', '--predictor', pred, '--dataset', 'cub', '--data-dir', CUB, '--no-store-threshold', '--cls-network', 'ResNet50', '--cls-weights', cls, '--out', ev, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    expect(tf.memory().numTensors, 'tensors leaked by evaluate --cls-network').to.equal(before);
    const a = json<{ top1Loc: number; top5Loc: number }>(r.stdout);
    expect(a.top1Loc).to.be.a('number');
    expect(a.top5Loc).to.be.at.least(a.top1Loc);
    const res = json<{ splits: Record<string, { release: { top1Loc: number; top5Loc: number } }> }>(readFileSync(path.join(ev, 'results.json'), 'utf8'));
    // Scores CSV from the classifier's logits, keyed by record id.
    const ds = await openDataset('cub', { dataDir: CUB });
    const recs = await ds.records('test');
    const c = await loadClassifier('cub_resnet50', cls);
    let lines: string[];
    try {
      lines = await scoreLines(c, recs);
    } finally {
      c.dispose();
    }
    const csv = path.join(dir, 'scores.csv');
    writeFileSync(csv, lines.join('\n') + '\n');
    const ev2 = path.join(dir, 'ev2');
    const p = await runCli(['evaluate', '--predictor', pred, '--dataset', 'cub', '--data-dir', CUB, '--no-store-threshold', '--predictions', csv, '--out', ev2, '--json']);
    expect(p.code, p.stderr).to.equal(0);
    const b = json<{ top1Loc: number; top5Loc: number }>(p.stdout);
    expect([b.top1Loc, b.top5Loc]).to.deep.equal([a.top1Loc, a.top5Loc]);
    const res2 = json<typeof res>(readFileSync(path.join(ev2, 'results.json'), 'utf8'));
    expect(res2.splits.test!.release).to.deep.equal(res.splits.test!.release);
  });

  it('uol fit --classwise --cls-network: classes = the classifier argmax on the training images; --predictions gives the same predictor', async () => {
    const ds = await openDataset('cub', { dataDir: CUB });
    const train = await ds.records('train');
    const c = await loadClassifier('cub_resnet50', cls);
    let predicted: Map<string, { predicted: number }>;
    let lines: string[];
    try {
      predicted = (await classifyRecords({ classifier: c, records: train, dataset: 'cub' })).results;
      lines = await scoreLines(c, train);
    } finally {
      c.dispose();
    }
    const cw = path.join(dir, 'cw.json');
    const before = tf.memory().numTensors;
    const r = await runCli(['fit', '--dataset', 'cub', '--data-dir', CUB, '--classwise', '--cls-network', 'cub_resnet50', '--cls-weights', cls, '--out', cw, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    expect(tf.memory().numTensors, 'tensors leaked by fit --cls-network').to.equal(before);
    const p = json<{ classes: { index: number }[]; created: { source: string } }>(readFileSync(cw, 'utf8'));
    const want = [...new Set([...predicted.values()].map((x) => x.predicted))].sort((x, y) => x - y);
    expect(p.classes.map((k) => k.index).sort((x, y) => x - y)).to.deep.equal(want);
    expect(p.created.source).to.match(/classes predicted by cub_resnet50/);
    const csv = path.join(dir, 'train-scores.csv');
    writeFileSync(csv, lines.join('\n') + '\n');
    const cw2 = path.join(dir, 'cw2.json');
    const r2 = await runCli(['fit', '--dataset', 'cub', '--data-dir', CUB, '--classwise', '--predictions', csv, '--out', cw2, '--json']);
    expect(r2.code, r2.stderr).to.equal(0);
    const p2 = json<{ perClassWeights?: unknown; classes: unknown }>(readFileSync(cw2, 'utf8'));
    const p1 = json<{ perClassWeights?: unknown; classes: unknown }>(readFileSync(cw, 'utf8'));
    expect(p2.classes).to.deep.equal(p1.classes);
    expect(JSON.stringify(p2.perClassWeights)).to.equal(JSON.stringify(p1.perClassWeights));
  });

  it('bad combinations exit 2 naming the option', async () => {
    const cases: [string[], RegExp][] = [
      [['evaluate', '--predictor', pred, '--dataset', 'cub', '--data-dir', CUB, '--cls-weights', cls], /--cls-weights needs --cls-network NAME/],
      [['evaluate', '--predictor', pred, '--dataset', 'cub', '--data-dir', CUB, '--cls-network', 'cub_resnet50'], /--cls-network cub_resnet50: give its weights with --cls-weights/],
      [['evaluate', '--predictor', pred, '--dataset', 'cub', '--data-dir', CUB, '--cls-network', 'EfficientNetB7', '--cls-weights', cls], /EfficientNet is not ported; .*--predictions/],
      [['evaluate', '--predictor', pred, '--dataset', 'cub', '--data-dir', CUB, '--cls-network', 'dino_vits8_linear', '--cls-weights', cls], /holds classifier "cub_resnet50", not "dino_vits8_linear"/],
      [['evaluate', '--scoremaps', dir, '--metadata', dir, '--cls-network', 'cub_resnet50', '--cls-weights', cls], /--cls-network runs on images/],
      [['fit', '--dataset', 'cub', '--data-dir', CUB, '--cls-network', 'cub_resnet50', '--cls-weights', cls, '--out', path.join(dir, 'x.json')], /add --classwise/],
      [['convert-classifier', 'cub_resnet50', path.join(FIX, 'cub_resnet50.pth.tar'), '--out', path.join(dir, 'y')], /cub_resnet50\.pth\.tar: missing tensors "layer1\.1\.conv1\.weight".*tensor "conv1\.weight" has shape \[4,3,7,7\], expected \[64,3,7,7\].*prefix "module\.base_model\."/],
    ];
    for (const [args, re] of cases) {
      const r = await runCli(args);
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).to.equal(2);
      expect(r.stderr, args.join(' ')).to.match(re);
    }
  });
});
