/**
 * Which files are images, and how image arguments (files, folders, globs) become an ordered list of files. The one
 * home of the image-extension list: `uol extract`, `--train-images` maps (data/image-map.ts), the image arguments of
 * fit/localize/evaluate (pipeline/input.ts) and the `folder` dataset all list images here.
 *
 * Order is deterministic: relative paths sorted by UTF-16 code units (JavaScript's default string order), whatever
 * order the file system returns. Hidden entries (names starting with `.`) are skipped in folders and globs alike.
 * Errors are {@link UsageError}s that start with the argument at fault.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { glob } from 'tinyglobby';
import { UsageError } from '../util/errors.js';

/**
 * File extensions (lower case; matched case-insensitively) of the images uol lists: exactly the formats that decode
 * with the default codec path of data/image-io.ts (sharp, with jimp per file for BMP; spec/image-list.spec.ts decodes
 * one file of each). Not listed: `.ppm`/`.pgm` (torchvision lists them, but neither sharp's prebuilt libvips nor jimp
 * decodes them) and `.heic`/`.avif`/`.svg` (PIL 9.4, the reference decoder, does not read them).
 */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff', '.gif'];

/** True when `file`'s extension is one of {@link IMAGE_EXTENSIONS} (any case). */
export function isImageFile(file: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(file).toLowerCase());
}

/** The extensions as one string for messages: `.jpg .jpeg …`. */
export function imageExtensionsText(): string {
  return IMAGE_EXTENSIONS.join(' ');
}

/** True when `arg` contains glob syntax (`* ? [ ] { }`). */
export function isGlob(arg: string): boolean {
  return /[*?[\]{}]/.test(arg);
}

/** The folder part of a glob before its first wildcard segment (`photos/**\/*.jpg` → `photos`; `*.jpg` → `.`). */
export function globBase(pattern: string): string {
  const parts = pattern.split(/[/\\]/);
  const i = parts.findIndex((p) => isGlob(p));
  return parts.slice(0, i < 0 ? parts.length - 1 : i).join('/') || '.';
}

/** Code-unit string order (the same as `Array.prototype.sort()` without a comparator). */
export const compareCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function walk(root: string, rel: string, recursive: boolean, out: string[]): void {
  for (const e of readdirSync(path.join(root, rel), { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (recursive) walk(root, r, recursive, out);
    } else if ((e.isFile() || e.isSymbolicLink()) && isImageFile(e.name)) out.push(r);
  }
}

/** Images of a folder or glob: the folder (or the glob's base) and the image paths relative to it. */
export interface ImageListing {
  /** The folder given, or the glob's {@link globBase}, as given (not resolved). */
  base: string;
  /** `/`-separated paths relative to `base`, sorted by {@link compareCodeUnits}; never empty. */
  files: string[];
}

/**
 * Lists the images of a folder (recursively unless `recursive: false`) or of a glob (tinyglobby; hidden entries
 * skipped), filtered by {@link IMAGE_EXTENSIONS} and sorted.
 * @throws UsageError naming `arg` when the folder does not exist, is a file, or holds no image.
 */
export async function listImages(arg: string, opts: { recursive?: boolean } = {}): Promise<ImageListing> {
  let base: string;
  let files: string[];
  if (isGlob(arg)) {
    base = globBase(arg);
    const hits = await glob(arg, { onlyFiles: true, dot: false, expandDirectories: false });
    files = hits.filter(isImageFile).map((f) => path.relative(base, f).split(path.sep).join('/'));
  } else {
    base = arg;
    files = listImageFolder(arg, opts);
  }
  files.sort(compareCodeUnits);
  if (files.length === 0) throw new UsageError(`${arg}: no images (${imageExtensionsText()})`);
  return { base, files };
}

/**
 * The synchronous folder half of {@link listImages}: image paths relative to `dir`, sorted; possibly empty.
 * @throws UsageError naming `dir` when it does not exist or is not a folder.
 */
export function listImageFolder(dir: string, opts: { recursive?: boolean } = {}): string[] {
  if (!existsSync(dir)) throw new UsageError(`${dir}: folder not found`);
  if (!statSync(dir).isDirectory()) throw new UsageError(`${dir}: not a folder (give a folder or a glob)`);
  const files: string[] = [];
  walk(dir, '', opts.recursive ?? true, files);
  return files.sort(compareCodeUnits);
}

/**
 * Checks one image file given directly.
 * @throws UsageError naming `file` when it does not exist or its extension is not an image's.
 */
export function checkImageFile(file: string): void {
  if (!existsSync(file)) throw new UsageError(`${file}: file not found`);
  if (!isImageFile(file)) throw new UsageError(`${file}: not an image file name (${imageExtensionsText()})`);
}

/** An image file and the stem its outputs are named after. */
export interface StemmedImage {
  file: string;
  /** File name without its extension. */
  stem: string;
}

/**
 * Expands image arguments into files named by stem (for `<stem>.npy` outputs): a file is kept as given, a folder
 * contributes its images (not recursive), a glob its matches, each in {@link listImages} order, arguments in the
 * order given.
 * @throws UsageError for a missing path, a folder or glob without images, no images at all, or two images with the same
 *   stem (their outputs would collide).
 */
export async function expandImageArgs(args: readonly string[]): Promise<StemmedImage[]> {
  const out: StemmedImage[] = [];
  for (const a of args) {
    if (!isGlob(a) && !existsSync(a)) throw new UsageError(`${a}: no such file or directory`);
    if (isGlob(a) || statSync(a).isDirectory()) {
      const l = await listImages(a, { recursive: false });
      for (const f of l.files) out.push({ file: path.join(l.base, f), stem: path.parse(f).name });
    } else out.push({ file: a, stem: path.parse(a).name });
  }
  if (out.length === 0) throw new UsageError(`no images in ${args.join(', ')}`);
  const seen = new Map<string, string>();
  for (const o of out) {
    const prev = seen.get(o.stem);
    if (prev) throw new UsageError(`${o.file}: same stem "${o.stem}" as ${prev}; outputs would collide`);
    seen.set(o.stem, o.file);
  }
  return out;
}
