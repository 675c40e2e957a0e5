/**
 * Stanford Cars (Krause et al. 2013) with its devkit .mat annotations.
 */
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { UsageError } from '../../util/errors.js';
import { matNumber, matString, matStrings, matStructElements, matVar, readMat } from '../mat.js';
import type { Dataset, DatasetReader, DatasetRecord } from './types.js';
import { checkSplit, fields, firstExisting, mustExist, num, readLines } from './util.js';

const LAYOUT = `Stanford Cars (--data-dir holds devkit/, cars_train/, cars_test/):
  devkit/cars_train_annos.mat   struct array "annotations": bbox_x1, bbox_y1, bbox_x2, bbox_y2, class, fname
  devkit/cars_test_annos_withlabels.mat (or in --data-dir; else devkit/cars_test_annos.mat without class)
  devkit/cars_meta.mat          cell array "class_names" (class k is class_names{k})
  images: cars_train/<fname>, cars_test/<fname>; label = class − 1; box = [bbox_x1, bbox_y1, bbox_x2, bbox_y2]
  devkit/cars_<split>_size.txt  (optional; the release's "w h" per annotation, in order: the sizes its boxes scale from)
Alternative layout: cars_annos.mat (annotations with relative_im_path, bbox_*, class, test) + car_ims/.`;

function fromAnnos(file: string, imageDir: string, filter?: (el: Record<string, import('../mat.js').MatValue>) => boolean, nameField = 'fname', classNames?: string[]): DatasetRecord[] {
  const vars = readMat(file);
  const need = ['bbox_x1', 'bbox_y1', 'bbox_x2', 'bbox_y2', nameField];
  const els = matStructElements(matVar(vars, 'annotations', file), need, `${file}: annotations`);
  const out: DatasetRecord[] = [];
  els.forEach((el, i) => {
    if (filter && !filter(el)) return;
    const w = `${file}: annotations(${i + 1})`;
    const name = matString(el[nameField]!, `${w}.${nameField}`);
    const r: DatasetRecord = {
      id: path.basename(name),
      file: path.join(imageDir, nameField === 'fname' ? name : path.basename(name)),
      boxes: [[matNumber(el.bbox_x1!, `${w}.bbox_x1`), matNumber(el.bbox_y1!, `${w}.bbox_y1`), matNumber(el.bbox_x2!, `${w}.bbox_x2`), matNumber(el.bbox_y2!, `${w}.bbox_y2`)]],
    };
    if (el.class) {
      r.label = matNumber(el.class, `${w}.class`) - 1;
      const n = classNames?.[r.label];
      if (n) r.className = n;
    }
    out.push(r);
  });
  return out;
}

/**
 * The release's unpublished `devkit/cars_<split>_size.txt` ("w h" per line, in annotation order; cars.py:62-76): the
 * sizes its box transform scales from. Optional; sets `record.size` (used under the release protocol).
 */
function withStatedSizes(records: DatasetRecord[], file: string): void {
  if (!existsSync(file)) return;
  const lines = readLines(file);
  if (lines.length < records.length) throw new UsageError(`${file}: ${lines.length} sizes for ${records.length} annotations (one "w h" line per annotation, in order)`);
  records.forEach((r, i) => {
    const l = lines[i]!;
    const [w, h] = fields(file, l, ' ', 2, '<w> <h>');
    r.size = { width: num(file, l, w!, 'w', true), height: num(file, l, h!, 'h', true) };
  });
}

export const carsReader: DatasetReader = {
  name: 'cars',
  description: 'Stanford Cars with devkit .mat annotations: --data-dir holding devkit/, cars_train/, cars_test/',
  layout: LAYOUT,
  async open(opts) {
    const root = opts.dataDir;
    mustExist(root, 'Stanford Cars folder (`dataDir`)', true, 'dataDir');
    const devkit = path.join(root, 'devkit');
    const all = path.join(root, 'cars_annos.mat');
    const metaFile = firstExisting([path.join(devkit, 'cars_meta.mat'), path.join(root, 'cars_meta.mat')]);
    const classNames = metaFile ? matStrings(matVar(readMat(metaFile), 'class_names', metaFile), `${metaFile}: class_names`) : undefined;
    let train: () => DatasetRecord[];
    let test: () => DatasetRecord[];
    if (existsSync(path.join(devkit, 'cars_train_annos.mat'))) {
      const testFile = firstExisting([path.join(devkit, 'cars_test_annos_withlabels.mat'), path.join(root, 'cars_test_annos_withlabels.mat'), path.join(devkit, 'cars_test_annos.mat')]);
      train = () => fromAnnos(path.join(devkit, 'cars_train_annos.mat'), path.join(root, 'cars_train'), undefined, 'fname', classNames);
      test = () => {
        if (!testFile) throw new UsageError(`${path.join(devkit, 'cars_test_annos_withlabels.mat')}: no test annotations (nor devkit/cars_test_annos.mat)`);
        return fromAnnos(testFile, path.join(root, 'cars_test'), undefined, 'fname', classNames);
      };
    } else if (existsSync(all)) {
      const isTest = (el: Record<string, import('../mat.js').MatValue>): boolean => (el.test ? matNumber(el.test, `${all}: test`) === 1 : false);
      train = () => fromAnnos(all, path.join(root, 'car_ims'), (el) => !isTest(el), 'relative_im_path', classNames);
      test = () => fromAnnos(all, path.join(root, 'car_ims'), isTest, 'relative_im_path', classNames);
    } else {
      throw new UsageError(`${root}: not a Stanford Cars folder (no devkit/cars_train_annos.mat, no cars_annos.mat)`);
    }
    const cache = new Map<string, DatasetRecord[]>();
    const ds: Dataset = {
      format: 'cars',
      root,
      splits: ['train', 'test'],
      boxConvention: 'devkit bbox_x1, bbox_y1, bbox_x2, bbox_y2 as stored (MATLAB pixel coordinates, used unchanged by the release)',
      evalProtocol: { resize: 480, crop: 448 },
      async records(s) {
        checkSplit('cars', s, ds.splits);
        let r = cache.get(s);
        if (!r) {
          r = s === 'train' ? train() : test();
          withStatedSizes(r, path.join(devkit, `cars_${s}_size.txt`));
          cache.set(s, r);
        }
        return r;
      },
    };
    if (classNames) ds.classNames = classNames;
    return ds;
  },
};
