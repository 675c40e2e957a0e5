/**
 * CIFAR-10 / CIFAR-100, binary version (the base sets for zero-shot transfer; upsampled to the fit size by the
 * protocol's resize, as the release's `Resize((224,224))` on `Image.fromarray` does).
 */
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { UsageError } from '../../util/errors.js';
import type { RGBImage } from '../image-io.js';
import type { Dataset, DatasetReader, DatasetRecord } from './types.js';
import { checkSplit, mustExist, readLines } from './util.js';
import { checkRegularFile } from '../../util/safe-read.js';

const PIXELS = 32 * 32 * 3;

interface Variant {
  name: string;
  folder: string;
  files: Record<string, string[]>;
  labelBytes: number;
  /** Which label byte is the class (CIFAR-100: fine label = byte 1). */
  labelByte: number;
  names: string;
}

const C10: Variant = {
  name: 'cifar10',
  folder: 'cifar-10-batches-bin',
  files: { train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'], test: ['test_batch.bin'] },
  labelBytes: 1,
  labelByte: 0,
  names: 'batches.meta.txt',
};
const C100: Variant = { name: 'cifar100', folder: 'cifar-100-binary', files: { train: ['train.bin'], test: ['test.bin'] }, labelBytes: 2, labelByte: 1, names: 'fine_label_names.txt' };
/** CIFAR-100 with its 20 coarse labels (superclasses, byte 0): the release's `CIFAR100C`. */
const C100C: Variant = { ...C100, name: 'cifar100c', labelByte: 0, names: 'coarse_label_names.txt' };

/** Reads one record's label and pixels from its byte offset (channel-planar R, G, B rows → packed RGB). */
async function readRecord(file: string, offset: number, v: Variant): Promise<{ label: number; image: RGBImage }> {
  const fh = await openFile(file, 'r');
  try {
    const buf = Buffer.alloc(v.labelBytes + PIXELS);
    const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
    if (bytesRead !== buf.length) throw new UsageError(`${file}: truncated record at byte ${offset}`);
    const data = new Uint8Array(PIXELS);
    const px = 32 * 32;
    for (let p = 0; p < px; p++) {
      data[p * 3] = buf[v.labelBytes + p]!;
      data[p * 3 + 1] = buf[v.labelBytes + px + p]!;
      data[p * 3 + 2] = buf[v.labelBytes + 2 * px + p]!;
    }
    return { label: buf[v.labelByte]!, image: { width: 32, height: 32, data } };
  } finally {
    await fh.close();
  }
}

/** Reads every label byte of a batch file without its pixels (for listing). */
async function readLabels(file: string, v: Variant): Promise<number[]> {
  const rec = v.labelBytes + PIXELS;
  const { size } = checkRegularFile(file, 'arrayBytes', 'CIFAR batch file');
  if (size % rec !== 0) throw new UsageError(`${file}: size ${size} is not a multiple of the ${rec}-byte record of ${v.name}`);
  const n = size / rec;
  const out: number[] = [];
  const fh = await openFile(file, 'r');
  try {
    const per = 1024; // records per read (~3 MB)
    const b = Buffer.alloc(per * rec);
    for (let i = 0; i < n; i += per) {
      const k = Math.min(per, n - i);
      const { bytesRead } = await fh.read(b, 0, k * rec, i * rec);
      if (bytesRead !== k * rec) throw new UsageError(`${file}: short read at record ${i}`);
      for (let j = 0; j < k; j++) out.push(b[j * rec + v.labelByte]!);
    }
  } finally {
    await fh.close();
  }
  return out;
}

function reader(v: Variant): DatasetReader {
  return {
    name: v.name,
    description: `${v.name.toUpperCase().replace('CIFAR', 'CIFAR-')} binary version: --data-dir ${v.folder} (or its parent)`,
    layout: `${v.folder}/ (--data-dir, or its parent):
  ${[...v.files.train!, ...v.files.test!].join(', ')}: records of ${v.labelBytes === 1 ? '<1 byte label>' : '<1 byte coarse label><1 byte fine label>'}<3072 bytes: 1024 R, 1024 G, 1024 B, row-major 32×32>
  ${v.names}: class names, one per line (label order)
Record ids: <split>/<index, 5 digits>; images are 32×32 pixels held in memory, no file.`,
    async open(opts) {
      mustExist(opts.dataDir, `${v.name} folder (\`dataDir\`)`, true, 'dataDir');
      const root = existsSync(path.join(opts.dataDir, v.files.test![0]!)) ? opts.dataDir : path.join(opts.dataDir, v.folder);
      if (!existsSync(path.join(root, v.files.test![0]!)) && !existsSync(path.join(root, v.files.train![0]!))) {
        throw new UsageError(`${opts.dataDir}: not a ${v.name} binary folder (no ${v.files.train![0]} or ${v.files.test![0]})`);
      }
      const splits = Object.keys(v.files).filter((s) => v.files[s]!.some((f) => existsSync(path.join(root, f))));
      const namesFile = path.join(root, v.names);
      const classNames = existsSync(namesFile) ? readLines(namesFile).map((l) => l.text.trim()) : undefined;
      const cache = new Map<string, DatasetRecord[]>();
      const ds: Dataset = {
        format: v.name,
        root,
        splits,
        boxConvention: 'no boxes (classification set)',
        evalProtocol: { resize: 256, crop: 224 },
        async records(s) {
          checkSplit(v.name, s, splits);
          const hit = cache.get(s);
          if (hit) return hit;
          const out: DatasetRecord[] = [];
          for (const f of v.files[s]!) {
            const file = path.join(root, f);
            if (!existsSync(file)) throw new UsageError(`${file}: ${v.name} ${s} batch file not found`);
            const labels = await readLabels(file, v);
            labels.forEach((label, i) => {
              const offset = i * (v.labelBytes + PIXELS);
              const r: DatasetRecord = {
                id: `${s}/${String(out.length).padStart(5, '0')}`,
                label,
                size: { width: 32, height: 32 },
                pixels: async () => (await readRecord(file, offset, v)).image,
              };
              const n = classNames?.[label];
              if (n) r.className = n;
              out.push(r);
            });
          }
          cache.set(s, out);
          return out;
        },
      };
      if (classNames) ds.classNames = classNames;
      return ds;
    },
  };
}

export const cifar10Reader = reader(C10);
export const cifar100Reader = reader(C100);
/** CIFAR-100 binary version, coarse labels (20 superclasses; the release's `--base_dataset CIFAR100C`). */
export const cifar100cReader = reader(C100C);
