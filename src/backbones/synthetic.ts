/**
 * Deterministic synthetic weights, bit-identical to tools/backbone_ref.py `formula()`. They let the test suite build
 * full-size random-weight models that match the PyTorch goldens without committing any weights, and give the
 * benchmarks realistic models offline.
 *
 * For a tensor named K with n elements: `seed = fnv1a32(K)`, `h_i = fmix32((seed + i·0x9E3779B1) mod 2^32)`
 * (murmur3 finaliser), `r_i = ((h_i >>> 8) − 2^23) / 2^23 ∈ [−1, 1)` (exact in float32),
 * `w_i = f32(offset + f32(r_i · scale))` with float32 `scale` and `offset`.
 */

/** FNV-1a 32-bit hash of a string's UTF-8 bytes. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** murmur3 32-bit finaliser. */
export function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** One synthetic tensor: PyTorch key, shape (PyTorch layout), float32 scale and offset. */
export interface SyntheticTensorSpec {
  key: string;
  shape: number[];
  scale: number;
  offset: number;
}

/** Values of one synthetic tensor (row-major, PyTorch layout). */
export function syntheticTensor(key: string, n: number, scale: number, offset: number): Float32Array {
  const out = new Float32Array(n);
  const seed = fnv1a32(key);
  const s = Math.fround(scale);
  const o = Math.fround(offset);
  for (let i = 0; i < n; i++) {
    const h = fmix32((seed + Math.imul(i, 0x9e3779b1)) >>> 0);
    const r = ((h >>> 8) - 8388608) / 8388608;
    out[i] = o + Math.fround(r * s);
  }
  return out;
}

/** All tensors of a spec list, by key. */
export function syntheticWeights(specs: SyntheticTensorSpec[]): Map<string, { shape: number[]; data: Float32Array }> {
  const m = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const t of specs) m.set(t.key, { shape: t.shape, data: syntheticTensor(t.key, t.shape.reduce((a, b) => a * b, 1), t.scale, t.offset) });
  return m;
}
