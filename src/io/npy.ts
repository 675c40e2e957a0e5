/**
 * NumPy `.npy` reader/writer for little-endian, C-order float32 (`<f4`), float64 (`<f8`) and uint8 (`|u1`) arrays,
 * format versions 1.0–3.0. Anything else (big-endian, Fortran order, other dtypes, object arrays, truncated data) is
 * refused with an error naming the file and the problem: these files come from users and are parsed, never trusted.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { UsageError } from '../util/errors.js';
import { writeFileAtomic, writeFileAtomicSync } from '../util/fs.js';

/** Supported dtypes, numpy spelling. */
export type NpyDtype = 'float32' | 'float64' | 'uint8';

/** An n-d array read from or written to `.npy`: row-major data and its shape. */
export interface NpyArray {
  /** numpy dtype of `data`. */
  dtype: NpyDtype;
  /** Shape (row-major, C order). `[]` for a scalar. */
  shape: number[];
  /** Values; length = product of shape. */
  data: Float32Array | Float64Array | Uint8Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const DESCR: Record<string, NpyDtype> = { '<f4': 'float32', '<f8': 'float64', '|u1': 'uint8', '<u1': 'uint8' };
const DESCR_OUT: Record<NpyDtype, string> = { float32: '<f4', float64: '<f8', uint8: '|u1' };
const ITEMSIZE: Record<NpyDtype, number> = { float32: 4, float64: 8, uint8: 1 };

function bad(file: string, what: string): UsageError {
  return new UsageError(`${file}: not a supported .npy file: ${what}`);
}

/** Parses the python-literal header dict numpy writes, e.g. `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`. */
function parseHeader(file: string, text: string): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]+)['"]/.exec(text);
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text);
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) throw bad(file, `unreadable header ${JSON.stringify(text.trim())}`);
  const dims = shape[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const n = Number(s.replace(/L$/, ''));
      if (!Number.isInteger(n) || n < 0) throw bad(file, `bad shape entry "${s}"`);
      return n;
    });
  return { descr: descr[1]!, fortran: fortran[1] === 'True', shape: dims };
}

/**
 * Decodes `.npy` bytes. `file` is only used in error messages.
 * @throws UsageError naming `file` for anything but little-endian C-order float32/float64/uint8.
 */
export function decodeNpy(bytes: Uint8Array, file = '<buffer>'): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad(file, 'missing \\x93NUMPY magic');
  const major = bytes[6]!;
  let headerLen: number;
  let off: number;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    off = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw bad(file, 'truncated header');
    headerLen = dv.getUint32(8, true);
    off = 12;
  } else {
    throw bad(file, `format version ${major}.${bytes[7]} is not 1.x–3.x`);
  }
  if (off + headerLen > bytes.length) throw bad(file, 'truncated header');
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(off, off + headerLen));
  const h = parseHeader(file, text);
  const dtype = DESCR[h.descr];
  if (!dtype) throw bad(file, `dtype "${h.descr}" (expected <f4, <f8 or |u1, little-endian)`);
  if (h.fortran && h.shape.filter((d) => d > 1).length > 1) throw bad(file, 'Fortran-order arrays are not supported');
  const n = h.shape.reduce((a, b) => a * b, 1);
  const start = off + headerLen;
  const need = n * ITEMSIZE[dtype];
  if (bytes.length - start < need) {
    throw bad(file, `data truncated: ${bytes.length - start} bytes for shape [${h.shape.join(',')}] ${dtype} (need ${need})`);
  }
  if (bytes.length - start > need) throw bad(file, `${bytes.length - start - need} trailing bytes after the data`);
  // Copy into a fresh, aligned buffer (the data offset need not be aligned for the element size).
  const raw = new Uint8Array(need);
  raw.set(bytes.subarray(start, start + need));
  const data = dtype === 'float32' ? new Float32Array(raw.buffer) : dtype === 'float64' ? new Float64Array(raw.buffer) : raw;
  return { dtype, shape: h.shape, data };
}

/** Reads a `.npy` file. @throws UsageError naming the file. */
export function readNpySync(file: string): NpyArray {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new UsageError(`${file}: cannot read: ${(e as Error).message}`);
  }
  return decodeNpy(bytes, file);
}

/** Reads a `.npy` file asynchronously. @throws UsageError naming the file. */
export async function readNpy(file: string): Promise<NpyArray> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new UsageError(`${file}: cannot read: ${(e as Error).message}`);
  }
  return decodeNpy(bytes, file);
}

/** Encodes an array as `.npy` version 1.0 bytes (header padded to a multiple of 64, as numpy does). */
export function encodeNpy(arr: NpyArray): Uint8Array {
  const n = arr.shape.reduce((a, b) => a * b, 1);
  if (arr.data.length !== n) throw new Error(`encodeNpy: data length ${arr.data.length} != product of shape [${arr.shape}]`);
  const shapeStr = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let header = `{'descr': '${DESCR_OUT[arr.dtype]}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + arr.data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength), 10 + header.length);
  return out;
}

function dtypeOf(data: NpyArray['data']): NpyDtype {
  return data instanceof Float32Array ? 'float32' : data instanceof Float64Array ? 'float64' : 'uint8';
}

/** Writes `data` with `shape` to `file` atomically; dtype follows the array type. */
export async function writeNpy(file: string, data: NpyArray['data'], shape: number[]): Promise<void> {
  await writeFileAtomic(file, encodeNpy({ dtype: dtypeOf(data), shape, data }));
}

/** Synchronous {@link writeNpy}. */
export function writeNpySync(file: string, data: NpyArray['data'], shape: number[]): void {
  writeFileAtomicSync(file, encodeNpy({ dtype: dtypeOf(data), shape, data }));
}
