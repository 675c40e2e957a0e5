/**
 * Bring-your-own-features input: a directory of `<stem>.npy` float32 arrays shaped [h,w,C] (one per image), and a
 * labels CSV with lines `stem,classIndex`.
 */
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../util/errors.js';
import { readNpy } from './npy.js';
import { readTextBounded } from '../util/safe-read.js';

/** One feature file. */
export interface FeatureFile {
  /** File name without `.npy`. */
  stem: string;
  /** Absolute path. */
  file: string;
}

/**
 * Lists `<stem>.npy` files of `dir`, sorted by stem (code-point order).
 * @throws UsageError when the directory is missing or holds no .npy file.
 */
export function listFeatureFiles(dir: string): FeatureFile[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new UsageError(`${dir}: not a directory`);
    names = readdirSync(dir);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${dir}: cannot read features directory: ${(e as Error).message}`);
  }
  const files = names
    .filter((n) => n.endsWith('.npy'))
    .sort()
    .map((n) => ({ stem: n.slice(0, -4), file: path.resolve(dir, n) }));
  if (files.length === 0) throw new UsageError(`${dir}: no .npy feature files`);
  return files;
}

/** A feature map read from disk. */
export interface FeatureMap {
  stem: string;
  file: string;
  /** [h,w,C]. */
  shape: [number, number, number];
  /** Row-major float32 values. */
  data: Float32Array;
}

/**
 * Reads one feature file and checks it is float32 [h,w,C] (and C = `channels` when given).
 * @throws UsageError naming the file.
 */
export async function readFeatureMap(f: FeatureFile, channels?: number): Promise<FeatureMap> {
  const a = await readNpy(f.file);
  if (a.dtype !== 'float32') throw new UsageError(`${f.file}: features must be float32, got ${a.dtype}`);
  if (a.shape.length !== 3) throw new UsageError(`${f.file}: features must have shape [h,w,C], got [${a.shape.join(',')}]`);
  const [h, w, c] = a.shape as [number, number, number];
  if (h === 0 || w === 0 || c === 0) throw new UsageError(`${f.file}: empty feature map [${a.shape.join(',')}]`);
  if (channels !== undefined && c !== channels) {
    throw new UsageError(`${f.file}: has ${c} channels but earlier files have ${channels} (mixed C across files)`);
  }
  for (let i = 0; i < a.data.length; i++) {
    if (!Number.isFinite(a.data[i]!)) throw new UsageError(`${f.file}: non-finite value at flat index ${i}`);
  }
  return { stem: f.stem, file: f.file, shape: [h, w, c], data: a.data as Float32Array };
}

/**
 * Reads a labels CSV: lines `stem,classIndex` (integer ≥ 0). Blank lines and lines starting with `#` are skipped; a
 * first line starting with `stem,` is taken as a header.
 * @throws UsageError naming the file and line for malformed or duplicate lines.
 */
export function readLabelsCsv(file: string): Map<string, number> {
  const text = readTextBounded(file, 'textBytes', 'labels');
  const out = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    if (i === 0 && /^stem\s*,/i.test(line)) return;
    const parts = line.split(',').map((s) => s.trim());
    if (parts.length !== 2 || !parts[0]) throw new UsageError(`${file}:${i + 1}: expected "stem,classIndex", got "${line}"`);
    if (!/^\d+$/.test(parts[1]!)) throw new UsageError(`${file}:${i + 1}: class index "${parts[1]}" is not an integer ≥ 0`);
    if (out.has(parts[0])) throw new UsageError(`${file}:${i + 1}: duplicate stem "${parts[0]}"`);
    out.set(parts[0], Number(parts[1]));
  });
  if (out.size === 0) throw new UsageError(`${file}: no labels`);
  return out;
}
