/**
 * NumPy `.npy` reader/writer for little-endian, C-order float32 (`<f4`), float64 (`<f8`) and uint8 (`|u1`) arrays,
 * format versions 1.0–3.0. Anything else (big-endian, Fortran order, other dtypes, object arrays, truncated data) is
 * refused with an error naming the file and the problem: these files come from users and are parsed, never trusted.
 */
import { UsageError } from '../util/errors.js';
import { readFileBounded, readFileBoundedAsync } from '../util/safe-read.js';
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

/**
 * Parses the python-literal header dict numpy writes, e.g. `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`,
 * strictly as numpy's `read_array_header` does: exactly the keys descr, fortran_order and shape, each once, nothing else
 * (a duplicate `descr`, an unknown key or trailing text is refused instead of guessed at).
 */
function parseHeader(file: string, text: string): { descr: string; fortran: boolean; shape: number[] } {
  const t = text.replace(/[\s\n]+$/, '');
  const unreadable = (why: string): UsageError => bad(file, `unreadable header ${JSON.stringify(text.trim())} (${why})`);
  if (!t.startsWith('{') || !t.endsWith('}')) throw unreadable('not a dict literal');
  const body = t.slice(1, -1);
  const item = /\s*(['"])(\w+)\1\s*:\s*('([^'\\]*)'|"([^"\\]*)"|True|False|\(([^()]*)\))\s*(,|$)/y;
  const seen = new Map<string, string>();
  let shape: string | undefined;
  let pos = 0;
  while (pos < body.length) {
    if (/^\s*$/.test(body.slice(pos))) break;
    item.lastIndex = pos;
    const m = item.exec(body);
    if (!m) throw unreadable(`cannot parse from character ${pos + 1}`);
    const key = m[2]!;
    if (seen.has(key)) throw unreadable(`duplicate key "${key}"`);
    if (key !== 'descr' && key !== 'fortran_order' && key !== 'shape') throw unreadable(`unexpected key "${key}"`);
    seen.set(key, m[4] ?? m[5] ?? m[3]!);
    if (key === 'shape') shape = m[6];
    pos = item.lastIndex;
    if (m[7] === '') break;
  }
  const descr = seen.get('descr');
  const fortran = seen.get('fortran_order');
  if (descr === undefined || fortran === undefined || shape === undefined) throw unreadable('needs descr, fortran_order and shape');
  if (/^\(|^True$|^False$/.test(descr) || (fortran !== 'True' && fortran !== 'False')) throw unreadable('descr must be a string, fortran_order a bool');
  if (seen.get('shape')![0] !== '(') throw unreadable('shape must be a tuple');
  const parts = shape.split(',').map((x) => x.trim());
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length === 1 && parts[0] === '') parts.pop();
  const dims = parts.map((x) => {
    const n = Number(x.replace(/L$/, ''));
    if (!/^\d+L?$/.test(x) || !Number.isSafeInteger(n)) throw bad(file, `bad shape entry "${x}"`);
    return n;
  });
  return { descr, fortran: fortran === 'True', shape: dims };
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
  if (!Number.isSafeInteger(need)) throw bad(file, `shape [${h.shape.join(',')}] is too large`);
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
  return decodeNpy(readFileBounded(file, 'arrayBytes', '.npy file'), file);
}

/** Reads a `.npy` file asynchronously. @throws UsageError naming the file. */
export async function readNpy(file: string): Promise<NpyArray> {
  return decodeNpy(await readFileBoundedAsync(file, 'arrayBytes', '.npy file'), file);
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
