// `uol evaluate` end to end on wsolevaluation-layout directories built from the reference datasets
// (spec/fixtures/metrics, tools/ref_metrics.py): the JSON numbers equal the numpy reference exactly; malformed
// metadata lines, missing maps and maps of the wrong size exit 2 naming the line or file.
import { expect } from 'chai';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { writeNpySync } from '../src/io/npy.js';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';
import { expectNoLeak } from './helpers/leak.js';
import { loadReference, refMap, refMask, type RefImage } from './helpers/metrics-ref.js';

const ref = loadReference();

interface Layout {
  maps: string;
  meta: string;
}

/** Writes maps (<id>.npy) and metadata for a box dataset; sizes are the map sizes unless `orig` (resize protocol). */
function writeBoxDataset(images: RefImage[], orig = false): Layout {
  const root = tmpDir('uol-eval-');
  const maps = path.join(root, 'scoremaps');
  const meta = path.join(root, 'metadata');
  mkdirSync(meta, { recursive: true });
  const ids: string[] = [];
  const labels: string[] = [];
  const sizes: string[] = [];
  const loc: string[] = [];
  const preds: string[] = [];
  images.forEach((im, k) => {
    ids.push(im.id);
    const cls = k % 7;
    labels.push(`${im.id},${cls}`);
    const [W, H] = orig ? im.size! : [im.w, im.h];
    sizes.push(`${im.id},${W},${H}`);
    for (const b of orig ? im.gtOrig! : im.gt!) loc.push(`${im.id},${b.join(',')}`);
    // Top-5 predictions placing the true class at its rank (absent when rank > 5).
    const others = [10, 11, 12, 13, 14];
    const top = others.slice();
    if (im.rank !== undefined && im.rank <= 5) top[im.rank - 1] = cls;
    preds.push(`${im.id},${top.join(',')}`);
    const f = path.join(maps, `${im.id}.npy`);
    mkdirSync(path.dirname(f), { recursive: true });
    writeNpySync(f, refMap(im), [im.h, im.w]);
  });
  writeFileSync(path.join(meta, 'image_ids.txt'), ids.join('\n') + '\n');
  writeFileSync(path.join(meta, 'class_labels.txt'), labels.join('\n') + '\n');
  writeFileSync(path.join(meta, 'image_sizes.txt'), sizes.join('\n') + '\n');
  writeFileSync(path.join(meta, 'localization.txt'), loc.join('\n') + '\n');
  writeFileSync(path.join(root, 'predictions.csv'), preds.join('\n') + '\n');
  return { maps, meta };
}

function pick(j: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, j[k]]));
}

const BOX_KEYS = ['MaxBoxAcc', 'MaxBoxAccV2', 'MaxBoxAccV2_release', 'IoU30', 'IoU50', 'IoU70', 'bestThreshold', 'top1Loc', 'top5Loc', 'chosen', 'release'];

function expectedBox(key: string): Record<string, unknown> {
  const e = ref.results[key]! as Record<string, unknown> & { IoU: Record<string, number> };
  return { ...pick(e, BOX_KEYS), IoU30: e.IoU['30'], IoU50: e.IoU['50'], IoU70: e.IoU['70'] };
}

describe('uol evaluate (CLI)', function () {
  this.timeout(120000);
  let val: Layout;
  let test: Layout;

  before(() => {
    val = writeBoxDataset(ref.datasets.val!);
    test = writeBoxDataset(ref.datasets.test!);
  });

  it('box metadata: --json numbers equal the reference; Top-1/5 Loc from --predictions; val τ carried to test', async () => {
    const root = path.dirname(val.maps);
    const r = await expectNoLeak(() =>
      runCli(['evaluate', '--scoremaps', val.maps, '--metadata', val.meta, '--predictions', path.join(root, 'predictions.csv'), '--json']),
    );
    expect(r.code, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(pick(j, BOX_KEYS)).to.deep.equal(expectedBox('val/release'));
    expect(j.PxAP).to.equal(undefined);
    const valJson = path.join(root, 'val.json');
    writeFileSync(valJson, r.stdout);
    const troot = path.dirname(test.maps);
    const t = await runCli([
      'evaluate', '--scoremaps', test.maps, '--metadata', test.meta, '--predictions', path.join(troot, 'predictions.csv'),
      '--thresholds-from', valJson, '--per-image', path.join(troot, 'per-image.json'), '--json',
    ]);
    expect(t.code, t.stderr).to.equal(0);
    expect(pick(JSON.parse(t.stdout) as Record<string, unknown>, BOX_KEYS)).to.deep.equal(expectedBox('test/release/chosen-from-val'));
    const per = JSON.parse(readFileSync(path.join(troot, 'per-image.json'), 'utf8')) as { id: string; threshold: number; box: number[] | null; iou: number }[];
    const exp = (ref.results['test/release/chosen-from-val'] as { perImage: { id: string; box: number[] | null; iou: number }[] }).perImage;
    expect(per.map((p) => [p.id, p.box])).to.deep.equal(exp.map((p) => [p.id, p.box]));
    per.forEach((p, i) => expect(p.iou, p.id).to.be.closeTo(exp[i]!.iou, 1e-6));
  });

  it('--thresholds a:b:step selects the grid; text output is a table', async () => {
    const w = await runCli(['evaluate', '--scoremaps', test.maps, '--metadata', test.meta, '--thresholds', '0:1:0.01', '--json']);
    expect(w.code, w.stderr).to.equal(0);
    const j = JSON.parse(w.stdout) as Record<string, unknown>;
    const e = expectedBox('test/wsol');
    for (const k of ['MaxBoxAcc', 'MaxBoxAccV2', 'MaxBoxAccV2_release', 'IoU30', 'IoU50', 'IoU70', 'bestThreshold']) expect(j[k], k).to.equal(e[k]);
    const txt = await runCli(['evaluate', '--scoremaps', test.maps, '--metadata', test.meta, '--engine', 'trace']);
    expect(txt.code, txt.stderr).to.equal(0);
    expect(txt.stdout).to.match(/MaxBoxAcc \(GT-known Loc\)\s+\d+\.\d\d/);
    expect(txt.stdout).to.match(/MaxBoxAccV2 \(authors' release\)/);
    expect(txt.stdout).to.contain((expectedBox('test/release').MaxBoxAcc as number).toFixed(2));
  });

  it('--resize 64: boxes from image_sizes.txt resized as wsolevaluation does', async () => {
    const d = writeBoxDataset(ref.datasets.resize64!, true);
    const r = await runCli(['evaluate', '--scoremaps', d.maps, '--metadata', d.meta, '--resize', '64', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    const e = expectedBox('resize64');
    for (const k of ['MaxBoxAcc', 'MaxBoxAccV2', 'MaxBoxAccV2_release', 'IoU30', 'IoU50', 'IoU70', 'bestThreshold']) expect(j[k], k).to.equal(e[k]);
    const bad = await runCli(['evaluate', '--scoremaps', d.maps, '--metadata', d.meta, '--json']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/rsz\/0\.jpg\.npy: score map is 64×64 \(H×W\), expected \d+×\d+ \(image size \d+×\d+ in image_sizes\.txt\)/);
  });

  it('mask metadata (OpenImages layout, PNG instance + ignore masks): PxAP and PIoU equal the reference', async () => {
    const root = tmpDir('uol-eval-masks-');
    const maps = path.join(root, 'scoremaps');
    const meta = path.join(root, 'metadata');
    const masks = path.join(root, 'masks');
    mkdirSync(meta, { recursive: true });
    const ids: string[] = [];
    const loc: string[] = [];
    const png = async (f: string, data: Uint8Array, w: number, h: number): Promise<void> => {
      mkdirSync(path.dirname(f), { recursive: true });
      await sharp(Buffer.from(data), { raw: { width: w, height: h, channels: 1 } }).png().toFile(f);
    };
    for (const im of ref.datasets.masks!) {
      ids.push(im.id);
      const gt = refMask(im);
      const stem = im.id.replace(/\.jpg$/, '');
      // Two instance masks (the foreground split by column parity) and an ignore mask that also covers some
      // foreground (wsolevaluation ignores only ignore ∖ foreground).
      const a = Uint8Array.from(gt, (v, i) => (v === 1 && (i % im.w) % 2 === 0 ? 255 : 0));
      const b = Uint8Array.from(gt, (v, i) => (v === 1 && (i % im.w) % 2 === 1 ? 255 : 0));
      const ign = Uint8Array.from(gt, (v, i) => (v === 255 || (v === 1 && i % 5 === 0) ? 255 : 0));
      await png(path.join(masks, `${stem}_a.png`), a, im.w, im.h);
      await png(path.join(masks, `${stem}_b.png`), b, im.w, im.h);
      await png(path.join(masks, `${stem}_ignore.png`), ign, im.w, im.h);
      loc.push(`${im.id},${stem}_a.png,${stem}_ignore.png`, `${im.id},${stem}_b.png,`);
      const f = path.join(maps, `${im.id}.npy`);
      mkdirSync(path.dirname(f), { recursive: true });
      writeNpySync(f, refMap(im), [im.h, im.w]);
    }
    writeFileSync(path.join(meta, 'image_ids.txt'), ids.join('\n') + '\n');
    writeFileSync(path.join(meta, 'image_sizes.txt'), '');
    writeFileSync(path.join(meta, 'localization.txt'), loc.join('\n') + '\n');
    const r = await runCli(['evaluate', '--scoremaps', maps, '--metadata', meta, '--mask-root', masks, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    const e = ref.results['masks/m01']!;
    for (const k of ['PxAP', 'PIoU', 'PIoUThreshold', 'positives', 'negatives']) expect(j[k], k).to.equal(e[k]);
    expect(j.MaxBoxAcc).to.equal(undefined);
    const noRoot = await runCli(['evaluate', '--scoremaps', maps, '--metadata', meta]);
    expect(noRoot.code).to.equal(2);
    expect(noRoot.stderr).to.match(/localization\.txt lists masks: give --mask-root/);
    const missing = await runCli(['evaluate', '--scoremaps', maps, '--metadata', meta, '--mask-root', root]);
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.match(/masks\/000_a\.png: cannot read mask image/);
  });

  describe('bad input → exit 2 naming the line or file', () => {
    /** A small valid box dataset (first 3 val images) to corrupt. */
    const small = (): Layout => writeBoxDataset(ref.datasets.val!.slice(0, 3));
    const run = (d: Layout, ...extra: string[]): ReturnType<typeof runCli> => runCli(['evaluate', '--scoremaps', d.maps, '--metadata', d.meta, ...extra]);
    const lines = (d: Layout, file: string, edit: (l: string[]) => string[]): void => {
      const f = path.join(d.meta, file);
      const l = readLines(f);
      writeFileSync(f, edit(l).join('\n') + '\n');
    };
    const readLines = (f: string): string[] => readFileSync(f, 'utf8').split('\n').filter((s) => s !== '');

    const cases: [string, (d: Layout) => void, RegExp, string[]?][] = [
      ['a localization line with 4 fields', (d) => lines(d, 'localization.txt', (l) => [l[0]!, l[1]!.split(',').slice(0, 4).join(','), ...l.slice(2)]), /localization\.txt:2: expected "<image_id>,<x0>,<y0>,<x1>,<y1>"/],
      ['a non-integer coordinate', (d) => lines(d, 'localization.txt', (l) => [l[0]!.replace(/,(\d+)$/, ',12.5')]), /localization\.txt:1: y1 "12\.5" is not an integer/],
      ['a box with x1 < x0', (d) => lines(d, 'localization.txt', (l) => [`${l[0]!.split(',')[0]},9,0,3,4`, ...l.slice(1)]), /localization\.txt:1: box \[9, 0, 3, 4\] has x1 < x0/],
      ['an image id listed twice', (d) => lines(d, 'image_ids.txt', (l) => [...l, l[0]!]), /image_ids\.txt:4: image id "val\/000\.jpg" is listed twice/],
      ['a malformed image_sizes line', (d) => lines(d, 'image_sizes.txt', (l) => [l[0]!, 'val/001.jpg,40', l[2]!]), /image_sizes\.txt:2: expected "<image_id>,<width>,<height>"/],
      ['a malformed class_labels line', (d) => lines(d, 'class_labels.txt', (l) => [l[0]!, 'val/001.jpg,x', l[2]!]), /class_labels\.txt:2: class index "x" is not an integer/],
      ['an image without a box', (d) => lines(d, 'localization.txt', (l) => l.filter((s) => !s.startsWith('val/001.jpg,'))), /localization\.txt: no box for image "val\/001\.jpg"/],
      ['a missing map', (d) => rmSync(path.join(d.maps, 'val', '002.jpg.npy')), /val\/002\.jpg\.npy: cannot read/],
      ['a map of the wrong size', (d) => writeNpySync(path.join(d.maps, 'val', '001.jpg.npy'), new Float32Array(12), [3, 4]), /val\/001\.jpg\.npy: score map is 3×4 \(H×W\), expected \d+×\d+/],
      ['a 3-D map', (d) => writeNpySync(path.join(d.maps, 'val', '001.jpg.npy'), new Float32Array(8), [2, 2, 2]), /val\/001\.jpg\.npy: score map has shape \[2, 2, 2\], expected \[H, W\]/],
      ['a map with NaN', (d) => {
        const im = ref.datasets.val![1]!;
        const m = refMap(im);
        m[5] = NaN;
        writeNpySync(path.join(d.maps, 'val', '001.jpg.npy'), m, [im.h, im.w]);
      }, /val\/001\.jpg\.npy: .*value NaN at \(y=0, x=5\)/],
      ['a uint8 map', (d) => {
        const im = ref.datasets.val![0]!;
        writeNpySync(path.join(d.maps, 'val', '000.jpg.npy'), new Uint8Array(im.h * im.w), [im.h, im.w]);
      }, /val\/000\.jpg\.npy: score maps must be float32 or float64/],
      ['a bad --thresholds', () => undefined, /--thresholds "0:1": expected start:stop:step/, ['--thresholds', '0:1']],
      ['a bad --iou-thresholds', () => undefined, /--iou-thresholds "30,x"/, ['--iou-thresholds', '30,x']],
      ['a predictions file missing an image', (d) => writeFileSync(path.join(path.dirname(d.maps), 'p.csv'), 'val/000.jpg,1,2,3,4,5\n'), /p\.csv: no prediction for image "val\/001\.jpg"/, ['--predictions', 'P']],
      ['a malformed predictions line', (d) => writeFileSync(path.join(path.dirname(d.maps), 'p.csv'), 'val/000.jpg\n'), /p\.csv:1: expected "<image_id>,<class>/, ['--predictions', 'P']],
      ['--thresholds-from without chosen thresholds', (d) => writeFileSync(path.join(path.dirname(d.maps), 'p.csv'), '{"PxAP": 1}'), /p\.csv: no "chosen" thresholds/, ['--thresholds-from', 'P']],
      ['an image id with ".." segments', (d) => lines(d, 'image_ids.txt', (l) => [l[0]!, '../../etc/passwd', l[2]!]), /image_ids\.txt:2: image id "\.\.\/\.\.\/etc\/passwd" must be a relative path/],
      ['a metadata directory without image_ids.txt', (d) => rmSync(path.join(d.meta, 'image_ids.txt')), /image_ids\.txt: not found/],
    ];
    for (const [what, corrupt, msg, extra] of cases) {
      it(what, async () => {
        const d = small();
        corrupt(d);
        const args = (extra ?? []).map((x) => (x === 'P' ? path.join(path.dirname(d.maps), 'p.csv') : x));
        const r = await run(d, ...args);
        expect(r.code, r.stdout + r.stderr).to.equal(2);
        expect(r.stderr).to.match(msg);
      });
    }
  });
});
