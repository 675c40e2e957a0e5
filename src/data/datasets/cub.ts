/**
 * CUB-200-2011 in its native layout (the folder `CUB_200_2011/` as distributed).
 */
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { UsageError } from '../../util/errors.js';
import type { Dataset, DatasetReader, DatasetRecord } from './types.js';
import { checkSplit, fields, firstExisting, mustExist, num, readLines } from './util.js';

const LAYOUT = `CUB_200_2011/ (--data-dir), space-separated, 1-based ids:
  images.txt              <image_id> <image_name>        image_name relative to images/
  image_class_labels.txt  <image_id> <class_id>          label = class_id − 1
  classes.txt             <class_id> <class_name>        e.g. "1 001.Black_footed_Albatross"
  train_test_split.txt    <image_id> <is_training_image> 1 → train, 0 → test
  bounding_boxes.txt      <image_id> <x> <y> <width> <height>   box = [x, y, x+width, y+height]
  segmentations/<image_name minus .jpg>.png              (optional; in --data-dir or beside it)
The val split of the WSOL protocol (CUBV2) is not part of this layout: read it with --dataset wsol.`;

export const cubReader: DatasetReader = {
  name: 'cub',
  description: 'CUB-200-2011 native layout (images.txt, bounding_boxes.txt, train_test_split.txt, …): --data-dir CUB_200_2011',
  layout: LAYOUT,
  async open(opts) {
    const root = opts.dataDir;
    mustExist(root, 'CUB_200_2011 folder (`dataDir`)', true, 'dataDir');
    if (!existsSync(path.join(root, 'images.txt'))) throw new UsageError(`${root}: not a CUB_200_2011 folder (no images.txt)`);
    const f = (n: string): string => path.join(root, n);
    const images = new Map<string, DatasetRecord>();
    const order: string[] = [];
    for (const l of readLines(f('images.txt'))) {
      const [id, name] = fields(f('images.txt'), l, ' ', 2, '<image_id> <image_name>');
      images.set(id!, { id: name!, file: path.join(root, 'images', name!) });
      order.push(id!);
    }
    const at = (file: string, l: { no: number }, id: string): DatasetRecord => {
      const r = images.get(id);
      if (!r) throw new UsageError(`${file}:${l.no}: image_id ${id} is not in images.txt`);
      return r;
    };
    const classNames: string[] = [];
    if (existsSync(f('classes.txt'))) {
      for (const l of readLines(f('classes.txt'))) {
        const [cid, name] = fields(f('classes.txt'), l, ' ', 2, '<class_id> <class_name>', true);
        classNames[num(f('classes.txt'), l, cid!, 'class_id', true) - 1] = name!.replace(/^\d+\./, '');
      }
    }
    const labelsFile = f('image_class_labels.txt');
    for (const l of readLines(labelsFile)) {
      const [id, cid] = fields(labelsFile, l, ' ', 2, '<image_id> <class_id>');
      const r = at(labelsFile, l, id!);
      r.label = num(labelsFile, l, cid!, 'class_id', true) - 1;
      const n = classNames[r.label];
      if (n) r.className = n;
    }
    const boxesFile = f('bounding_boxes.txt');
    for (const l of readLines(boxesFile)) {
      const [id, x, y, w, h] = fields(boxesFile, l, ' ', 5, '<image_id> <x> <y> <width> <height>');
      const r = at(boxesFile, l, id!);
      const bx = num(boxesFile, l, x!, 'x');
      const by = num(boxesFile, l, y!, 'y');
      (r.boxes ??= []).push([bx, by, bx + num(boxesFile, l, w!, 'width'), by + num(boxesFile, l, h!, 'height')]);
    }
    const seg = firstExisting([path.join(root, 'segmentations'), path.join(path.dirname(path.resolve(root)), 'segmentations')]);
    if (seg) for (const r of images.values()) r.mask = { files: [path.join(seg, r.id.replace(/\.[^.]+$/, '.png'))], kind: 'cub' };
    const splitFile = f('train_test_split.txt');
    const split = new Map<string, string[]>([['train', []], ['test', []]]);
    const seen = new Set<string>();
    for (const l of readLines(splitFile)) {
      const [id, t] = fields(splitFile, l, ' ', 2, '<image_id> <is_training_image>');
      at(splitFile, l, id!);
      if (t !== '0' && t !== '1') throw new UsageError(`${splitFile}:${l.no}: is_training_image must be 0 or 1, got "${t}"`);
      split.get(t === '1' ? 'train' : 'test')!.push(id!);
      seen.add(id!);
    }
    const missing = order.find((id) => !seen.has(id));
    if (missing) throw new UsageError(`${splitFile}: image_id ${missing} has no train/test assignment`);
    const ds: Dataset = {
      format: 'cub',
      root,
      splits: ['train', 'test'],
      boxConvention: 'CUB bounding_boxes.txt [x, y, x+width, y+height] (floats as written; wsolevaluation truncates these to integers)',
      evalProtocol: { resize: 480, crop: 448 },
      async records(s) {
        checkSplit('cub', s, ds.splits);
        return split.get(s)!.map((id) => images.get(id)!);
      },
    };
    if (classNames.length) ds.classNames = classNames;
    return ds;
  },
};
