// Dataset readers on tiny fixtures in each benchmark's real layout (tools/make_dataset_fixtures.py writes the files and
// the expected ids/labels/boxes independently), the loader, and `uol data inspect`.
import { expect } from 'chai';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { openDataset, DATASET_NAMES } from '../src/data/datasets/index.js';
import type { DatasetOptions, DatasetRecord } from '../src/data/datasets/types.js';
import { loadBatches, sampleRecords, type Batch } from '../src/data/loader.js';
import { evalProtocol, trainProtocol } from '../src/data/transforms.js';
import type { InputContract } from '../src/backbones/types.js';
import { runCli } from './helpers/cli.js';
import { expectNoLeak } from './helpers/leak.js';
import { tmpDir } from './helpers/tmp.js';

const FIX = 'spec/fixtures/data/datasets';
const CONTRACT: InputContract = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], interpolation: 'bilinear', sizeMultiple: 1, minSize: 1, defaultSize: 224 };

interface ExpRecord {
  id: string;
  label: number | null;
  className: string | null;
  boxes: number[][] | null;
  evalBoxes?: number[][];
  width: number;
  height: number;
  size?: [number, number];
  rgbSha256?: string;
  maskFiles?: string[];
  ignoreFile?: string | null;
}
interface Expected {
  dataDir: string;
  metadata?: string;
  classNames?: string[];
  splits: Record<string, ExpRecord[]>;
  masks?: boolean;
}

const FIXTURES: [string, string][] = [
  ['cub', 'cub'],
  ['wsol', 'wsol_cub'],
  ['wsol', 'wsol_oi'],
  ['cars', 'cars'],
  ['aircraft', 'aircraft'],
  ['dogs', 'dogs'],
  ['cifar10', 'cifar10'],
  ['cifar100', 'cifar100'],
  ['folder', 'folder'],
];

function optsFor(dir: string, e: Expected): DatasetOptions {
  const o: DatasetOptions = { dataDir: path.join(dir, e.dataDir) };
  if (e.metadata) o.metadata = path.join(dir, e.metadata);
  return o;
}

function cliArgs(name: string, dir: string, e: Expected): string[] {
  const a = ['data', 'inspect', '--dataset', name, '--data-dir', path.join(dir, e.dataDir)];
  if (e.metadata) a.push('--metadata', path.join(dir, e.metadata));
  return a;
}

describe('dataset readers: fixtures in the real layouts', () => {
  it('the registry lists every format', () => {
    expect([...DATASET_NAMES].sort()).to.deep.equal(['aircraft', 'cars', 'cifar10', 'cifar100', 'cifar100c', 'cub', 'dogs', 'folder', 'wsol']);
  });

  it('cifar100c reads the coarse label (byte 0 of each 3074-byte record), the release\'s CIFAR100C', async () => {
    const dir = path.join(FIX, 'cifar100', 'cifar-100-binary');
    const ds = await openDataset('cifar100c', { dataDir: dir });
    const raw = readFileSync(path.join(dir, 'train.bin'));
    const recs = await ds.records('train');
    expect(recs.length).to.equal(raw.length / 3074);
    expect(recs.map((r) => r.label)).to.deep.equal(recs.map((_, i) => raw[i * 3074]));
  });

  for (const [name, fixture] of FIXTURES) {
    const dir = path.join(FIX, fixture);
    const e = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
    it(`${name} (${fixture}): ids, labels, class names and boxes read back as written`, async () => {
      const ds = await openDataset(name, optsFor(dir, e));
      expect(ds.splits).to.include.members(Object.keys(e.splits));
      if (e.classNames) expect(ds.classNames).to.deep.equal(e.classNames);
      for (const [split, exp] of Object.entries(e.splits)) {
        const recs = await ds.records(split);
        expect(recs.map((r) => r.id), `${split} ids`).to.deep.equal(exp.map((x) => x.id));
        recs.forEach((r, i) => {
          const x = exp[i]!;
          expect(r.label ?? null, `${r.id} label`).to.equal(x.label);
          if (x.className !== null) expect(r.className, `${r.id} class`).to.equal(x.className);
          expect(r.boxes ?? null, `${r.id} boxes`).to.deep.equal(x.boxes);
          if (x.size) expect(r.size).to.deep.equal({ width: x.size[0], height: x.size[1] });
          if (x.maskFiles) {
            const root = path.join(dir, e.dataDir);
            expect(r.mask?.files).to.deep.equal(x.maskFiles.map((f) => path.join(root, f)));
            expect(r.mask?.ignoreFile ?? null).to.equal(x.ignoreFile ? path.join(root, x.ignoreFile) : null);
          }
          if (e.masks) expect(r.mask?.files[0]).to.match(/segmentations\/.+\.png$/);
        });
      }
    });

    it(`${name} (${fixture}): the loader yields the expected inputs and release-transformed boxes`, async () => {
      const ds = await openDataset(name, optsFor(dir, e));
      const [split, exp] = Object.entries(e.splits).at(-1)!;
      const recs = await ds.records(split);
      const hasBoxes = exp.some((x) => x.evalBoxes);
      const protocol = hasBoxes ? evalProtocol(ds.evalProtocol.resize, ds.evalProtocol.crop) : trainProtocol(64);
      const side = hasBoxes ? ds.evalProtocol.crop : 64;
      const seen: DatasetRecord[] = [];
      await expectNoLeak(async () => {
        for await (const b of loadBatches({ records: recs, protocol, contract: CONTRACT, batchSize: 2, concurrency: 3, keepImages: true })) {
          expect(b.input.shape).to.deep.equal([b.records.length, side, side, 3]);
          b.records.forEach((r, k) => {
            const x = exp[seen.length]!;
            expect(r.id).to.equal(x.id);
            expect(b.originalSizes[k]).to.deep.equal({ width: x.width, height: x.height });
            if (x.evalBoxes) expect(b.boxes[k], `${r.id} eval boxes`).to.deep.equal(x.evalBoxes);
            seen.push(r);
          });
          b.input.dispose();
        }
      });
      expect(seen.length).to.equal(exp.length);
      if (exp[0]!.rgbSha256) {
        for (let i = 0; i < recs.length; i++) {
          const img = await recs[i]!.pixels!();
          expect(createHash('sha256').update(img.data).digest('hex'), recs[i]!.id).to.equal(exp[i]!.rgbSha256);
        }
      }
    });

    it(`${name} (${fixture}): uol data inspect --json reports counts and no problems`, async () => {
      const r = await runCli([...cliArgs(name, dir, e), '--json', '--decode']);
      expect(r.code, r.stderr).to.equal(0);
      const rep = JSON.parse(r.stdout) as { format: string; reports: { split: string; images: number; boxes: number; problemCount: number; imagesWithMasks: number }[]; classes?: number };
      expect(rep.format).to.equal(name);
      for (const s of rep.reports) {
        const exp = e.splits[s.split];
        if (!exp) continue;
        expect(s.images).to.equal(exp.length);
        expect(s.boxes).to.equal(exp.reduce((n, x) => n + (x.boxes?.length ?? 0), 0));
        expect(s.problemCount, JSON.stringify(s)).to.equal(0);
      }
      if (e.classNames) expect(rep.classes).to.equal(e.classNames.length);
    });
  }
});

describe('bad data: clear errors, or skipped and listed with skipBad', () => {
  const root = tmpDir();
  const cub = path.join(root, 'cub');
  cpSync(path.join(FIX, 'cub'), cub, { recursive: true });
  const data = path.join(cub, 'CUB_200_2011');
  const images = readFileSync(path.join(data, 'images.txt'), 'utf8').trim().split('\n').map((l) => l.split(' ')[1]!);
  // Corrupt four test images in four ways; the fifth bad case (missing file) is a deleted train image.
  const good = readFileSync('data/skimage_chelsea.jpg');
  const huge = readFileSync('spec/fixtures/data/images/bad/huge_30000.png');
  const bad: Record<string, Uint8Array> = {
    [images[1]!]: good.subarray(0, Math.floor(good.length / 2)), // truncated JPEG
    [images[3]!]: new Uint8Array(0), // zero bytes
    [images[5]!]: new TextEncoder().encode('just text\n'), // text named .jpg
    [images[7]!]: huge, // 30000×30000 PNG header named .jpg
  };
  for (const [n, b] of Object.entries(bad)) writeFileSync(path.join(data, 'images', n), b);
  rmSync(path.join(data, 'images', images[0]!));

  it('the loader stops at the first bad image with the file named (no skipBad)', async () => {
    const ds = await openDataset('cub', { dataDir: data });
    const recs = await ds.records('test');
    let msg = '';
    await expectNoLeak(async () => {
      try {
        for await (const b of loadBatches({ records: recs, protocol: trainProtocol(32), contract: CONTRACT, batchSize: 1 })) b.input.dispose();
      } catch (e) {
        msg = (e as Error).message;
        expect((e as Error).name).to.equal('UsageError');
      }
    });
    expect(msg).to.match(new RegExp(`${recs.find((r) => bad[r.id])!.id.replace(/[.]/g, '\\.')}: cannot decode image`));
  });

  it('with skipBad every bad image is skipped and listed with its reason; the rest load in order', async () => {
    const ds = await openDataset('cub', { dataDir: data });
    const recs = [...(await ds.records('train')), ...(await ds.records('test'))];
    const loader = loadBatches({ records: recs, protocol: trainProtocol(32), contract: CONTRACT, batchSize: 3, skipBad: true, concurrency: 4 });
    const ids: string[] = [];
    await expectNoLeak(async () => {
      for await (const b of loader) {
        ids.push(...b.records.map((r) => r.id));
        b.input.dispose();
      }
    });
    const reasons = Object.fromEntries(loader.skipped.map((s) => [s.id, s.error]));
    expect(Object.keys(reasons).sort()).to.deep.equal([images[0]!, ...Object.keys(bad)].sort());
    expect(reasons[images[0]!]).to.match(/no such file/);
    expect(reasons[images[1]!]).to.match(/cannot decode image/);
    expect(reasons[images[3]!]).to.match(/empty file \(0 bytes\)/);
    expect(reasons[images[5]!]).to.match(/cannot decode image/);
    expect(reasons[images[7]!]).to.match(/30000×30000 = 900000000 pixels, above the limit/);
    expect(ids).to.deep.equal(recs.map((r) => r.id).filter((id) => !(id in reasons)));
  });

  it('uol data inspect lists the problems (missing, unreadable, pixel limit)', async () => {
    const r = await runCli(['data', 'inspect', '--dataset', 'cub', '--data-dir', data, '--json', '--decode']);
    expect(r.code, r.stderr).to.equal(0);
    const rep = JSON.parse(r.stdout) as { reports: { problems: { kind: string; id: string; detail: string }[]; problemCount: number }[] };
    const all = rep.reports.flatMap((s) => s.problems);
    expect(all.find((p) => p.id === images[0])?.kind).to.equal('missing-file');
    for (const id of Object.keys(bad)) expect(all.find((p) => p.id === id)?.kind, id).to.equal('unreadable');
  });

  it('a missing split file is a clear error (exit 2, file named)', async () => {
    const copy = path.join(root, 'cub2');
    cpSync(path.join(FIX, 'cub'), copy, { recursive: true });
    rmSync(path.join(copy, 'CUB_200_2011', 'train_test_split.txt'));
    const r = await runCli(['data', 'inspect', '--dataset', 'cub', '--data-dir', path.join(copy, 'CUB_200_2011')]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/train_test_split\.txt: cannot read: no such file/);
    const a = path.join(root, 'air');
    cpSync(path.join(FIX, 'aircraft'), a, { recursive: true });
    rmSync(path.join(a, 'fgvc-aircraft-2013b', 'data', 'images_box.txt'));
    const r2 = await runCli(['data', 'inspect', '--dataset', 'aircraft', '--data-dir', path.join(a, 'fgvc-aircraft-2013b')]);
    expect(r2.code).to.equal(2);
    expect(r2.stderr).to.match(/not an FGVC-Aircraft data folder \(no images_box\.txt\)/);
    const r3 = await runCli(['data', 'inspect', '--dataset', 'dogs', '--data-dir', path.join(FIX, 'dogs', 'stanfordDogs'), '--split', 'val']);
    expect(r3.code).to.equal(2);
    expect(r3.stderr).to.match(/--split val: dogs has splits train, test/);
  });

  it('malformed metadata lines name file and line', async () => {
    const copy = path.join(root, 'wsol');
    cpSync(path.join(FIX, 'wsol_cub'), copy, { recursive: true });
    const f = path.join(copy, 'metadata', 'CUB', 'test', 'localization.txt');
    writeFileSync(f, readFileSync(f, 'utf8') + 'a.jpg,1,2\nb.jpg,1,2,x,4,5\n');
    const ds = await openDataset('wsol', { dataDir: path.join(copy, 'dataset', 'CUB'), metadata: path.join(copy, 'metadata', 'CUB') }).catch((e: Error) => e);
    const err = ds instanceof Error ? ds : await ds.records('test').then(() => undefined, (e: Error) => e);
    expect(err?.message).to.match(/localization\.txt:\d+: expected <path>,<x0>,<y0>,<x1>,<y1> or <path>,<mask>,<ignore>, got "b\.jpg,1,2,x,4,5"/);
  });
});

describe('loader: order, bounded memory, sampling, masks', () => {
  const dir = path.join(FIX, 'wsol_oi');
  it('deterministic order whatever the concurrency; memory bounded by the prefetch window', async () => {
    const ds = await openDataset('folder', { dataDir: path.join(FIX, 'folder', 'photos') });
    const recs = await ds.records('all');
    const many = Array.from({ length: 40 }, (_, i) => recs[i % recs.length]!);
    const runs: string[][] = [];
    for (const [c, workers] of [[1, 0], [7, 2], [3, 1]] as const) {
      const l = loadBatches({ records: many, protocol: trainProtocol(16), contract: CONTRACT, batchSize: 4, concurrency: c, prefetch: 1, workers });
      const seq: string[] = [];
      const sums: number[] = [];
      for await (const b of l) {
        seq.push(...b.records.map((r) => r.id));
        sums.push(tf.tidy(() => tf.sum(b.input).dataSync()[0]!));
        b.input.dispose();
      }
      runs.push([...seq, ...sums.map(String)]);
      expect(l.stats.peakHeld).to.be.at.most(2 * 4 + 1);
      expect(l.stats.images).to.equal(40);
    }
    expect(runs[0]).to.deep.equal(runs[1]);
    expect(runs[0]).to.deep.equal(runs[2]);
  });

  it('breaking early leaks no tensors and stops scheduling', async () => {
    const ds = await openDataset('folder', { dataDir: path.join(FIX, 'folder', 'photos') });
    const recs = await ds.records('all');
    await expectNoLeak(async () => {
      const l = loadBatches({ records: recs, protocol: trainProtocol(16), contract: CONTRACT, batchSize: 2 });
      for await (const b of l) {
        b.input.dispose();
        break;
      }
    });
  });

  it('sampleRecords: floor(N·r) records, seeded, in dataset order', () => {
    const xs = Array.from({ length: 1000 }, (_, i) => i);
    const a = sampleRecords(xs, 0.1, 42);
    expect(a.length).to.equal(100);
    expect(a).to.deep.equal([...a].sort((p, q) => p - q));
    expect(sampleRecords(xs, 0.1, 42)).to.deep.equal(a);
    expect(sampleRecords(xs, 0.1, 43)).to.not.deep.equal(a);
    expect(sampleRecords(xs, 0.333, 1).length).to.equal(333);
    expect(sampleRecords(xs, 1, 1)).to.deep.equal(xs);
    expect(() => sampleRecords(xs, 0, 1)).to.throw(/`samplingRatio` 0: must be in \(0, 1\]/);
  });

  it('OpenImages masks load with the release transform (0/1/255) and progress reports rate inputs', async () => {
    const e = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
    const ds = await openDataset('wsol', optsFor(dir, e));
    const recs = await ds.records('test');
    const events: number[] = [];
    const batches: Batch[] = [];
    for await (const b of loadBatches({ records: recs, protocol: evalProtocol(256, 224), contract: CONTRACT, batchSize: 8, withMasks: true, onProgress: (ev) => events.push(ev.done) })) {
      batches.push(b);
      b.input.dispose();
    }
    const masks = batches[0]!.masks!;
    expect(masks.length).to.equal(3);
    for (const m of masks) {
      expect(m!.width).to.equal(224);
      expect(new Set(m!.data).has(1)).to.equal(true);
    }
    expect(new Set(masks[0]!.data).has(255)).to.equal(true); // ignore box minus foreground
    expect(new Set(masks[2]!.data).has(255)).to.equal(false); // no ignore file
    expect(events).to.deep.equal([1, 2, 3]);
  });
});
