/**
 * Fused inference ops for transformer blocks. Each runs as one native kernel (registered by src/engine/native.ts on
 * the wasm backend when the addon is built) and otherwise as the equivalent composition of TF.js ops, so callers
 * write one code path. The compositions are the definitions the native kernels are tested against
 * (spec/native.spec.ts).
 *
 * No gradients: these are for frozen backbones (inference only).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GELU_CODE } from './native-state.js';

/** True when our custom kernel `name` is registered for the active backend. */
export function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** True when the native transformer kernels (fused linear, layer norm, attention) run on the active backend. */
export function fusedTransformerKernels(): boolean {
  return hasKernel('UolFusedLinear') && hasKernel('UolLayerNorm') && hasKernel('UolAttention');
}

/** Exact GELU (PyTorch `nn.GELU()` default): `0.5·x·(1 + erf(x/√2))`, as TF.js ops. */
export function geluOps<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)) as T);
}

/** Options of {@link fusedLinear}. */
export interface FusedLinearOptions {
  /** Activation after the bias (default linear). */
  activation?: 'linear' | 'relu' | 'gelu';
  /** Per-output-column factor applied after the activation (DINOv2's LayerScale), `[n]`. */
  scale?: tf.Tensor1D;
  /** Added last (a residual connection), `[m, n]`. */
  residual?: tf.Tensor2D;
}

const ACT = { linear: 0, relu: 1, gelu: GELU_CODE } as const;

/**
 * `act(x @ w + bias) · scale + residual`.
 * @param x [m, k] float32
 * @param w [k, n] float32 (weights already transposed to TF layout)
 * @param bias [n], optional
 * @returns [m, n]
 */
export function fusedLinear(x: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor1D | undefined, opts: FusedLinearOptions = {}): tf.Tensor2D {
  const [m, k] = x.shape;
  const [kw, n] = w.shape;
  const act = opts.activation ?? 'linear';
  if (k !== kw) throw new Error(`fusedLinear: x is [${x.shape}] but w is [${w.shape}]`);
  if (bias && bias.size !== n) throw new Error(`fusedLinear: bias has ${bias.size} values for ${n} outputs`);
  if (opts.scale && opts.scale.size !== n) throw new Error(`fusedLinear: scale has ${opts.scale.size} values for ${n} outputs`);
  if (opts.residual && (opts.residual.shape[0] !== m || opts.residual.shape[1] !== n)) {
    throw new Error(`fusedLinear: residual is [${opts.residual.shape}], expected [${m},${n}]`);
  }
  const native = hasKernel('UolFusedLinear') && [x, w, bias, opts.scale, opts.residual].every((t) => !t || t.dtype === 'float32');
  if (native) {
    const inputs: tf.NamedTensorMap = { x, w };
    if (bias) inputs.bias = bias;
    if (opts.scale) inputs.scale = opts.scale;
    if (opts.residual) inputs.residual = opts.residual;
    return tf.engine().runKernel('UolFusedLinear', inputs, { activation: ACT[act] } as unknown as tf.NamedAttrMap) as tf.Tensor2D;
  }
  return tf.tidy(() => {
    const args: Parameters<typeof tf.fused.matMul>[0] = { a: x, b: w };
    if (bias) args.bias = bias;
    if (act === 'relu') args.activation = 'relu';
    let y = tf.fused.matMul(args) as tf.Tensor2D;
    if (act === 'gelu') y = geluOps(y);
    if (opts.scale) y = tf.mul(y, opts.scale);
    if (opts.residual) y = tf.add(opts.residual, y);
    return y;
  });
}

/**
 * LayerNorm over the last axis: `(x − mean) / sqrt(var + eps) · g + b` with the biased variance (PyTorch semantics).
 * @param x [rows, C]
 */
export function fusedLayerNorm(x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D, eps: number): tf.Tensor2D {
  const C = x.shape[1];
  if (g.size !== C || b.size !== C) throw new Error(`fusedLayerNorm: gamma/beta have ${g.size}/${b.size} values for ${C} channels`);
  if (hasKernel('UolLayerNorm') && x.dtype === 'float32') {
    return tf.engine().runKernel('UolLayerNorm', { x, gamma: g, beta: b }, { eps } as unknown as tf.NamedAttrMap) as tf.Tensor2D;
  }
  return tf.tidy(() => {
    const mean = tf.mean(x, -1, true);
    const xc = tf.sub(x, mean);
    const variance = tf.mean(tf.square(xc), -1, true);
    return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(variance, eps))), g), b) as tf.Tensor2D;
  });
}

/**
 * Multi-head self-attention core on a fused qkv projection (PyTorch `reshape(B, N, 3, heads, d)` column order):
 * per image and head, `softmax(q kᵀ) v` with q already scaled by `d^-0.5`; heads concatenated.
 * @param qkv [B·N, 3C]
 * @returns [B·N, C]
 */
export function fusedAttention(qkv: tf.Tensor2D, batch: number, heads: number): tf.Tensor2D {
  const [rows, C3] = qkv.shape;
  if (C3 % 3 !== 0 || (C3 / 3) % heads !== 0) throw new Error(`fusedAttention: qkv width ${C3} is not 3·heads·d (heads ${heads})`);
  if (rows % batch !== 0) throw new Error(`fusedAttention: ${rows} rows is not a multiple of batch ${batch}`);
  if (hasKernel('UolAttention') && qkv.dtype === 'float32') {
    return tf.engine().runKernel('UolAttention', { qkv }, { batch, heads } as unknown as tf.NamedAttrMap) as tf.Tensor2D;
  }
  return tf.tidy(() => {
    const N = rows / batch;
    const C = C3 / 3;
    const d = C / heads;
    const t = tf.transpose(tf.reshape(qkv, [batch, N, 3, heads, d]), [2, 0, 3, 1, 4]); // [3,B,h,N,d]
    const [q, k, v] = tf.unstack(t, 0) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const p = tf.softmax(tf.matMul(q, k, false, true));
    const o = tf.matMul(p, v); // [B,h,N,d]
    return tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [rows, C]) as tf.Tensor2D;
  });
}

/** Options of {@link fusedConv2dResidual}. */
export interface FusedConvOptions {
  x: tf.Tensor4D;
  /** HWIO `[fh, fw, in, out]`. */
  filter: tf.Tensor4D;
  strides: number;
  /** Symmetric explicit padding (PyTorch style), TF's `same`/`valid`, or explicit `[[0,0],[t,b],[l,r],[0,0]]`. */
  pad: number | 'same' | 'valid' | tf.backend_util.ExplicitPadding;
  /** `[out]`, optional. */
  bias?: tf.Tensor1D;
  /** Added before the activation; the output's shape. */
  residual?: tf.Tensor4D;
  activation?: 'linear' | 'relu' | 'relu6';
}

/**
 * `act(conv2d(x, filter) + bias + residual)` (NHWC) — a ResNet block's last convolution, shortcut and ReLU in one
 * native pass when available; otherwise `tf.fused.conv2d` then add and activation.
 * @returns `[B, outH, outW, out]`
 */
export function fusedConv2dResidual(o: FusedConvOptions): tf.Tensor4D {
  const act = o.activation ?? 'linear';
  if (o.residual) {
    const info = tf.backend_util.computeConv2DInfo(o.x.shape, o.filter.shape, o.strides, 1, o.pad, undefined, false, 'channelsLast');
    if (!tf.util.arraysEqual(info.outShape, o.residual.shape)) throw new Error(`fusedConv2dResidual: residual is [${o.residual.shape}], output [${info.outShape}]`);
  }
  const native = hasKernel('UolFusedConv2D') && [o.x, o.filter, o.bias, o.residual].every((t) => !t || t.dtype === 'float32');
  if (native) {
    const inputs: tf.NamedTensorMap = { x: o.x, filter: o.filter };
    if (o.bias) inputs.bias = o.bias;
    if (o.residual) inputs.residual = o.residual;
    return tf.engine().runKernel('UolFusedConv2D', inputs, { strides: o.strides, pad: o.pad, activation: act } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const args: Parameters<typeof tf.fused.conv2d>[0] = { x: o.x, filter: o.filter, strides: o.strides, pad: o.pad };
    if (o.bias) args.bias = o.bias;
    if (!o.residual && act !== 'linear') args.activation = act;
    let y = tf.fused.conv2d(args) as tf.Tensor4D;
    if (o.residual) {
      y = tf.add(y, o.residual);
      if (act === 'relu') y = tf.relu(y);
      else if (act === 'relu6') y = tf.relu6(y);
    }
    return y;
  });
}

/** One convolution of a {@link bottleneckBlock}: HWIO filter, bias, stride and padding (PyTorch-style symmetric). */
export interface BlockConv {
  /** HWIO `[fh, fw, in, out]`. */
  filter: tf.Tensor4D;
  /** `[out]`. */
  bias: tf.Tensor1D;
  stride: number;
  pad: number | 'same' | 'valid';
}

/** The convolutions of a ResNet bottleneck (BN folded into each); `down` is the projection shortcut, if any. */
export interface BottleneckConvs {
  c1: BlockConv;
  c2: BlockConv;
  c3: BlockConv;
  down?: BlockConv;
}

/**
 * A ResNet bottleneck block: `relu(c3(relu(c2(relu(c1(x))))) + shortcut)`, shortcut `down(x)` (no activation) or `x`.
 * One native kernel (`UolBottleneck`: the convolutions back to back, intermediates in the wasm heap, no TF.js op
 * between them) when registered on the active backend and every tensor is float32; TF.js ops otherwise.
 * @param x `[B, H, W, C]`, C = c1's (and down's) input channels.
 * @returns `[B, H', W', c3's output channels]`.
 */
export function bottleneckBlock(x: tf.Tensor4D, o: BottleneckConvs): tf.Tensor4D {
  const convs = [o.c1, o.c2, o.c3, ...(o.down ? [o.down] : [])];
  const native = hasKernel('UolBottleneck') && x.dtype === 'float32' && convs.every((c) => c.filter.dtype === 'float32' && c.bias.dtype === 'float32');
  if (native) {
    // The shapes are checked here (TF.js's conv ops would check them on the fallback path), once per block and input
    // shape: a backbone calls this with the same blocks for every image.
    const key = x.shape.join(',');
    if (checkedBlocks.get(o) !== key) {
      checkBottleneckShapes(x.shape, o);
      checkedBlocks.set(o, key);
    }
    const inputs: tf.NamedTensorMap = { x, f1: o.c1.filter, b1: o.c1.bias, f2: o.c2.filter, b2: o.c2.bias, f3: o.c3.filter, b3: o.c3.bias };
    if (o.down) {
      inputs.fd = o.down.filter;
      inputs.bd = o.down.bias;
    }
    const attrs = { strides: convs.map((c) => c.stride), pads: convs.map((c) => c.pad) };
    return tf.engine().runKernel('UolBottleneck', inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const run = (t: tf.Tensor4D, c: BlockConv, relu: boolean): tf.Tensor4D =>
      tf.fused.conv2d({ x: t, filter: c.filter, bias: c.bias, strides: c.stride, pad: c.pad, ...(relu ? { activation: 'relu' as const } : {}) }) as tf.Tensor4D;
    const y = run(run(x, o.c1, true), o.c2, true);
    const sc = o.down ? run(x, o.down, false) : x;
    return fusedConv2dResidual({ x: y, filter: o.c3.filter, strides: o.c3.stride, pad: o.c3.pad, bias: o.c3.bias, residual: sc, activation: 'relu' });
  });
}

/** The input shape each block was last checked for (see bottleneckBlock). */
const checkedBlocks = new WeakMap<BottleneckConvs, string>();

/** Throws, naming the convolution, when the block's filters, biases and shortcut do not fit an input of `input`. */
function checkBottleneckShapes(input: [number, number, number, number], o: BottleneckConvs): void {
  const outShape = (shape: [number, number, number, number], c: BlockConv, name: string): [number, number, number, number] => {
    if (c.filter.shape[2] !== shape[3] || c.bias.shape[0] !== c.filter.shape[3]) {
      throw new Error(`bottleneckBlock: ${name} has filter [${c.filter.shape}] and bias [${c.bias.shape}] for an input of [${shape}]`);
    }
    return tf.backend_util.computeConv2DInfo(shape, c.filter.shape, c.stride, 1, c.pad, undefined, false, 'channelsLast').outShape;
  };
  const out = outShape(outShape(outShape(input, o.c1, 'c1'), o.c2, 'c2'), o.c3, 'c3');
  const sc = o.down ? outShape(input, o.down, 'down') : input;
  if (!tf.util.arraysEqual(sc, out)) throw new Error(`bottleneckBlock: the shortcut is [${sc}], the block's output [${out}]`);
}
