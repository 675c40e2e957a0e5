/**
 * Building blocks shared by the backbones, written for the wasm backend's fast paths: linear layers as 2-D matmuls
 * `[rows, in] @ [in, out]` with weights already transposed at load (never `transposeB`), convolutions through
 * `tf.fused.conv2d` (XNNPACK), plus PyTorch-exact interpolation matrices for position embeddings.
 */
import * as tf from '@tensorflow/tfjs-core';

/** A weight array in TF layout (conv `[kh,kw,in,out]`, linear `[in,out]`), float32. */
export interface WeightArray {
  shape: number[];
  data: Float32Array;
}

/** Weights by (PyTorch) key, in TF layout. */
export type WeightMap = Map<string, WeightArray>;

/** Gets a weight or throws naming the key (a converted model missing a tensor is a bad input). */
export function weight(w: WeightMap, key: string): WeightArray {
  const a = w.get(key);
  if (!a) throw new Error(`weight "${key}" is missing`);
  return a;
}

/** Linear layer on a 2-D input: `x [rows,in] @ W [in,out] + b`, optional ReLU. One XNNPACK matmul on wasm. */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D | undefined, activation?: 'relu'): tf.Tensor2D {
  const args: Parameters<typeof tf.fused.matMul>[0] = { a: x, b: w };
  if (b) args.bias = b;
  if (activation) args.activation = activation;
  return tf.fused.matMul(args) as tf.Tensor2D;
}

/**
 * LayerNorm over the last axis: `(x − mean) / sqrt(var + eps) · g + b` with the biased variance (PyTorch semantics).
 * @param x [rows, C]
 */
export function layerNorm(x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D, eps: number): tf.Tensor2D {
  return tf.tidy(() => {
    const mean = tf.mean(x, -1, true);
    const xc = tf.sub(x, mean);
    const variance = tf.mean(tf.square(xc), -1, true);
    return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(variance, eps))), g), b) as tf.Tensor2D;
  });
}

/** Exact GELU (PyTorch `nn.GELU()` default): `0.5·x·(1 + erf(x/√2))`. */
export function gelu<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)) as T);
}

const f = Math.fround;

/**
 * Row-stochastic matrix `[outSize, inSize]` of PyTorch's `F.interpolate(mode='bicubic', align_corners=False)` along one
 * axis (A = −0.75, border indices clamped, no antialias). With `scaleFactor` given (as `interpolate(scale_factor=…)`),
 * source coordinates use `1/scaleFactor` like PyTorch does — not `in/out` — which is why DINO's `+0.1` matters.
 * Arithmetic mirrors ATen's float32 kernel (`area_pixel_compute_source_index`, `get_cubic_upsample_coefficients`).
 */
export function bicubicMatrix(inSize: number, outSize: number, scaleFactor?: number): Float64Array {
  const A = -0.75;
  const scale = scaleFactor !== undefined ? f(1 / scaleFactor) : f(inSize / outSize);
  const cc1 = (x: number): number => f(f(f(f(f((A + 2) * x) - (A + 3)) * x) * x) + 1);
  const cc2 = (x: number): number => f(f(f(f(f(f(A * x) - 5 * A) * x) + 8 * A) * x) - 4 * A);
  const m = new Float64Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) {
    const real = f(f(scale * f(i + 0.5)) - 0.5);
    const i0 = Math.floor(real);
    const t = f(real - i0);
    const c = [cc2(f(t + 1)), cc1(t), cc1(f(1 - t)), cc2(f(f(1 - t) + 1))];
    for (let k = 0; k < 4; k++) {
      const idx = Math.min(Math.max(i0 - 1 + k, 0), inSize - 1);
      m[i * inSize + idx] += c[k]!;
    }
  }
  return m;
}

/**
 * Row-stochastic matrix `[outSize, inSize]` of PyTorch's `F.interpolate(size=…, mode='bicubic', antialias=True)`:
 * the PIL-style separable filter (cubic with a = −0.5, support widened by the scale when downsampling, weights
 * normalised per output). Used by DINOv2 models with registers.
 */
export function bicubicAntialiasMatrix(inSize: number, outSize: number): Float64Array {
  const a = -0.5;
  const cubic = (x0: number): number => {
    const x = Math.abs(x0);
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
  };
  const scale = inSize / outSize;
  const support = scale >= 1 ? 2 * scale : 2;
  const inv = scale >= 1 ? 1 / scale : 1;
  const m = new Float64Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) {
    const center = scale * (i + 0.5);
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    const ws: number[] = [];
    for (let j = xmin; j < xmax; j++) {
      const w = cubic((j - center + 0.5) * inv);
      ws.push(w);
      total += w;
    }
    for (let j = xmin; j < xmax; j++) m[i * inSize + j] = total !== 0 ? ws[j - xmin]! / total : 0;
  }
  return m;
}

/**
 * Resamples a `[M·M, C]` grid (row-major) to `[gh·gw, C]` with separable row/column matrices `wy [gh,M]`,
 * `wx [gw,M]`: two 2-D matmuls and two transposes.
 */
export function resampleGrid(grid: tf.Tensor2D, m: number, wy: Float64Array, gh: number, wx: Float64Array, gw: number): tf.Tensor2D {
  return tf.tidy(() => {
    const c = grid.shape[1];
    const rows = tf.matMul(tf.tensor2d(Float32Array.from(wy), [gh, m]), tf.reshape(grid, [m, m * c])); // [gh, M*C]
    const t = tf.reshape(tf.transpose(tf.reshape(rows, [gh, m, c]), [1, 0, 2]), [m, gh * c]); // [M, gh*C]
    const cols = tf.matMul(tf.tensor2d(Float32Array.from(wx), [gw, m]), t); // [gw, gh*C]
    return tf.reshape(tf.transpose(tf.reshape(cols, [gw, gh, c]), [1, 0, 2]), [gh * gw, c]) as tf.Tensor2D;
  });
}
