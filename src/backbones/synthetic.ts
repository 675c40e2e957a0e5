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

/**
 * A synthetic weight spec for every tensor an architecture expects, with the same scale rules as the golden fixtures
 * (tools/backbone_ref.py): unit-variance linear layers, He-scaled convs, LayerNorm/BN γ ≈ 1, BN running var ≈ 1,
 * ViT tokens ±0.5, LayerScale ≈ 0.4, the last BN of each bottleneck small.
 * @param expected keys and PyTorch shapes (ArchFamily.expected).
 */
export function syntheticSpecFor(expected: { key: string; shape: number[] }[]): SyntheticTensorSpec[] {
  const f32 = Math.fround;
  return expected.map(({ key, shape }) => {
    let scale: number;
    let offset = 0;
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    if (['cls_token', 'pos_embed', 'register_tokens', 'mask_token'].includes(key)) scale = 0.5;
    else if (key.endsWith('.gamma')) [scale, offset] = [0.2, 0.4];
    else if (key.endsWith('running_var')) [scale, offset] = [0.5, 1];
    else if (key.endsWith('running_mean')) scale = 0.1;
    else if (key.endsWith('.weight') && shape.length === 4) scale = Math.sqrt((key.startsWith('patch_embed') ? 3 : 6) / fanIn);
    else if (key.endsWith('.weight') && shape.length === 2) scale = Math.sqrt(3 / fanIn);
    else if (key.endsWith('.weight')) [scale, offset] = /bn3$|downsample\.1$/.test(key.slice(0, -7)) ? [0.1, 0.3] : [0.2, 1];
    else scale = 0.1;
    return { key, shape, scale: f32(scale), offset: f32(offset) };
  });
}
