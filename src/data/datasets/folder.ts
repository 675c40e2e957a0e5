/**
 * A plain folder (searched recursively) or a glob of images, e.g. for `uol fit --dataset folder --data-dir photos/`.
 */
import * as path from 'node:path';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { glob } from 'tinyglobby';
import { UsageError } from '../../util/errors.js';
import type { Dataset, DatasetReader, DatasetRecord } from './types.js';
import { checkSplit } from './util.js';

/** torchvision's IMG_EXTENSIONS (case-insensitive). */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp'];

const LAYOUT = `A folder (searched recursively; --data-dir DIR) or a glob (--data-dir 'photos/**/*.jpg'):
  files with extensions ${IMAGE_EXTENSIONS.join(' ')} (any case), sorted by relative path (code-point order)
  record id = path relative to the folder (or to the glob's base); one split, "all"
  labels as torchvision ImageFolder when every image sits in a first-level subfolder: classes = sorted subfolder names`;

function isImage(f: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(f).toLowerCase());
}

function walk(dir: string, rel: string, out: string[]): void {
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) walk(dir, r, out);
    else if ((e.isFile() || e.isSymbolicLink()) && isImage(e.name)) out.push(r);
  }
}

function globBase(pattern: string): string {
  const parts = pattern.split(/[/\\]/);
  const i = parts.findIndex((p) => /[*?[\]{}]/.test(p));
  return parts.slice(0, i < 0 ? parts.length - 1 : i).join('/') || '.';
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export const folderReader: DatasetReader = {
  name: 'folder',
  description: 'a plain folder of images (recursive) or a glob: --data-dir DIR|GLOB',
  layout: LAYOUT,
  async open(opts) {
    const spec = opts.dataDir;
    let base: string;
    let rels: string[];
    if (/[*?[\]{}]/.test(spec)) {
      base = globBase(spec);
      const hits = await glob(spec, { onlyFiles: true, dot: false, expandDirectories: false });
      rels = hits.filter(isImage).map((f) => path.relative(base, f).split(path.sep).join('/'));
    } else {
      if (!existsSync(spec)) throw new UsageError(`${spec}: folder not found`);
      if (!statSync(spec).isDirectory()) throw new UsageError(`${spec}: not a folder (give a folder or a glob)`);
      base = spec;
      rels = [];
      walk(spec, '', rels);
    }
    rels.sort(cmp);
    if (rels.length === 0) throw new UsageError(`${spec}: no images (${IMAGE_EXTENSIONS.join(' ')})`);
    const twoLevel = rels.every((r) => r.split('/').length === 2);
    const classNames = twoLevel ? [...new Set(rels.map((r) => r.split('/')[0]!))].sort(cmp) : undefined;
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
