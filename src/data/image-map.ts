/**
 * Which image file belongs to which feature stem: for crops of training patches in explanations. Either a directory
 * (every image file `<stem>.<ext>` in it, listed by data/image-list.ts, not recursive) or a CSV of `stem,file` lines (relative
 * paths are taken relative to the CSV's directory).
 */
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../util/errors.js';
import { readTextBounded } from '../util/safe-read.js';
import { imageExtensionsText, listImageFolder } from './image-list.js';

/**
 * Reads a stem → image file map from a directory or a CSV.
 * @throws UsageError naming the path (and line) at fault, e.g. two images with one stem or a malformed line.
 */
export function readImageMap(p: string): Map<string, string> {
  let st;
  try {
    st = statSync(p);
  } catch (e) {
    throw new UsageError(`${p}: cannot read image map: ${(e as Error).message}`);
  }
  const out = new Map<string, string>();
  if (st.isDirectory()) {
    for (const n of listImageFolder(p, { recursive: false })) {
      const stem = n.slice(0, -path.extname(n).length);
      if (out.has(stem)) throw new UsageError(`${p}: two images for stem "${stem}" (${path.basename(out.get(stem)!)} and ${n})`);
      out.set(stem, path.resolve(p, n));
    }
    if (out.size === 0) throw new UsageError(`${p}: no image files (${imageExtensionsText()})`);
    return out;
  }
  const base = path.dirname(path.resolve(p));
  readTextBounded(p, 'textBytes', 'image list')
    .split(/\r?\n/)
    .forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#') || (i === 0 && /^stem\s*,/i.test(line))) return;
      const k = line.indexOf(',');
      if (k <= 0 || k === line.length - 1) throw new UsageError(`${p}:${i + 1}: expected "stem,file", got "${line}"`);
      const stem = line.slice(0, k).trim();
      if (out.has(stem)) throw new UsageError(`${p}:${i + 1}: duplicate stem "${stem}"`);
      out.set(stem, path.resolve(base, line.slice(k + 1).trim()));
    });
  if (out.size === 0) throw new UsageError(`${p}: no "stem,file" lines`);
  return out;
}
