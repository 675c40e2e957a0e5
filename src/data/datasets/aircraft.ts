/**
 * FGVC-Aircraft 2013b (Maji et al.).
 */
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { UsageError } from '../../util/errors.js';
import type { Dataset, DatasetReader, DatasetRecord } from './types.js';
import { checkSplit, fields, mustExist, num, readLines } from './util.js';
import type { CornerBox } from '../../util/box.js';

const LAYOUT = `fgvc-aircraft-2013b/data/ (--data-dir; or its parent), space-separated:
  images_<split>.txt          <image_id>                      split ∈ train, val, trainval, test
  images_variant_<split>.txt  <image_id> <variant name…>     label = index of the variant in variants.txt
  variants.txt                <variant name…>                 one class per line (100)
  images_box.txt              <image_id> <xmin> <ymin> <xmax> <ymax>
  images_<split>_size.txt     <image_id> <w> <h>              (optional; the release's list and the sizes its
                                                             box transform uses; lists the split when
                                                             images_<split>.txt is absent)
  images/<image_id>.jpg`;

const SPLITS = ['train', 'val', 'trainval', 'test'];

export const aircraftReader: DatasetReader = {
  name: 'aircraft',
  description: 'FGVC-Aircraft 2013b (images_box.txt, images_<split>.txt, variants): --data-dir fgvc-aircraft-2013b/data',
  layout: LAYOUT,
  async open(opts) {
    mustExist(opts.dataDir, 'FGVC-Aircraft folder (`dataDir`)', true, 'dataDir');
    const root = existsSync(path.join(opts.dataDir, 'images_box.txt')) ? opts.dataDir : path.join(opts.dataDir, 'data');
    if (!existsSync(path.join(root, 'images_box.txt'))) throw new UsageError(`${opts.dataDir}: not an FGVC-Aircraft data folder (no images_box.txt)`);
    const splits = SPLITS.filter((s) => existsSync(path.join(root, `images_${s}.txt`)) || existsSync(path.join(root, `images_${s}_size.txt`)));
    if (!splits.length) throw new UsageError(`${root}: no split file (images_train.txt, images_val.txt, images_test.txt)`);
    const variantsFile = path.join(root, 'variants.txt');
    const classNames = existsSync(variantsFile) ? readLines(variantsFile).map((l) => l.text.trim()) : undefined;
    const classIndex = new Map(classNames?.map((n, i) => [n, i]));
    const boxesFile = path.join(root, 'images_box.txt');
    let boxes: Map<string, CornerBox> | undefined;
    const loadBoxes = (): Map<string, CornerBox> => {
      if (boxes) return boxes;
      boxes = new Map();
      for (const l of readLines(boxesFile)) {
        const [id, a, b, c, d] = fields(boxesFile, l, ' ', 5, '<image_id> <xmin> <ymin> <xmax> <ymax>');
        boxes.set(id!, [num(boxesFile, l, a!, 'xmin'), num(boxesFile, l, b!, 'ymin'), num(boxesFile, l, c!, 'xmax'), num(boxesFile, l, d!, 'ymax')]);
      }
      return boxes;
    };
    const cache = new Map<string, DatasetRecord[]>();
    const ds: Dataset = {
      format: 'aircraft',
      root,
      splits,
      boxConvention: 'images_box.txt [xmin, ymin, xmax, ymax] as stored (1-based pixel coordinates, used unchanged by the release)',
      evalProtocol: { resize: 480, crop: 448 },
      async records(s) {
        checkSplit('aircraft', s, splits);
        const hit = cache.get(s);
        if (hit) return hit;
        const b = loadBoxes();
        const sizeFile = path.join(root, `images_${s}_size.txt`);
        const sizes = new Map<string, { width: number; height: number }>();
        if (existsSync(sizeFile)) {
          for (const l of readLines(sizeFile)) {
            const [id, w, h] = fields(sizeFile, l, ' ', 3, '<image_id> <w> <h>');
            sizes.set(id!, { width: num(sizeFile, l, w!, 'w', true), height: num(sizeFile, l, h!, 'h', true) });
          }
        }
        const listFile = existsSync(path.join(root, `images_${s}.txt`)) ? path.join(root, `images_${s}.txt`) : sizeFile;
        const variants = new Map<string, string>();
        const vf = path.join(root, `images_variant_${s}.txt`);
        if (existsSync(vf)) {
          for (const l of readLines(vf)) {
            const [id, name] = fields(vf, l, ' ', 2, '<image_id> <variant>', true);
            variants.set(id!, name!);
          }
        }
        const out = readLines(listFile).map((l) => {
          const id = listFile === sizeFile ? l.text.trim().split(/\s+/)[0]! : l.text.trim();
          if (/\s/.test(id)) throw new UsageError(`${listFile}:${l.no}: expected <image_id>, got "${l.text}"`);
          const r: DatasetRecord = { id, file: path.join(root, 'images', `${id}.jpg`) };
          const box = b.get(id);
          if (box) r.boxes = [box];
          const size = sizes.get(id);
          if (size) r.size = size;
          const v = variants.get(id);
          if (v !== undefined) {
            r.className = v;
            const k = classIndex.get(v);
            if (k === undefined && classNames) throw new UsageError(`${vf}: variant "${v}" of image ${id} is not in variants.txt`);
            if (k !== undefined) r.label = k;
          }
          return r;
        });
        cache.set(s, out);
        return out;
      },
    };
    if (classNames) ds.classNames = classNames;
    return ds;
  },
};
