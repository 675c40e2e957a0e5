/**
 * A plain folder (searched recursively) or a glob of images, e.g. for `uol fit --dataset folder --data-dir photos/`.
 */
import * as path from 'node:path';
import { compareCodeUnits, imageExtensionsText, listImages } from '../image-list.js';
import type { Dataset, DatasetReader, DatasetRecord } from './types.js';
import { checkSplit } from './util.js';

const LAYOUT = `A folder (searched recursively; --data-dir DIR) or a glob (--data-dir 'photos/**/*.jpg'):
  files with extensions ${imageExtensionsText()} (any case; data/image-list.ts), sorted by relative path (code-point order)
  record id = path relative to the folder (or to the glob's base); one split, "all"
  labels as torchvision ImageFolder when every image sits in a first-level subfolder: classes = sorted subfolder names`;

export const folderReader: DatasetReader = {
  name: 'folder',
  description: 'a plain folder of images (recursive) or a glob: --data-dir DIR|GLOB',
  layout: LAYOUT,
  async open(opts) {
    const { base, files: rels } = await listImages(opts.dataDir);
    const twoLevel = rels.every((r) => r.split('/').length === 2);
    const classNames = twoLevel ? [...new Set(rels.map((r) => r.split('/')[0]!))].sort(compareCodeUnits) : undefined;
    const index = new Map(classNames?.map((c, i) => [c, i]));
    const records: DatasetRecord[] = rels.map((r) => {
      const rec: DatasetRecord = { id: r, file: path.join(base, r) };
      if (classNames) {
        rec.className = r.split('/')[0]!;
        rec.label = index.get(rec.className)!;
      }
      return rec;
    });
    const ds: Dataset = {
      format: 'folder',
      root: base,
      splits: ['all'],
      boxConvention: 'no boxes',
      evalProtocol: { resize: 256, crop: 224 },
      async records(s) {
        checkSplit('folder', s, ['all']);
        return records;
      },
    };
    if (classNames) ds.classNames = classNames;
    return ds;
  },
};
