// Resumable, shardable fit over a batch source: interrupted + resumed and sharded runs give byte-identical statistics.
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fitStatistics, shardItemRange, type BatchSource, type InputBatch } from '../src/pipeline/fit.js';
import type { FeatureExtractor } from '../src/backbones/types.js';
import { FitStatistics } from '../src/rps/statistics.js';
import { expectNoLeak } from './helpers/leak.js';
import { tmpDir } from './helpers/tmp.js';
import { statisticsToJSON } from '../src/rps/node/statistics-json.js';

/** A fixed random conv "backbone": [B,16,16,3] → relu(conv 4×4 stride 4) [B,4,4,8]. */
function toyBackbone(): FeatureExtractor {
  const filter = tf.tensor4d(Float32Array.from({ length: 4 * 4 * 3 * 8 }, (_, i) => Math.sin(i * 12.9898) * 0.5), [4, 4, 3, 8]);
  return {
    identity: { id: 'toy', arch: 'toy', featureLayer: 'relu', channels: 8, stride: 4, input: { mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'bilinear', sizeMultiple: 4, minSize: 4, defaultSize: 16 } },
    extract: (x) => tf.tidy(() => tf.relu(tf.conv2d(x, filter, 4, 'valid'))),
    dispose: () => filter.dispose(),
  };
}

function toySource(total: number, batchSize: number): BatchSource {
  return {
    total,
    batchSize,
    async *batches(start: number, end: number): AsyncIterable<InputBatch> {
      for (let s = start; s < end; s += batchSize) {
        const n = Math.min(batchSize, end - s);
        const data = new Float32Array(n * 16 * 16 * 3);
        for (let i = 0; i < data.length; i++) data[i] = Math.abs(Math.sin((s * 768 + i) * 0.37));
        yield { start: s, count: n, ids: Array.from({ length: n }, (_, k) => `img${s + k}`), labels: Array.from({ length: n }, (_, k) => (s + k) % 3), input: tf.tensor4d(data, [n, 16, 16, 3]) };
      }
    },
  };
}

const bytes = (s: FitStatistics) => JSON.stringify(statisticsToJSON(s));

describe('fit pipeline (resumable, shardable)', () => {
  it('shard ranges cover all items in whole batches', () => {
    const rs = [1, 2, 3].map((i) => shardItemRange(23, 4, { index: i, count: 3 }));
    expect(rs[0]!.start).to.equal(0);
    expect(rs[2]!.end).to.equal(23);
    for (let i = 1; i < 3; i++) expect(rs[i]!.start).to.equal(rs[i - 1]!.end);
    for (const r of rs) expect(r.start % 4).to.equal(0);
  });

  it('an interrupted run resumes from its checkpoint and ends with identical statistics; shards merge to the same', async () => {
    const bb = toyBackbone();
    const src = toySource(23, 4);
    const one = await expectNoLeak(() => fitStatistics({ backbone: bb, source: src, classwise: true, fingerprint: 'f' }), 'fitStatistics');
    const ck = path.join(tmpDir(), 'fit.ckpt.json');
    let seen = 0;
    let failed = false;
    try {
      await fitStatistics({
        backbone: bb,
        source: src,
        classwise: true,
        fingerprint: 'f',
        checkpoint: { file: ck, everyBatches: 2 },
        onFeatures: () => {
          if (++seen === 5) throw new Error('simulated crash');
        },
      });
    } catch (e) {
      failed = (e as Error).message === 'simulated crash';
    }
    expect(failed).to.equal(true);
    expect(existsSync(ck)).to.equal(true);
    expect(tf.memory().numTensors).to.be.below(10);
    const resumed = await fitStatistics({ backbone: bb, source: src, classwise: true, fingerprint: 'f', checkpoint: { file: ck, everyBatches: 2 } });
    expect(resumed.resumed).to.equal(true);
    expect(resumed.batchesThisRun).to.equal(2); // batches 5 and 6 of 6: 4 were checkpointed
    expect(bytes(resumed.statistics)).to.equal(bytes(one.statistics));
    expect(existsSync(ck)).to.equal(false);
    const merged = new FitStatistics(8);
    for (let i = 1; i <= 3; i++) merged.merge((await fitStatistics({ backbone: bb, source: src, classwise: true, fingerprint: 'f', shard: { index: i, count: 3 } })).statistics);
    expect(bytes(merged)).to.equal(bytes(one.statistics));
    bb.dispose();
  });

  it('refuses a checkpoint of another fit', async () => {
    const bb = toyBackbone();
    const ck = path.join(tmpDir(), 'fit.ckpt.json');
    const src = toySource(8, 2);
    let n = 0;
    try {
      await fitStatistics({ backbone: bb, source: src, fingerprint: 'a', checkpoint: { file: ck, everyBatches: 1 }, onFeatures: () => { if (++n === 3) throw new Error('stop'); } });
    } catch {
      /* expected */
    }
    let msg = '';
    try {
      await fitStatistics({ backbone: bb, source: src, fingerprint: 'b', checkpoint: { file: ck, everyBatches: 1 } });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).to.match(/fit\.ckpt\.json: checkpoint belongs to a different fit/);
    bb.dispose();
  });
});

describe('record source (loader re-grouped into aligned batches)', () => {
  it('keeps batch k = records [kB,(k+1)B) with a skipped image, and shards agree with one pass', async () => {
    const { openDataset } = await import('../src/data/datasets/index.js');
    const { recordSource } = await import('../src/pipeline/sources.js');
    const { trainProtocol } = await import('../src/data/transforms.js');
    const { copyFileSync, writeFileSync } = await import('node:fs');
    const dir = tmpDir();
    const photos = ['skimage_chelsea.jpg', 'skimage_coffee.jpg', 'skimage_rocket.jpg', 'sklearn_flower.jpg', 'opencv_apple.jpg', 'darknet_eagle.jpg', 'cimg_parrot.jpg'];
    photos.forEach((f, i) => copyFileSync(path.join('data', f), path.join(dir, `${i}_${f}`)));
    writeFileSync(path.join(dir, '3b_broken.jpg'), 'not a jpeg');
    const ds = await openDataset('folder', { dataDir: dir });
    const records = await ds.records(ds.splits[0]!);
    expect(records).to.have.length(8);
    const bb = toyBackbone();
    const contract = bb.identity.input;
    const src = recordSource({ records, protocol: trainProtocol(16), contract, batchSize: 3, skipBad: true, workers: 0 });
    const seen: { start: number; count: number; n: number }[] = [];
    const one = await expectNoLeak(
      () => fitStatistics({ backbone: bb, source: src, fingerprint: 'x', onFeatures: (b) => void seen.push({ start: b.start, count: b.count, n: b.ids.length }) }),
      'fitStatistics over records',
    );
    expect(seen.map((s) => s.start)).to.deep.equal([0, 3, 6]);
    expect(seen.map((s) => s.count)).to.deep.equal([3, 3, 2]);
    expect(seen.map((s) => s.n)).to.deep.equal([3, 2, 2]);
    expect(src.skipped.map((s) => path.basename(s.file ?? ''))).to.deep.equal(['3b_broken.jpg']);
    expect(one.statistics.global.images).to.equal(7);
    const merged = new FitStatistics(8);
    for (let i = 1; i <= 2; i++) {
      const s2 = recordSource({ records, protocol: trainProtocol(16), contract, batchSize: 3, skipBad: true, workers: 0 });
      merged.merge((await fitStatistics({ backbone: bb, source: s2, fingerprint: 'x', shard: { index: i, count: 2 } })).statistics);
    }
    expect(bytes(merged)).to.equal(bytes(one.statistics));
    bb.dispose();
  });
});
