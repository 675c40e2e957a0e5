/**
 * The file format of representer points: how a fit stores its K most excitatory and K most inhibitory training points
 * in a predictor (`extras.representers`, f̂ as base64 float32 little-endian) and how they are read back from an untrusted
 * predictor file (every field checked). The points themselves are selected in representers.ts.
 */
import { UsageError } from '../util/errors.js';
import { base64ToBytes, bytesToBase64, floatBytes } from '../util/base64.js';
import type { Predictor } from './predictor.js';
import type { RepresenterPoint, RepresenterSet } from './representers.js';

/** Format tag of representer points stored in `predictor.extras.representers`. */
export const REPRESENTERS_FORMAT = 'uol-rps-representers';

/** A representer point as stored in a predictor: f̂ as base64 float32 little-endian. */
type StoredPoint = Omit<RepresenterPoint, 'feature'> & { feature: string };

/** JSON form of a {@link RepresenterSet} (without the aggregate). */
export interface StoredRepresenters {
  format: typeof REPRESENTERS_FORMAT;
  version: 1;
  /** α frame: always `unit-w` (Σα f̂ = the stored unit w). */
  frame: 'unit-w';
  /** How the points were selected. */
  selection: 'exact top-K by alpha (streaming pass)';
  k: number;
  residual: number;
  summary: RepresenterSet['summary'];
  excitatory: StoredPoint[];
  inhibitory: StoredPoint[];
}

function encPoint(p: RepresenterPoint): StoredPoint {
  const s: StoredPoint = {
    id: p.id,
    grid: p.grid,
    row: p.row,
    col: p.col,
    alpha: p.alpha,
    norm: p.norm,
    feature: bytesToBase64(floatBytes(p.feature)),
  };
  if (p.imageFile !== undefined) s.imageFile = p.imageFile;
  if (p.inputSize) s.inputSize = p.inputSize;
  if (p.imageSize) s.imageSize = p.imageSize;
  return s;
}

/** JSON-safe form for `predictor.extras.representers`. */
export function encodeRepresenters(r: RepresenterSet, k: number): StoredRepresenters {
  return {
    format: REPRESENTERS_FORMAT,
    version: 1,
    frame: 'unit-w',
    selection: 'exact top-K by alpha (streaming pass)',
    k,
    residual: r.residual,
    summary: r.summary,
    excitatory: r.excitatory.map(encPoint),
    inhibitory: r.inhibitory.map(encPoint),
  };
}

/**
 * Reads the representer points stored in a predictor, or undefined when it has none.
 * @throws UsageError for malformed content (naming `file`).
 */
export function storedRepresenters(p: Predictor, file = '<predictor>'): { excitatory: RepresenterPoint[]; inhibitory: RepresenterPoint[]; k: number } | undefined {
  const r = p.extras?.representers as Partial<StoredRepresenters> | undefined;
  if (r === undefined) return undefined;
  if (!r || r.format !== REPRESENTERS_FORMAT || r.version !== 1) throw new UsageError(`${file}: extras.representers: not a version-1 ${REPRESENTERS_FORMAT} block`);
  const C = p.backbone.channels;
  const dec = (s: StoredPoint, i: number, side: string): RepresenterPoint => {
    const where = `${file}: extras.representers.${side}[${i}]`;
    if (!s || typeof s.id !== 'string' || !Array.isArray(s.grid) || typeof s.alpha !== 'number' || typeof s.feature !== 'string') {
      throw new UsageError(`${where}: malformed point`);
    }
    const pair = (v: unknown): boolean => Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x) && (x as number) > 0);
    if (!pair(s.grid)) throw new UsageError(`${where}: grid must be two positive integers, got ${JSON.stringify(s.grid)}`);
    if (!Number.isInteger(s.row) || !Number.isInteger(s.col) || s.row < 0 || s.col < 0 || s.row >= s.grid[0] || s.col >= s.grid[1]) {
      throw new UsageError(`${where}: cell (${String(s.row)}, ${String(s.col)}) is outside its ${s.grid[0]}×${s.grid[1]} grid`);
    }
    if (s.imageFile !== undefined && typeof s.imageFile !== 'string') throw new UsageError(`${where}: imageFile must be a string`);
    for (const k of ['inputSize', 'imageSize'] as const) {
      if (s[k] !== undefined && !pair(s[k])) throw new UsageError(`${where}: ${k} must be two positive integers [H,W], got ${JSON.stringify(s[k])}`);
    }
    const buf = base64ToBytes(s.feature);
    if (!buf) throw new UsageError(`${where}: feature is not base64`);
    if (buf.length !== C * 4) throw new UsageError(`${where}: feature has ${buf.length} bytes, expected ${C * 4}`);
    const feature = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    const p: RepresenterPoint = { id: s.id, grid: s.grid, row: s.row, col: s.col, alpha: s.alpha, norm: s.norm, feature };
    if (s.imageFile !== undefined) p.imageFile = s.imageFile;
    if (s.inputSize) p.inputSize = s.inputSize;
    if (s.imageSize) p.imageSize = s.imageSize;
    return p;
  };
  return {
    excitatory: (r.excitatory ?? []).map((s, i) => dec(s, i, 'excitatory')),
    inhibitory: (r.inhibitory ?? []).map((s, i) => dec(s, i, 'inhibitory')),
    k: Number(r.k ?? 0),
  };
}
