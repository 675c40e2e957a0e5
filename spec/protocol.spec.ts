// The release/wsoleval protocol presets, the release's result-file format, the class-wise quota and the experiment
// registry (pure functions; the comparison with the release itself is spec/reproduce-oracle.spec.ts).
import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { openDataset } from '../src/data/datasets/index.js';
import { loadBatches } from '../src/data/loader.js';
import { evalProtocol } from '../src/data/transforms.js';
import * as path from 'node:path';
import { defaultProtocolName, describeRunProtocol, RELEASE_DATASETS, resolveProtocol } from '../src/data/protocol.js';
import { orderByTrainList, releaseClasswiseSelection, selectFitRecords } from '../src/data/fit-selection.js';
import { pythonFloat, pythonJsonDump } from '../src/evaluate/release-results.js';
import { listExperiments, parseExperimentName } from '../src/reproduce/experiments.js';
import { tmpDir } from './helpers/tmp.js';
import { runCli } from './helpers/cli.js';

const ds = (format: string, resize: number, crop: number, splits: string[]) => ({ format, evalProtocol: { resize, crop }, splits });

describe('protocol presets', () => {
  it('release: per-dataset sizes, stride, split and τ rule; bilinear PIL-exact for every backbone', () => {
    const cub = resolveProtocol(undefined, ds('wsol', 480, 448, ['train', 'val', 'test']));
    expect(cub).to.include({ name: 'release', dataset: 'CUB', interpolation: 'bilinear', resizer: 'pil', downscale: 32, testSplit: 'test', valSplit: 'val', boxSizes: 'metadata', fitSize: 224 });
    expect(cub.eval).to.deep.equal({ resize: 480, crop: 448 });
    const inet = resolveProtocol('release', ds('wsol', 256, 224, ['train', 'val', 'test']));
    expect(inet).to.include({ dataset: 'IMAGENET', downscale: 16, valSplit: 'val' });
    expect(inet.eval).to.deep.equal({ resize: 256, crop: 224 });
    const air = resolveProtocol(undefined, ds('aircraft', 480, 448, ['train', 'val', 'test']));
    expect(air).to.include({ dataset: 'AIRCRAFT', testSplit: 'val', valSplit: false, downscale: 32 });
    // native CUB has no val split: τ is an oracle on test
    expect(resolveProtocol(undefined, ds('cub', 480, 448, ['train', 'test']))).to.include({ testSplit: 'test', valSplit: false });
    expect(resolveProtocol(undefined, ds('cars', 480, 448, ['train', 'test']))).to.include({ valSplit: false, testSplit: 'test' });
  });

  it('wsoleval keeps uol defaults; overrides and defaults by input', () => {
    const w = resolveProtocol('wsoleval', ds('wsol', 480, 448, ['train', 'val', 'test']));
    expect(w).to.include({ name: 'wsoleval', resizer: 'codec', boxSizes: 'decoded', testSplit: 'test' });
    expect(w.interpolation).to.equal(undefined);
    expect(w.downscale).to.equal(undefined);
    expect(defaultProtocolName(ds('folder', 256, 224, ['all']))).to.equal('wsoleval');
    expect(defaultProtocolName(undefined)).to.equal('wsoleval');
    expect(defaultProtocolName(ds('dogs', 480, 448, ['train', 'test']))).to.equal('release');
    const o = resolveProtocol('release', ds('wsol', 480, 448, ['train', 'val', 'test']), { imageSize: 160, cropSize: 144, downscale: 16, oracle: true, split: 'val' });
    expect(o).to.include({ downscale: 16, valSplit: false, testSplit: 'val' });
    expect(o.eval).to.deep.equal({ resize: 160, crop: 144 });
    expect(() => resolveProtocol('release', undefined, { imageSize: 100, cropSize: 200 })).to.throw(/`cropSize` 200 is larger than `imageSize` 100/);
    expect(describeRunProtocol(o)).to.match(/^release \(CUB\): .*bilinear filter, PIL-exact resampler, ResNet stride 16, τ oracle on val/);
    expect(RELEASE_DATASETS.CUB.nclass).to.equal(200);
  });
});

describe('GT boxes scaled from the sizes the metadata states (the release) or the decoded ones', () => {
  it('aircraft images_<split>_size.txt: boxes follow the stated size under boxSizes "metadata"', async () => {
    const dir = tmpDir();
    const data = path.join(dir, 'data');
    mkdirSync(path.join(data, 'images'), { recursive: true });
    // a 100×50 image whose size file says 200×100 (the release scales boxes from the file)
    await sharp({ create: { width: 100, height: 50, channels: 3, background: { r: 90, g: 120, b: 30 } } }).jpeg().toFile(path.join(data, 'images', '0001.jpg'));
    writeFileSync(path.join(data, 'images_box.txt'), '0001 10 10 50 50\n');
    writeFileSync(path.join(data, 'images_val_size.txt'), '0001 200 100\n');
    const ds = await openDataset('aircraft', { dataDir: dir });
    expect(ds.splits).to.deep.equal(['val']);
    const recs = await ds.records('val');
    expect(recs[0]!.size).to.deep.equal({ width: 200, height: 100 });
    const contract = { mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number], interpolation: 'bilinear' as const, sizeMultiple: 1, minSize: 1, defaultSize: 224 };
    const boxes = async (boxSizes: 'metadata' | 'decoded') => {
      const l = loadBatches({ records: recs, protocol: evalProtocol(480, 448), contract, batchSize: 1, workers: 0, boxSizes });
      for await (const b of l) {
        b.input.dispose();
        return b.boxes[0];
      }
      return undefined;
    };
    // stated 200×100: x·2.4 − 16, y·4.8 − 16 → [8, 32, 104, 224]; decoded 100×50: x·4.8 − 16, y·9.6 − 16
    expect(await boxes('metadata')).to.deep.equal([[8, 32, 104, 224]]);
    expect(await boxes('decoded')).to.deep.equal([[32, 80, 224, 447]]);
  });
});

describe("the release's result files", () => {
  it('writes floats as Python repr does', () => {
    // Python 3: repr(x) for each (facts about CPython's float repr, not produced by this code)
    const cases: [number, string][] = [
      [100, '100.0'],
      [0, '0.0'],
      [0.4, '0.4'],
      [33.333333333333336, '33.333333333333336'],
      [45.45454545454545, '45.45454545454545'],
      [1e-5, '1e-05'],
      [0.0001, '0.0001'],
      [1.5e-7, '1.5e-07'],
      [1e16, '1e+16'],
      [123456789012345.6, '123456789012345.6'],
      [-2.5, '-2.5'],
      [NaN, 'NaN'],
    ];
    for (const [v, s] of cases) expect(pythonFloat(v), String(v)).to.equal(s);
    expect(pythonJsonDump({ MaxBoxAccV2: 54.166666666666664, 'Top-1': 0, BestThreshold: 0.4 })).to.equal('{\n  "MaxBoxAccV2": 54.166666666666664,\n  "Top-1": 0.0,\n  "BestThreshold": 0.4\n}');
  });
});

describe("the release's class-wise quota and --train-list", () => {
  const rec = (id: string, label: number) => ({ id, label, file: `${id}.jpg` });

  it('admits up to quota+1 per class when the quota is < 10 (validation.py: skip when cnt > quota)', () => {
    // N = 6, nclass = 3, r = 1 → quota 2: every image admitted while its class has ≤ 2.
    const order = [rec('a', 0), rec('b', 0), rec('c', 0), rec('d', 0), rec('e', 1), rec('f', 2)];
    expect(releaseClasswiseSelection(order, { nclass: 3, ratio: 1, batchSize: 2 }).map((r) => r.id)).to.deep.equal(['a', 'b', 'c', 'e', 'f']);
    // nclass 200 on 6 images → quota 0: one image per class.
    expect(releaseClasswiseSelection(order, { nclass: 200, ratio: 1 }).map((r) => r.id)).to.deep.equal(['a', 'e', 'f']);
  });

  it('stops at the first batch ≥ len(loader)·r once every class is full', () => {
    // N = 8, nclass = 2, r = 0.5 → quota 2, 4 batches of 2; stop checked at i ≥ 2.
    const order = [rec('a', 0), rec('b', 0), rec('c', 0), rec('d', 1), rec('e', 1), rec('f', 1), rec('g', 0), rec('h', 1)];
    // batch0 a,b (0:2) batch1 c,d (0:3,1:1) → i=2: class 1 has 1 < 2 → continue: e,f (1:3) → i=3: full → stop
    expect(releaseClasswiseSelection(order, { nclass: 2, ratio: 0.5, batchSize: 2 }).map((r) => r.id)).to.deep.equal(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('--train-list orders the records ("id" or "id,label" lines) and names bad lines', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'order.txt');
    writeFileSync(f, 'c,0\nA\n\nb\n');
    const recs = [rec('A', 0), rec('b', 1), rec('c', 0)];
    expect(orderByTrainList(recs, f).map((r) => r.id)).to.deep.equal(['c', 'A', 'b']);
    // N is the split's size (3): floor(3·0.7) = 2 of the list's order
    expect(selectFitRecords(recs, { trainList: f, samplingRatio: 0.7, seed: 0, classwise: false, release: true }).map((r) => r.id)).to.deep.equal(['c', 'A']);
    writeFileSync(f, 'b\n');
    expect(() => selectFitRecords(recs, { trainList: f, samplingRatio: 0.7, seed: 0, classwise: false, release: true })).to.throw(/lists 1 images; `samplingRatio` 0.7 of the split's 3 needs the first 2/);
    writeFileSync(f, 'c,0\nA\n\nb\n');
    writeFileSync(f, 'c\nzz\n');
    expect(() => orderByTrainList(recs, f)).to.throw(/order\.txt:2: image id "zz" is not in the training split/);
  });
});

describe('the experiment registry', () => {
  it('names round-trip and carry the main.py command; unknown parts are refused', async () => {
    const all = listExperiments();
    expect(all.length).to.be.greaterThan(500);
    for (const e of all) expect(parseExperimentName(e.name).mainPy).to.equal(e.mainPy);
    const e = parseExperimentName('cub-mocov1-ds16');
    expect(e.mainPy).to.equal('python main.py --dataset CUB --loc_network mocov1 --data_dir YOUR_DATAROOT --image_size 480 --crop_size 448 --resnet_downscale 16');
    expect(parseExperimentName('imagenet-mocov1').mainPy).to.equal('python main.py --dataset IMAGENET --loc_network mocov1 --data_dir YOUR_DATAROOT');
    expect(parseExperimentName('aircraft-mocov1-classwise').releaseCrashes).to.match(/nclass/);
    expect(parseExperimentName('cubseg-dinovit').releaseCrashes).to.match(/not among main.py's choices/);
    expect(() => parseExperimentName('cub-dinovit-ds16')).to.throw(/not a ResNet/);
    expect(() => parseExperimentName('cub-nosuch')).to.throw(/not a --loc_network/);
    const r = await runCli(['reproduce', '--list', '--filter', 'aircraft-vgg', '--json']);
    expect(r.code).to.equal(0);
    const j = JSON.parse(r.stdout) as { experiments: { name: string; release: string }[] };
    expect(j.experiments.map((x) => x.name)).to.include('aircraft-vgg-caam');
    const bad = await runCli(['reproduce', 'cub-mocov1-sideways']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/unknown part "sideways"/);
  });
});
