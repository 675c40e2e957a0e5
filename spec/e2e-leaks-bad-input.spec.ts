// Leak tests of the job-level entry points, and bad input to the image-path commands: exit 2 naming the file or value.
import { expect } from 'chai';
import { writeFileSync, copyFileSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_BACKBONE, loadBackbone } from '../src/backbones/node/registry.js';
import { openDataset } from '../src/data/datasets/index.js';
import { evaluateDataset } from '../src/pipeline/evaluate.js';
import { runAblation } from '../src/pipeline/ablate.js';
import { fitOnRecords } from '../src/pipeline/fit-run.js';
import { metricSummary } from '../src/cli/commands/evaluate-predictor.js';
import { expectNoLeak } from './helpers/leak.js';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';

const CUB = path.resolve('data/tiny-cub');

describe('job entry points do not leak tensors', function () {
  this.timeout(120_000);

  it('evaluateDataset and runAblation', async () => {
    const backbone = await loadBackbone(DEFAULT_BACKBONE);
    try {
      const ds = await openDataset('cub', { dataDir: CUB });
      const train = await ds.records('train');
      const { predictor } = await fitOnRecords({ backbone, records: train.slice(0, 2), sourceDescription: 't', listingHash: 't', tool: 't' });
      const r = await expectNoLeak(() => evaluateDataset({ backbone, predictor, dataset: ds, limit: 2 }), 'evaluateDataset');
      expect(r.test.images).to.equal(2);
      const rows = await expectNoLeak(
        () =>
          runAblation({
            backbones: [{ name: 'embedded', load: async () => loadBackbone(DEFAULT_BACKBONE) }],
            fitRecords: train.slice(0, 2),
            fitDescription: 't',
            caam: true,
            cacheDir: tmpDir(),
            tool: 't',
            evaluate: async (bb, p) => {
              const e = await evaluateDataset({ backbone: bb, ...(p ? { predictor: p } : { caam: true }), dataset: ds, limit: 2 });
              return { metrics: metricSummary(e.test.boxes), protocol: e.protocol };
            },
          }),
        'runAblation',
      );
      expect(rows.map((x) => x.method)).to.deep.equal(['RPS', 'CAAM']);
    } finally {
      backbone.dispose();
    }
  });
});

describe('image-path commands: bad input exits 2 naming the culprit', function () {
  this.timeout(120_000);

  async function fails(args: string[], re: RegExp): Promise<void> {
    const r = await runCli(args);
    expect(r.code, r.stdout + r.stderr).to.equal(2);
    expect(r.stderr).to.match(re);
  }

  it('fit', async () => {
    const out = path.join(tmpDir(), 'p.json');
    await fails(['fit', '--out', out], /give --images/);
    await fails(['fit', '--dataset', 'cub', '--out', out], /--dataset cub needs --data-dir/);
    await fails(['fit', '--dataset', 'cub', '--data-dir', path.join(tmpDir(), 'nope'), '--out', out], /nope/);
    await fails(['fit', '--images', 'data/no-such.jpg', '--out', out], /data\/no-such\.jpg: file not found/);
    await fails(['fit', '--images', 'data/manifest.json', '--out', out], /manifest\.json: not an image file name/);
    await fails(['fit', '--images', 'data/skimage_coffee.jpg', '--backbone', 'no-such-backbone', '--out', out], /no-such-backbone/);
    await fails(['fit', '--images', 'data/skimage_coffee.jpg', '--sampling-ratio', '0', '--out', out], /--sampling-ratio 0/);
    await fails(['fit', '--images', 'data/skimage_coffee.jpg', '--classwise', '--out', out], /skimage_coffee\.jpg: no class label/);
    const bad = tmpDir();
    copyFileSync('data/skimage_coffee.jpg', path.join(bad, 'a.jpg'));
    writeFileSync(path.join(bad, 'b.jpg'), 'not a jpeg');
    await fails(['fit', '--images', bad, '--out', out], /b\.jpg/);
    expect(existsSync(out), 'no predictor after a failed fit').to.equal(false);
    const r = await runCli(['fit', '--images', bad, '--skip-bad', '--out', out, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    expect((JSON.parse(r.stdout) as { skipped: number }).skipped).to.equal(1);
  });

  it('localize, evaluate, ablate', async () => {
    const d = tmpDir();
    const pred = path.join(d, 'p.json');
    expect((await runCli(['fit', '--images', 'data/skimage_coffee.jpg', 'data/opencv_apple.jpg', '--out', pred])).code).to.equal(0);
    await fails(['localize', 'data/skimage_coffee.jpg', '--out', d], /give --predictor/);
    await fails(['localize', 'data/skimage_coffee.jpg', '--predictor', pred, '--threshold', '1.5', '--out', d], /--threshold 1\.5/);
    await fails(['localize', 'data/skimage_coffee.jpg', '--predictor', path.join(d, 'missing.json'), '--out', d], /missing\.json: cannot read predictor/);
    await fails(['localize', 'data/skimage_coffee.jpg', '--predictor', pred, '--backbone', 'nsfwjs-inceptionv3', '--out', d], /fitted for another backbone/);
    await fails(['evaluate', '--predictor', pred, '--out', d], /--dataset D --data-dir DIR/);
    await fails(['evaluate', '--predictor', pred, '--dataset', 'cub', '--data-dir', CUB, '--split', 'val', '--out', d], /no "val" split/);
    await fails(['evaluate', '--predictor', pred, '--scoremaps', d, '--dataset', 'cub', '--data-dir', CUB], /either --scoremaps/);
    await fails(['ablate', '--backbones', 'a,a', '--dataset', 'cub', '--data-dir', CUB], /listed twice/);
    await fails(['ablate', '--backbones', 'no-such-backbone', '--dataset', 'cub', '--data-dir', CUB, '--out', tmpDir()], /no-such-backbone/);
  });
});
