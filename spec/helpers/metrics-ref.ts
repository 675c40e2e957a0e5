// The metrics reference fixture (tools/ref_metrics.py): datasets and expected results, shared by the metrics and
// evaluate-CLI specs.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { CornerBox } from '../../src/util/box.js';
import { genMap, type GenParams } from './gen-maps.js';

const DIR = path.join('spec', 'fixtures', 'metrics');

/** One synthetic image as committed by tools/ref_metrics.py. */
export interface RefImage {
  id: string;
  h: number;
  w: number;
  params?: GenParams;
  values?: number[];
  gt?: CornerBox[];
  gtOrig?: CornerBox[];
  size?: [number, number];
  rank?: number;
  fg?: GenParams;
  fgCut?: number;
  ign?: GenParams;
  ignCut?: number;
  maskValues?: number[];
}

/** The reference fixture. */
export interface Reference {
  grids: Record<string, [number, number, number]>;
  datasets: Record<string, RefImage[]>;
  results: Record<string, Record<string, unknown>>;
  sums: { values: number[]; sum: number }[];
  png: { channels: number; png: string; gray: number[]; h: number; w: number }[];
}

export function loadReference(): Reference {
  return JSON.parse(readFileSync(path.join(DIR, 'reference.json'), 'utf8')) as Reference;
}

/** The score map of a reference image. */
export function refMap(im: RefImage): Float32Array {
  return im.params ? genMap(im.params) : Float32Array.from(im.values!);
}

/** The ground-truth mask (1 / 0 / 255) of a reference mask image. */
export function refMask(im: RefImage): Uint8Array {
  if (im.maskValues) return Uint8Array.from(im.maskValues);
  const fg = genMap(im.fg!);
  const ign = genMap(im.ign!);
  const fc = Math.fround(im.fgCut!);
  const ic = Math.fround(im.ignCut!);
  return Uint8Array.from(fg, (v, i) => (v > fc ? 1 : ign[i]! > ic ? 255 : 0));
}

