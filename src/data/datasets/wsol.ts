/**
 * wsolevaluation metadata (Choe et al., CVPR 2020): CUB (CUBV2 val), ILSVRC (ImageNetV2 val), OpenImages30k.
 *
 * `--metadata DIR` is one dataset's metadata folder (e.g. `wsolevaluation/metadata/CUB`) with a subfolder per split
 * (`train/`, `val/`, `test/`); `--data-dir` is its image root (e.g. `wsolevaluation/dataset/CUB`); OpenImages masks are
 * under `--mask-root` (default: the image root), as in wsolevaluation.
 */
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { UsageError } from '../../util/errors.js';
import type { CornerBox } from '../../util/box.js';
import type { Dataset, DatasetReader, DatasetRecord } from './types.js';
import { checkSplit, fields, mustExist, num, readLines } from './util.js';

const LAYOUT = `wsolevaluation metadata, one folder per split under --metadata (train/, val/, test/):
  image_ids.txt        <path>                      one image per line, relative to --data-dir
  image_ids_proxy.txt  <path>                      (optional; split "train-proxy")
  class_labels.txt     <path>,<label>              0-based integer label
  image_sizes.txt      <path>,<w>,<h>              (optional) stored size in pixels
  localization.txt     <path>,<x0>,<y0>,<x1>,<y1>  boxes (several lines per image allowed), or
                       <path>,<mask>,<ignore>      OpenImages: mask paths relative to --mask-root; the ignore
                                                   mask is given on the first line of an image only`;

const SPLITS = ['train', 'train-proxy', 'val', 'test'];

function readSplit(meta: string, split: string, dataDir: string, maskRoot: string): DatasetRecord[] {
  const dir = path.join(meta, split === 'train-proxy' ? 'train' : split);
  const idsFile = path.join(dir, split === 'train-proxy' ? 'image_ids_proxy.txt' : 'image_ids.txt');
  const records = new Map<string, DatasetRecord>();
  for (const l of readLines(idsFile)) {
    const id = l.text.trim();
    if (records.has(id)) throw new UsageError(`${idsFile}:${l.no}: duplicate image id "${id}"`);
    const r: DatasetRecord = { id, file: path.join(dataDir, id) };
    const cls = /^(\d+)\.([^/]+)\//.exec(id);
    if (cls) r.className = cls[2]!;
    records.set(id, r);
  }
  const labels = path.join(dir, 'class_labels.txt');
  for (const l of readLines(labels)) {
    const [id, lab] = fields(labels, l, ',', 2, '<path>,<label>');
    const r = records.get(id!);
    if (r) r.label = num(labels, l, lab!, 'label', true);
  }
  const sizes = path.join(dir, 'image_sizes.txt');
  if (existsSync(sizes)) {
    for (const l of readLines(sizes)) {
      const [id, w, h] = fields(sizes, l, ',', 3, '<path>,<w>,<h>');
      const r = records.get(id!);
      if (r) r.size = { width: num(sizes, l, w!, 'width', true), height: num(sizes, l, h!, 'height', true) };
    }
  }
  const loc = path.join(dir, 'localization.txt');
  if (existsSync(loc)) {
    for (const l of readLines(loc)) {
      const parts = l.text.split(',');
      if (parts.length === 5) {
        const [id, ...v] = parts;
        const r = records.get(id!);
        if (!r) continue;
        const box = v.map((s, i) => num(loc, l, s, ['x0', 'y0', 'x1', 'y1'][i]!)) as CornerBox;
        (r.boxes ??= []).push(box);
      } else if (parts.length === 3) {
        const [id, mask, ignore] = parts as [string, string, string];
        const r = records.get(id);
        if (!r) continue;
        if (!r.mask) {
          r.mask = { files: [path.join(maskRoot, mask)], kind: 'openimages' };
          if (ignore) r.mask.ignoreFile = path.join(maskRoot, ignore);
        } else {
          if (ignore) throw new UsageError(`${loc}:${l.no}: a second ignore mask for "${id}" (only the first line of an image may name one)`);
          r.mask.files.push(path.join(maskRoot, mask));
        }
      } else {
        throw new UsageError(`${loc}:${l.no}: expected <path>,<x0>,<y0>,<x1>,<y1> or <path>,<mask>,<ignore>, got "${l.text}"`);
      }
    }
  }
  return [...records.values()];
}

export const wsolReader: DatasetReader = {
  name: 'wsol',
  description: 'wsolevaluation metadata (CUB/CUBV2, ILSVRC/ImageNetV2, OpenImages30k): --data-dir IMAGE_ROOT --metadata DIR',
  layout: LAYOUT,
  async open(opts) {
    if (!opts.metadata) throw new UsageError('`metadata`: the wsol format needs the metadata folder (e.g. wsolevaluation/metadata/CUB, holding train/ val/ test/)', { options: ['metadata'] });
    const meta = opts.metadata;
    mustExist(meta, 'wsolevaluation metadata folder', true);
    mustExist(opts.dataDir, 'image root (`dataDir`)', true, 'dataDir');
    const splits = SPLITS.filter((s) => existsSync(path.join(meta, s === 'train-proxy' ? 'train/image_ids_proxy.txt' : `${s}/image_ids.txt`)));
    if (splits.length === 0) throw new UsageError(`${meta}: no split folder with image_ids.txt (expected train/, val/ or test/)`);
    const maskRoot = opts.maskRoot ?? opts.dataDir;
    const cache = new Map<string, DatasetRecord[]>();
    const ds: Dataset = {
      format: 'wsol',
      root: opts.dataDir,
      splits,
      boxConvention: 'wsolevaluation: [x0,y0,x1,y1] integer pixel corners as listed in localization.txt',
      evalProtocol: { resize: 256, crop: 224 },
      async records(split) {
        checkSplit('wsol', split, splits);
        let r = cache.get(split);
        if (!r) {
          r = readSplit(meta, split, opts.dataDir, maskRoot);
          cache.set(split, r);
        }
        return r;
      },
    };
    // Class names and protocol: CUB-style ids ("001.Black_footed_Albatross/…") name their class; others have only indices.
    const first = await ds.records(splits.includes('test') ? 'test' : splits[0]!);
    const names: string[] = [];
    for (const r of first) if (r.label !== undefined && r.className) names[r.label] = r.className;
    if (names.length && !names.includes(undefined as unknown as string)) ds.classNames = names;
    if (first.length && first.every((r) => /^\d{3}\./.test(r.id))) ds.evalProtocol = { resize: 480, crop: 448 };
    return ds;
  },
};
