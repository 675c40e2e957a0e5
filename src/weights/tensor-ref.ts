/**
 * Lazily read tensors of a checkpoint: a {@link TensorRef} (dtype, shape, strides, offset) over a {@link StorageRef}
 * (raw little-endian bytes read on demand), and their conversion to float32 — including the non-contiguous views
 * (transposes, slices with offsets) torch can save.
 */

/** Element types found in checkpoints. */
export type TensorDtype = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** Bytes per element. */
export const DTYPE_SIZE: Record<TensorDtype, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** A storage (a flat typed buffer) whose bytes are read when first needed. */
export class StorageRef {
  readonly kind = 'storage';
  private cached?: Promise<Uint8Array>;
  constructor(
    /** Key of the storage inside the file (zip entry name / legacy key / tensor name). */
    readonly key: string,
    readonly dtype: TensorDtype,
    /** Number of elements. */
    readonly numel: number,
    private readonly loader: () => Promise<Uint8Array>,
  ) {}
  /** Raw bytes (numel · itemsize), read once and cached until {@link StorageRef.release}. */
  bytes(): Promise<Uint8Array> {
    this.cached ??= this.loader().then((b) => {
      const need = this.numel * DTYPE_SIZE[this.dtype];
      if (b.length < need) throw new Error(`storage "${this.key}" has ${b.length} bytes, expected ${need} (${this.numel} × ${this.dtype})`);
      return b;
    });
    return this.cached;
  }
  /** Drops the cached bytes. */
  release(): void {
    this.cached = undefined;
  }
}

/** A tensor: a strided view into a storage. */
export class TensorRef {
  readonly kind = 'tensor';
  constructor(
    readonly storage: StorageRef,
    /** Element offset of [0,…,0] in the storage. */
    readonly offset: number,
    readonly shape: number[],
    /** Element strides, one per dim. */
    readonly stride: number[],
  ) {}
  /** Element type (the storage's). */
  get dtype(): TensorDtype {
    return this.storage.dtype;
  }
  /** Number of elements. */
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  /** True when the view is the row-major contiguous layout. */
  get contiguous(): boolean {
    let expect = 1;
    for (let d = this.shape.length - 1; d >= 0; d--) {
      if (this.shape[d]! !== 1 && this.stride[d]! !== expect) return false;
      expect *= this.shape[d]!;
    }
    return true;
  }
}

/** True when `v` is a {@link TensorRef}. */
export function isTensorRef(v: unknown): v is TensorRef {
  return v instanceof TensorRef;
}

const F16_EXP = new Float32Array(32);
for (let e = 0; e < 32; e++) F16_EXP[e] = Math.pow(2, e - 15);

/** IEEE half → float32 (exact). */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * Math.pow(2, -24);
  if (e === 31) return m ? NaN : s * Infinity;
  return s * F16_EXP[e]! * (1 + m / 1024);
}

/** Decodes `count` elements from little-endian `bytes` starting at element `start`, as float32. */
function decodeRange(bytes: Uint8Array, dtype: TensorDtype, start: number, count: number, out: Float32Array, outOff: number): void {
  const size = DTYPE_SIZE[dtype];
  const dv = new DataView(bytes.buffer, bytes.byteOffset + start * size, count * size);
  switch (dtype) {
    case 'float32':
      if ((bytes.byteOffset + start * 4) % 4 === 0) out.set(new Float32Array(bytes.buffer, bytes.byteOffset + start * 4, count), outOff);
      else for (let i = 0; i < count; i++) out[outOff + i] = dv.getFloat32(i * 4, true);
      return;
    case 'float64':
      for (let i = 0; i < count; i++) out[outOff + i] = dv.getFloat64(i * 8, true);
      return;
    case 'float16':
      for (let i = 0; i < count; i++) out[outOff + i] = halfToFloat(dv.getUint16(i * 2, true));
      return;
    case 'bfloat16': {
      const u = new Uint32Array(1);
      const f = new Float32Array(u.buffer);
      for (let i = 0; i < count; i++) {
        u[0] = dv.getUint16(i * 2, true) << 16;
        out[outOff + i] = f[0]!;
      }
      return;
    }
    case 'int64':
      for (let i = 0; i < count; i++) out[outOff + i] = Number(dv.getBigInt64(i * 8, true));
      return;
    case 'int32':
      for (let i = 0; i < count; i++) out[outOff + i] = dv.getInt32(i * 4, true);
      return;
    case 'int16':
      for (let i = 0; i < count; i++) out[outOff + i] = dv.getInt16(i * 2, true);
      return;
    case 'int8':
      for (let i = 0; i < count; i++) out[outOff + i] = dv.getInt8(i);
      return;
    case 'uint8':
    case 'bool':
      for (let i = 0; i < count; i++) out[outOff + i] = dv.getUint8(i);
      return;
  }
}

/**
 * Materialises a tensor as a row-major float32 array (float16/bfloat16 exactly widened; float64 rounded).
 * @throws Error when the view reaches outside its storage.
 */
export async function readFloat32(t: TensorRef): Promise<Float32Array> {
  const n = t.numel;
  const out = new Float32Array(n);
  if (n === 0) return out;
  let last = t.offset;
  for (let d = 0; d < t.shape.length; d++) {
    if (t.stride[d]! < 0) throw new Error(`negative stride in storage "${t.storage.key}"`);
    last += (t.shape[d]! - 1) * t.stride[d]!;
  }
  if (t.offset < 0 || last >= t.storage.numel) {
    throw new Error(`tensor view (offset ${t.offset}, shape [${t.shape.join(',')}], stride [${t.stride.join(',')}]) reaches element ${last} of storage "${t.storage.key}" with ${t.storage.numel} elements`);
  }
  const bytes = await t.storage.bytes();
  if (t.contiguous) {
    decodeRange(bytes, t.dtype, t.offset, n, out, 0);
    return out;
  }
  // Strided gather: decode row by row along the last dim.
  const nd = t.shape.length;
  const inner = t.shape[nd - 1]!;
  const innerStride = t.stride[nd - 1]!;
  const idx = new Array<number>(nd - 1).fill(0);
  const one = new Float32Array(1);
  for (let row = 0, o = 0; o < n; row++) {
    let base = t.offset;
    for (let d = 0; d < nd - 1; d++) base += idx[d]! * t.stride[d]!;
    if (innerStride === 1) decodeRange(bytes, t.dtype, base, inner, out, o);
    else
      for (let i = 0; i < inner; i++) {
        decodeRange(bytes, t.dtype, base + i * innerStride, 1, one, 0);
        out[o + i] = one[0]!;
      }
    o += inner;
    for (let d = nd - 2; d >= 0; d--) {
      if (++idx[d]! < t.shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}
