/**
 * Stanford Dogs (Khosla et al. 2011): .mat split lists and per-image VOC XML annotations.
 */
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { UsageError } from '../../util/errors.js';
import { matNumbers, matStrings, matVar, readMat } from '../mat.js';
import { readVocXml } from '../xml.js';
import type { Dataset, DatasetReader, DatasetRecord } from './types.js';
import { checkSplit, mustExist } from './util.js';

const LAYOUT = `Stanford Dogs (--data-dir holds Images/, Annotation/, train_list.mat, test_list.mat):
  <split>_list.mat   file_list (N×1 cell: "<wnid>-<Breed>/<wnid>_<n>.jpg"), annotation_list (N×1 cell, no
                     extension), labels (N×1, 1-based: label = labels − 1)
  Annotation/<annotation>   VOC XML: <size><width/><height/></size>, one <object><bndbox><xmin/>…</bndbox> per dog
  Images/<file>             the photo; class name = folder name after "<wnid>-"`;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export const dogsReader: DatasetReader = {
  name: 'dogs',
  description: 'Stanford Dogs (train_list.mat/test_list.mat, XML annotations): --data-dir holding Images/ and Annotation/',
  layout: LAYOUT,
  async open(opts) {
    const root = opts.dataDir;
    mustExist(root, 'Stanford Dogs folder (`dataDir`)', true, 'dataDir');
    if (!existsSync(path.join(root, 'Images')) && !existsSync(path.join(root, 'train_list.mat'))) throw new UsageError(`${root}: not a Stanford Dogs folder (no Images/, no train_list.mat)`);
    const cache = new Map<string, DatasetRecord[]>();
    // Class names from the first list found (folder "<wnid>-<Breed>" of each file, indexed by its label).
    const classNames: string[] = [];
    const listed = ['file_list.mat', 'train_list.mat', 'test_list.mat'].map((f) => path.join(root, f)).find((f) => existsSync(f));
    if (listed) {
      const v = readMat(listed);
      const files = matStrings(matVar(v, 'file_list', listed), `${listed}: file_list`);
      const labels = matNumbers(matVar(v, 'labels', listed), `${listed}: labels`);
      files.forEach((f, i) => {
        const k = labels[i]! - 1;
        if (Number.isInteger(k) && k >= 0 && !classNames[k]) classNames[k] = breedName(f);
      });
    }
    const ds: Dataset = {
      format: 'dogs',
      root,
      splits: ['train', 'test'],
      boxConvention: 'VOC XML [xmin, ymin, xmax, ymax] as written (one box per dog)',
      evalProtocol: { resize: 480, crop: 448 },
      async records(s) {
        checkSplit('dogs', s, ds.splits);
        const hit = cache.get(s);
        if (hit) return hit;
        const listFile = path.join(root, `${s}_list.mat`);
        const vars = readMat(listFile);
        const files = matStrings(matVar(vars, 'file_list', listFile), `${listFile}: file_list`);
        const anns = matStrings(matVar(vars, 'annotation_list', listFile), `${listFile}: annotation_list`);
        const labels = matNumbers(matVar(vars, 'labels', listFile), `${listFile}: labels`);
        if (anns.length !== files.length || labels.length !== files.length) throw new UsageError(`${listFile}: file_list (${files.length}), annotation_list (${anns.length}) and labels (${labels.length}) differ in length`);
        const out = await mapLimit(files.map((_, i) => i), 16, async (i) => {
          const file = files[i]!;
          const label = labels[i]! - 1;
          if (!Number.isInteger(label) || label < 0) throw new UsageError(`${listFile}: labels(${i + 1}) = ${labels[i]} is not a 1-based class index`);
          const name = breedName(file);
          if (!classNames[label]) classNames[label] = name;
          const r: DatasetRecord = { id: anns[i]!, file: path.join(root, 'Images', file), label, className: name };
          const a = await readVocXml(path.join(root, 'Annotation', anns[i]!));
          r.boxes = a.objects.map((o) => o.box);
          if (a.size) r.size = a.size;
          return r;
        });
        cache.set(s, out);
        return out;
      },
    };
    if (classNames.length) ds.classNames = classNames;
    return ds;
  },
};

function breedName(file: string): string {
  return (file.split('/')[0] ?? '').replace(/^n\d+-/, '');
}
