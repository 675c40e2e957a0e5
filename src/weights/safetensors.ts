/**
 * Reader for `.safetensors` files: 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [start, end]}, __metadata__?}`, then the data block (offsets relative to it).
 * Hand-written because it is ~60 lines of DataView work and the npm package of that name is an unrelated browser helper.
 * Tensors are read lazily with positioned reads, so a large file is never loaded whole.
 */
import { open as openFile } from 'node:fs/promises';
import { PyDict } from './pickle.js';
import { constants as fsc } from 'node:fs';
import { limit, limitEnv, overLimit } from '../util/limits.js';
import { DTYPE_SIZE, StorageRef, TensorRef, type TensorDtype } from './tensor-ref.js';

const DTYPES: Record<string, TensorDtype> = {
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};

/** An opened safetensors file: `root` maps tensor names to {@link TensorRef}s. */
export interface SafetensorsFile {
  root: PyDict;
  /** `__metadata__` strings, if any. */
  metadata: Record<string, string>;
  close(): Promise<void>;
}

/**
 * True when `head` looks like a safetensors file: a u64 header length then `{`. The length is not judged here (any
 * value counts), so an oversized or absurd one is reported by {@link openSafetensors} as a safetensors problem.
 */
export function isSafetensors(head: Uint8Array): boolean {
  if (head.length < 9) return false;
  const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  return n > 1n && head[8] === 0x7b;
}

/**
 * Opens a safetensors file and validates its header (dtypes, shapes, offsets inside the data block, no overlaps).
 * @throws Error naming the tensor at fault.
 */
export async function openSafetensors(file: string): Promise<SafetensorsFile> {
  const fh = await openFile(file, fsc.O_RDONLY | (fsc.O_NONBLOCK ?? 0));
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error('not a regular file');
    const size = st.size;
    const lenBuf = new Uint8Array(8);
    await fh.read(lenBuf, 0, 8, 0);
    const hlen64 = new DataView(lenBuf.buffer).getBigUint64(0, true);
    if (hlen64 > BigInt(limit('safetensorsHeaderBytes'))) throw new Error(`safetensors header length: ${overLimit('safetensorsHeaderBytes', hlen64 > 2n ** 53n ? hlen64 : Number(hlen64))}`);
    const hlen = Number(hlen64);
    if (hlen <= 0 || 8 + hlen > size) throw new Error(`safetensors header length ${hlen} does not fit a ${size}-byte file`);
    const hbuf = new Uint8Array(hlen);
    await fh.read(hbuf, 0, hlen, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(hbuf)) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`safetensors header is not valid JSON: ${(e as Error).message}`, { cause: e });
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new Error('safetensors header is not a JSON object');
    const count = Object.keys(header).length;
    if (count > limit('checkpointTensors')) throw new Error(`safetensors header lists ${count} tensors, over the ${limit('checkpointTensors')}-tensor cap (raise it with ${limitEnv('checkpointTensors')} if the file is genuine)`);
    const dataStart = 8 + hlen;
    const dataLen = size - dataStart;
    const root = new PyDict('safetensors');
    const metadata: Record<string, string> = {};
    const spans: [number, number, string][] = [];
    for (const [name, spec] of Object.entries(header)) {
      if (name === '__metadata__') {
        if (spec && typeof spec === 'object') for (const [k, v] of Object.entries(spec)) metadata[k] = String(v);
        continue;
      }
      const s = spec as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const dtype = DTYPES[String(s.dtype)];
      if (!dtype) throw new Error(`tensor "${name}": dtype ${String(s.dtype)} is not supported`);
      if (!Array.isArray(s.shape) || !s.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`tensor "${name}": bad shape ${JSON.stringify(s.shape)}`);
      const off = s.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`tensor "${name}": bad data_offsets`);
      const [a, b] = off as [number, number];
      const shape = s.shape as number[];
      const numel = shape.reduce((x, y) => x * y, 1);
      if (root.map.has(name)) throw new Error(`tensor "${name}" appears twice in the header`);
      if (b - a !== numel * DTYPE_SIZE[dtype] || b > dataLen) throw new Error(`tensor "${name}": data_offsets [${a},${b}] do not match shape [${shape.join(',')}] × ${dtype} inside a ${dataLen}-byte data block`);
      if (b > a) spans.push([a, b, name]); // zero-size tensors occupy no bytes and cannot overlap anything
      const storage = new StorageRef(name, dtype, numel, async () => {
        const out = new Uint8Array(b - a);
        const { bytesRead } = await fh.read(out, 0, b - a, dataStart + a);
        if (bytesRead !== b - a) throw new Error(`tensor "${name}": short read`);
        return out;
      });
      const stride = new Array<number>(shape.length);
      for (let i = shape.length - 1, acc = 1; i >= 0; i--) {
        stride[i] = acc;
        acc *= shape[i]!;
      }
      root.map.set(name, new TensorRef(storage, 0, shape, stride));
    }
    spans.sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) if (spans[i]![0] < spans[i - 1]![1]) throw new Error(`tensors "${spans[i - 1]![2]}" and "${spans[i]![2]}" overlap`);
    return { root, metadata, close: () => fh.close() };
  } catch (e) {
    await fh.close();
    throw e;
  }
}
