/**
 * The native kernels registered on TF.js's wasm backend (one entry of {@link NATIVE_KERNELS} per kernel name): overrides
 * of TF.js kernels (BatchMatMul/_FusedMatMul, Conv2D/FusedConv2D, FusedBatchNorm, MaxPool), each falling back to the original
 * wasm kernel for inputs it does not handle, and kernels of our own (UolFusedLinear, UolLayerNorm, UolAttention,
 * UolFusedConv2D, UolBottleneck) called through src/engine/fused.ts. Installing them is native.ts's job.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { UolBlasAddon } from './native-addon.js';
import { ACTIVATION_CODES, isHeldOnce } from './native-state.js';


/**
 * Element strides of a tensor of shape `wShape` broadcast (numpy rules, right-aligned) onto `outShape`, collapsed over
 * `groups` (lists of consecutive dims of `outShape`), or undefined when the broadcast is impossible or the dims of a
 * group cannot be walked with one stride.
 * @example broadcastStrides([2,5,7], [[0],[1],[2]], [7]) → [0,0,1]
 */
export function broadcastStrides(outShape: readonly number[], groups: readonly (readonly number[])[], wShape: readonly number[]): number[] | undefined {
  const r = outShape.length;
  if (wShape.length > r) {
    // Leading dims of size 1 are harmless; anything else does not fit.
    if (wShape.slice(0, wShape.length - r).some((d) => d !== 1)) return undefined;
    wShape = wShape.slice(wShape.length - r);
  }
  const aligned = [...new Array<number>(r - wShape.length).fill(1), ...wShape];
  const strides = new Array<number>(r).fill(0);
  let s = 1;
  for (let d = r - 1; d >= 0; d--) {
    const w = aligned[d]!;
    const o = outShape[d]!;
    if (w === o && w !== 1) strides[d] = s;
    else if (w !== 1) return undefined;
    s *= w;
  }
  const out: number[] = [];
  for (const g of groups) {
    const dims = g.filter((d) => outShape[d]! > 1);
    if (dims.length === 0) {
      out.push(0);
      continue;
    }
    for (let i = 0; i + 1 < dims.length; i++) {
      const p = dims[i]!;
      const q = dims[i + 1]!;
      if (strides[p] !== strides[q]! * outShape[q]!) return undefined;
    }
    out.push(strides[dims[dims.length - 1]!]!);
  }
  return out;
}

type KernelParams = Parameters<tf.KernelFunc>[0];
type KernelResult = ReturnType<tf.KernelFunc>;
type TensorInfo = tf.TensorInfo;

/** What a kernel factory gets. */
export interface NativeKernelContext {
  addon: UolBlasAddon;
  /** The wasm kernel this one replaces (for inputs the native path does not handle); custom kernels get one that throws. */
  original: tf.KernelFunc;
}

/** A native kernel: TF.js kernel name, whether it is on by default, and its factory. */
export interface NativeKernelSpec {
  name: string;
  /** Registered unless the user picks kernels explicitly. */
  byDefault: boolean;
  /**
   * A kernel of our own (no TF.js op of that name): registered without an original, called through
   * src/engine/fused.ts, which composes TF.js ops instead whenever it is not registered on the active backend.
   */
  custom?: boolean;
  make(ctx: NativeKernelContext): tf.KernelFunc;
}

interface Epilogue {
  bias: Float32Array | null;
  bs: number[];
  act: number;
  alpha: number;
  prelu: Float32Array | null;
  ps: number[];
}

const NO_STRIDES = [0, 0, 0];

/** Heap views and strides for bias/prelu, or undefined when the native path cannot take them. */
function epilogueFor(
  backend: BackendWasm, outShape: number[], groups: number[][],
  bias: TensorInfo | undefined, activation: string, alpha: number | undefined, prelu: TensorInfo | undefined,
): Epilogue | undefined {
  const act = ACTIVATION_CODES[activation];
  if (act === undefined) return undefined;
  let bs = NO_STRIDES;
  let ps = NO_STRIDES;
  if (bias) {
    if (bias.dtype !== 'float32') return undefined;
    const s = broadcastStrides(outShape, groups, bias.shape);
    if (!s) return undefined;
    bs = s;
  }
  const usePrelu = act === ACTIVATION_CODES.prelu;
  if (usePrelu) {
    if (!prelu || prelu.dtype !== 'float32') return undefined;
    const s = broadcastStrides(outShape, groups, prelu.shape);
    if (!s) return undefined;
    ps = s;
  }
  // Views are made by the caller after makeOutput (which may grow, and so detach, the heap).
  return {
    bias: bias ? (backend.typedArrayFromHeap(bias) as Float32Array) : null,
    bs,
    act,
    alpha: alpha ?? 0.2,
    prelu: usePrelu && prelu ? (backend.typedArrayFromHeap(prelu) as Float32Array) : null,
    ps,
  };
}

interface MatmulInputs {
  a: TensorInfo;
  b: TensorInfo;
  bias?: TensorInfo;
  preluActivationWeights?: TensorInfo;
}

interface MatmulAttrs {
  transposeA: boolean;
  transposeB: boolean;
  activation?: string;
  leakyreluAlpha?: number;
}

/** BatchMatMul / _FusedMatMul on OpenBLAS, with full numpy-style batch broadcasting. */
function matmulKernel(ctx: NativeKernelContext): tf.KernelFunc {
  const { addon, original } = ctx;
  const nativeMatMul = (params: KernelParams): KernelResult => {
    const backend = params.backend as BackendWasm;
    const { a, b, bias, preluActivationWeights: prelu } = params.inputs as unknown as MatmulInputs;
    const attrs = (params.attrs ?? {}) as unknown as MatmulAttrs;
    const transA = !!attrs.transposeA;
    const transB = !!attrs.transposeB;
    const activation = attrs.activation ?? 'linear';
    // A weight packed in place by UolFusedLinear/conv is read here in its own layout.
    restoreLayout(backend, a);
    restoreLayout(backend, b);
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return original(params);
    const ra = a.shape.length;
    const rb = b.shape.length;
    const m = transA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
    const k = transA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
    const kb = transB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
    const n = transB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
    if (k !== kb) return original(params); // lets TF.js raise its own error
    const outerA = a.shape.slice(0, -2);
    const outerB = b.shape.slice(0, -2);
    let outer: number[];
    try {
      outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
    } catch {
      return original(params);
    }
    const batch = tf.util.sizeFromShape(outer);
    const batchA = tf.util.sizeFromShape(outerA);
    const batchB = tf.util.sizeFromShape(outerB);
    const kernelShape = [batch, m, n];
    if (ACTIVATION_CODES[activation] === undefined) return original(params);
    // Cheap pre-check so we never allocate an output we then abandon.
    if (bias && (bias.dtype !== 'float32' || !broadcastStrides(kernelShape, [[0], [1], [2]], bias.shape))) return original(params);
    if (activation === 'prelu' && (!prelu || prelu.dtype !== 'float32' || !broadcastStrides(kernelShape, [[0], [1], [2]], prelu.shape))) {
      return original(params);
    }
    const out = backend.makeOutput(kernelShape, 'float32');
    const ep = epilogueFor(backend, kernelShape, [[0], [1], [2]], bias, activation, attrs.leakyreluAlpha, prelu)!;
    const av = backend.typedArrayFromHeap(a) as Float32Array;
    const bv = backend.typedArrayFromHeap(b) as Float32Array;
    const ov = backend.typedArrayFromHeap(out) as Float32Array;
    const simple = batchA === 1 || batchB === 1 || (outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]));
    if (simple) {
      addon.matmul(
        av, bv, ov, batch, m, n, k, transA ? 1 : 0, transB ? 1 : 0, batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n,
        ep.bias, ep.bs[0]!, ep.bs[1]!, ep.bs[2]!, ep.act, ep.alpha, ep.prelu, ep.ps[0]!, ep.ps[1]!, ep.ps[2]!,
      );
    } else {
      // General broadcasting of the outer dims (e.g. [2,1,m,k] @ [1,3,k,n]): one product per output batch.
      const r = outer.length;
      const pa = [...new Array<number>(r - outerA.length).fill(1), ...outerA];
      const pb = [...new Array<number>(r - outerB.length).fill(1), ...outerB];
      const idx = new Array<number>(r).fill(0);
      for (let z = 0; z < batch; z++) {
        let za = 0;
        let zb = 0;
        for (let d = 0; d < r; d++) {
          za = za * pa[d]! + (pa[d] === 1 ? 0 : idx[d]!);
          zb = zb * pb[d]! + (pb[d] === 1 ? 0 : idx[d]!);
        }
        addon.matmul(
          av.subarray(za * m * k, (za + 1) * m * k), bv.subarray(zb * k * n, (zb + 1) * k * n), ov.subarray(z * m * n, (z + 1) * m * n),
          1, m, n, k, transA ? 1 : 0, transB ? 1 : 0, 0, 0,
          ep.bias ? ep.bias.subarray(z * ep.bs[0]!) : null, 0, ep.bs[1]!, ep.bs[2]!, ep.act, ep.alpha,
          ep.prelu ? ep.prelu.subarray(z * ep.ps[0]!) : null, 0, ep.ps[1]!, ep.ps[2]!,
        );
        for (let d = r - 1; d >= 0; d--) {
          if (++idx[d]! < outer[d]!) break;
          idx[d] = 0;
        }
      }
    }
    out.shape = [...outer, m, n];
    return out;
  };
  return nativeMatMul;
}

interface ConvInputs {
  x: TensorInfo;
  filter: TensorInfo;
  bias?: TensorInfo;
  preluActivationWeights?: TensorInfo;
}

interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
  leakyreluAlpha?: number;
}

/** A view of `t` on the wasm heap (null for an absent optional input). */
const heap = (backend: BackendWasm, t: TensorInfo | undefined): Float32Array | null => (t ? (backend.typedArrayFromHeap(t) as Float32Array) : null);

/**
 * Weights held once. The direct kernel's layout (panels of 64 output columns, `[N/64][K][64]`) has exactly the size of
 * the `[K, N]` weight when N is a multiple of 64 (every layer of our backbones), so such a weight is packed *in place*
 * on the wasm heap the first time a native kernel uses it: no second copy exists. The tensor's heap storage then holds
 * the packed layout, so every reader that expects `[K, N]` must unpack first: {@link unpackAll} runs when the native
 * kernels are uninstalled (the plain wasm kernels read the original layout again) and before a Winograd packing.
 * Keyed by dataId (TF.js tensors are immutable; a clone shares the dataId and so the storage). Weights with other
 * widths get a packed JS copy (cached by dataId, collected with the tensor).
 */
const packedInPlace = new Map<object, { backend: BackendWasm; addon: UolBlasAddon; K: number; N: number }>();
/** Backends whose host reads (`readSync`, which `read`/`data()` use too) restore a weight's layout first. */
const guardedBackends = new WeakSet<object>();
const packedCopies = new WeakMap<object, Float32Array>();
/** 3×3 filters packed for the Winograd paths (F(2×2,3×3), F(4×4,3×3)), by dataId; one map per packing, so a change of
 * ISA level (which changes the variant) never reads a packing made for the other. */
const winogradFilters = { winograd: new WeakMap<object, Float32Array>(), winograd4: new WeakMap<object, Float32Array>() };


/** Wraps `backend.readSync` (once) so a weight packed in place is unpacked before the host reads it. */
function guardReads(backend: BackendWasm): void {
  if (guardedBackends.has(backend)) return;
  guardedBackends.add(backend);
  const readSync = backend.readSync.bind(backend);
  backend.readSync = ((dataId: object, ...rest: unknown[]) => {
    const e = packedInPlace.get(dataId);
    if (e) restoreLayout(backend, { dataId, shape: [e.K, e.N], dtype: 'float32' } as unknown as TensorInfo);
    return (readSync as (...a: unknown[]) => ReturnType<BackendWasm['readSync']>)(dataId, ...rest);
  }) as BackendWasm['readSync'];
}

/** Forgets in-place entries whose tensor was disposed. */
function pruneInPlace(): void {
  for (const [id, e] of packedInPlace) if (!e.backend.dataIdMap.has(id as never)) packedInPlace.delete(id);
}

/** The weight `t` (`[K, N]`) in the direct kernel's packed layout: its own heap storage (packed in place once), or a cached copy. */
function directPacked(addon: UolBlasAddon, backend: BackendWasm, t: TensorInfo, K: number, N: number): Float32Array {
  if (packedInPlace.has(t.dataId)) return heap(backend, t)!;
  const copy = packedCopies.get(t.dataId);
  if (copy) return copy;
  if (N % 64 === 0 && isHeldOnce(t.dataId)) {
    guardReads(backend);
    pruneInPlace();
    addon.repackInPlace(heap(backend, t)!, K, N, 1);
    packedInPlace.set(t.dataId, { backend, addon, K, N });
    return heap(backend, t)!;
  }
  const packed = addon.packConvFilter(heap(backend, t)!, K, N);
  packedCopies.set(t.dataId, packed);
  return packed;
}

/** `[K, N]` values of a weight packed in place ([N/64][K][64] → [K][N]). */
function unpacked(view: Float32Array, K: number, N: number): Float32Array {
  const out = new Float32Array(K * N);
  for (let cb = 0; cb < N / 64; cb++)
    for (let k = 0; k < K; k++) out.set(view.subarray((cb * K + k) * 64, (cb * K + k + 1) * 64), k * N + cb * 64);
  return out;
}

/** The weight's values in its own `[K, N]` layout (a copy when it is packed in place, else its heap view). */
function originalLayout(backend: BackendWasm, t: TensorInfo): Float32Array {
  const e = packedInPlace.get(t.dataId);
  return e ? unpacked(heap(backend, t)!, e.K, e.N) : heap(backend, t)!;
}

/** Puts one weight packed in place back into its `[K, N]` layout (before a TF.js kernel reads it). */
function restoreLayout(backend: BackendWasm, t: TensorInfo | undefined): void {
  const e = t && packedInPlace.get(t.dataId);
  if (!t || !e) return;
  e.addon.repackInPlace(heap(backend, t)!, e.K, e.N, 0);
  packedInPlace.delete(t.dataId);
}

/** Puts every weight packed in place back into its `[K, N]` layout (before plain wasm kernels may read it). */
export function unpackAll(): void {
  pruneInPlace();
  for (const [id, e] of packedInPlace) {
    e.addon.repackInPlace(e.backend.typedArrayFromHeap({ dataId: id, shape: [e.K, e.N], dtype: 'float32' } as TensorInfo) as Float32Array, e.K, e.N, 0);
  }
  packedInPlace.clear();
}

/** Runs the addon's conv2d for `info` (a conv TF.js accepted), packing the filter once when the direct kernel runs. */
function runConv(
  addon: UolBlasAddon, backend: BackendWasm, info: tf.backend_util.Conv2DInfo, x: TensorInfo, filter: TensorInfo,
  epilogue: (out: TensorInfo) => Epilogue, fusable: boolean, residual?: TensorInfo,
): TensorInfo {
  const geom = [
    info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.outChannels,
    info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth,
    info.padInfo.top, info.padInfo.left,
  ] as const;
  const path = addon.convPath(...geom, fusable ? 1 : 0);
  let packed: Float32Array;
  const wino = path === 'winograd' || path === 'winograd4';
  if (wino) {
    const cache = winogradFilters[path];
    let w = cache.get(filter.dataId);
    if (!w) {
      const pack = path === 'winograd' ? addon.packWinogradFilter : addon.packWinograd4Filter;
      w = pack.call(addon, originalLayout(backend, filter), info.inChannels, info.outChannels);
      cache.set(filter.dataId, w);
    }
    packed = w;
  } else {
    // direct / im2col-direct: the direct kernel's layout; im2col: the same panels are our GEMM's pre-packed B.
    packed = directPacked(addon, backend, filter, info.filterHeight * info.filterWidth * info.inChannels, info.outChannels);
  }
  const out = backend.makeOutput(info.outShape, 'float32');
  const ep = epilogue(out);
  // The filter in its HWIO layout is only read when it is not packed in place (the kernels then read `packed` alone).
  // Views are taken after makeOutput, which may grow the wasm memory (detaching older views).
  const inPlace = packedInPlace.has(filter.dataId);
  addon.conv2d(
    heap(backend, x)!, inPlace ? null : heap(backend, filter), heap(backend, out)!, ...geom,
    ep.bias, ep.bs[0]!, ep.bs[1]!, ep.bs[2]!, ep.act, ep.alpha, ep.prelu, ep.ps[0]!, ep.ps[1]!, ep.ps[2]!,
    !wino && inPlace ? heap(backend, filter) : packed, heap(backend, residual),
    path === 'winograd' ? 2 : path === 'winograd4' ? 4 : 1,
  );
  return out;
}

/** True when the conv epilogue can run inside the direct/Winograd kernels: per-channel bias (or none), linear/relu/relu6. */
function convFusable(outShape: number[], bias: TensorInfo | undefined, activation: string): boolean {
  if (activation !== 'linear' && activation !== 'relu' && activation !== 'relu6') return false;
  if (!bias) return true;
  const s = broadcastStrides(outShape, [[0], [1, 2], [3]], bias.shape);
  return !!s && s[1] === 0 && s[2] === 1 && (s[0] === 0 || outShape[0] === 1);
}

/**
 * Conv2D / FusedConv2D (NHWC): the addon's direct kernel on the filter packed once, or Winograd F(4×4,3×3) /
 * F(2×2,3×3) on its transformed copy (3×3 stride 1), at the ISA level in effect; for RGB stems the direct kernel
 * reading the image by rows (path `im2col-direct`: im2col only for dilated columns); im2col + sgemm where none applies
 * (see the addon's convPath).
 */
function convKernel(ctx: NativeKernelContext): tf.KernelFunc {
  const { addon, original } = ctx;
  const nativeConv2D = (params: KernelParams): KernelResult => {
    const backend = params.backend as BackendWasm;
    const { x, filter, bias, preluActivationWeights: prelu } = params.inputs as unknown as ConvInputs;
    const attrs = params.attrs as unknown as ConvAttrs;
    const activation = attrs.activation ?? 'linear';
    const fallback = (): KernelResult => {
      restoreLayout(backend, filter);
      return original(params);
    };
    if (x.dtype !== 'float32' || filter.dtype !== 'float32' || x.shape.length !== 4 || filter.shape.length !== 4) return fallback();
    if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC' || ACTIVATION_CODES[activation] === undefined) return fallback();
    let info: tf.backend_util.Conv2DInfo;
    try {
      info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
        attrs.strides, attrs.dilations, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast',
      );
    } catch {
      return fallback();
    }
    if (info.inChannels !== filter.shape[2]) return fallback();
    const outShape = info.outShape;
    const groups = [[0], [1, 2], [3]];
    if (bias && (bias.dtype !== 'float32' || !broadcastStrides(outShape, groups, bias.shape))) return fallback();
    if (activation === 'prelu' && (!prelu || prelu.dtype !== 'float32' || !broadcastStrides(outShape, groups, prelu.shape))) return fallback();
    return runConv(addon, backend, info, x, filter, () => epilogueFor(backend, outShape, groups, bias, activation, attrs.leakyreluAlpha, prelu)!, convFusable(outShape, bias, activation));
  };
  return nativeConv2D;
}

/**
 * `UolFusedConv2D` (see fused.ts): `act(conv2d(x, filter) + bias + residual)` — a ResNet block's last convolution
 * with its shortcut and ReLU in one pass.
 */
function fusedConvResidualKernel(ctx: NativeKernelContext): tf.KernelFunc {
  const { addon } = ctx;
  return (params: KernelParams): KernelResult => {
    const backend = params.backend as BackendWasm;
    const { x, filter, bias, residual } = params.inputs as unknown as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo; residual?: TensorInfo };
    const { strides, pad, activation } = params.attrs as unknown as { strides: number; pad: number | 'same' | 'valid' | tf.backend_util.ExplicitPadding; activation: string };
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number], filter.shape as [number, number, number, number], strides, 1, pad, undefined, false, 'channelsLast',
    );
    return runConv(addon, backend, info, x, filter, () => epilogueFor(backend, info.outShape, [[0], [1, 2], [3]], bias, activation, undefined, undefined)!, convFusable(info.outShape, bias, activation), residual);
  };
}

interface BottleneckInputs {
  x: TensorInfo;
  f1: TensorInfo;
  b1: TensorInfo;
  f2: TensorInfo;
  b2: TensorInfo;
  f3: TensorInfo;
  b3: TensorInfo;
  fd?: TensorInfo;
  bd?: TensorInfo;
}

/**
 * `UolBottleneck` (see fused.ts's bottleneckBlock): a ResNet bottleneck's convolutions back to back — c1 and c2 with
 * ReLU, the projection shortcut if any, c3 with the shortcut added before its ReLU — each as runConv runs it, the
 * intermediates in the wasm heap and freed here. One kernel instead of three or four TF.js ops: between ops TF.js
 * spends about 25 µs at batch 1 (ResNet-50 at 224², 53 convolutions), and the next convolution then runs slower too.
 */
function bottleneckKernel(ctx: NativeKernelContext): tf.KernelFunc {
  const { addon } = ctx;
  const groups = [[0], [1, 2], [3]];
  return (params: KernelParams): KernelResult => {
    const backend = params.backend as BackendWasm;
    const ins = params.inputs as unknown as BottleneckInputs;
    const { strides, pads } = params.attrs as unknown as { strides: number[]; pads: (number | 'same' | 'valid')[] };
    const step = (x: TensorInfo, f: TensorInfo, b: TensorInfo, i: number, act: string, residual?: TensorInfo): TensorInfo => {
      const info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number], f.shape as [number, number, number, number], strides[i]!, 1, pads[i]!, undefined, false, 'channelsLast',
      );
      return runConv(addon, backend, info, x, f, () => epilogueFor(backend, info.outShape, groups, b, act, undefined, undefined)!, convFusable(info.outShape, b, act), residual);
    };
    const y1 = step(ins.x, ins.f1, ins.b1, 0, 'relu');
    const y2 = step(y1, ins.f2, ins.b2, 1, 'relu');
    backend.disposeData(y1.dataId);
    const sc = ins.fd && ins.bd ? step(ins.x, ins.fd, ins.bd, 3, 'linear') : ins.x;
    const out = step(y2, ins.f3, ins.b3, 2, 'relu', sc);
    backend.disposeData(y2.dataId);
    if (sc !== ins.x) backend.disposeData(sc.dataId);
    return out;
  };
}

interface FusedLinearInputs {
  x: TensorInfo;
  w: TensorInfo;
  bias?: TensorInfo;
  scale?: TensorInfo;
  residual?: TensorInfo;
}

/**
 * `UolFusedLinear` (see fused.ts): `act(x @ w + bias) · scale + residual` on 2-D float32 tensors. The weight is
 * packed once (cached by dataId, like conv filters) and multiplied by the direct kernel (every ISA level; the addon's
 * linearPath says which), else by our GEMM reading the packed panels in place (no re-packing per call).
 */
function fusedLinearKernel(ctx: NativeKernelContext): tf.KernelFunc {
  const { addon } = ctx;
  return (params: KernelParams): KernelResult => {
    const backend = params.backend as BackendWasm;
    const { x, w, bias, scale, residual } = params.inputs as unknown as FusedLinearInputs;
    const act = (params.attrs as unknown as { activation: number }).activation;
    const [m, k] = x.shape as [number, number];
    const n = w.shape[1]!;
    // Packed once for both paths (the direct kernel, or our GEMM reading the panels as its pre-packed B).
    const packed = directPacked(addon, backend, w, k, n);
    const out = backend.makeOutput([m, n], 'float32');
    // makeOutput may grow the wasm memory: views are taken after it (a view of the old buffer would be detached).
    const wp = packedInPlace.has(w.dataId) ? heap(backend, w)! : packed;
    addon.linear(heap(backend, x)!, packedInPlace.has(w.dataId) ? null : heap(backend, w), heap(backend, out)!, m, n, k, heap(backend, bias), act, heap(backend, scale), heap(backend, residual), wp);
    return out;
  };
}

/** `UolLayerNorm` (see fused.ts): LayerNorm over the last axis of a 2-D float32 tensor. */
function layerNormKernel(ctx: NativeKernelContext): tf.KernelFunc {
  const { addon } = ctx;
  return (params: KernelParams): KernelResult => {
    const backend = params.backend as BackendWasm;
    const { x, gamma, beta } = params.inputs as unknown as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    const eps = (params.attrs as unknown as { eps: number }).eps;
    const [rows, C] = x.shape as [number, number];
    const out = backend.makeOutput([rows, C], 'float32');
    addon.layerNorm(heap(backend, x)!, heap(backend, gamma)!, heap(backend, beta)!, heap(backend, out)!, rows, C, eps);
    return out;
  };
}

/** `UolAttention` (see fused.ts): multi-head attention core on a fused qkv projection. */
function attentionKernel(ctx: NativeKernelContext): tf.KernelFunc {
  const { addon } = ctx;
  return (params: KernelParams): KernelResult => {
    const backend = params.backend as BackendWasm;
    const { qkv } = params.inputs as unknown as { qkv: TensorInfo };
    const { batch, heads } = params.attrs as unknown as { batch: number; heads: number };
    const rows = qkv.shape[0]!;
    const C = qkv.shape[1]! / 3;
    const out = backend.makeOutput([rows, C], 'float32');
    addon.attention(heap(backend, qkv)!, heap(backend, out)!, batch, rows / batch, heads, C);
    return out;
  };
}

/**
 * FusedBatchNorm (inference batch norm, e.g. in tfjs LayersModels like the embedded MobileNetV2, where wasm runs it
 * scalar): native when every parameter has one value per channel of the last axis, else the wasm kernel.
 */
function batchNormKernel(ctx: NativeKernelContext): tf.KernelFunc {
  const { addon, original } = ctx;
  return (params: KernelParams): KernelResult => {
    const backend = params.backend as BackendWasm;
    const { x, mean, variance, offset, scale } = params.inputs as unknown as { x: TensorInfo; mean: TensorInfo; variance: TensorInfo; offset?: TensorInfo; scale?: TensorInfo };
    const eps = (params.attrs as unknown as { varianceEpsilon: number }).varianceEpsilon;
    const C = x.shape[x.shape.length - 1] ?? 0;
    const perChannel = (t: TensorInfo | undefined): boolean => !t || (t.dtype === 'float32' && tf.util.sizeFromShape(t.shape) === C);
    if (x.dtype !== 'float32' || x.shape.length < 1 || C === 0 || ![mean, variance, offset, scale].every(perChannel)) return original(params);
    const out = backend.makeOutput(x.shape, 'float32');
    const rows = tf.util.sizeFromShape(x.shape) / C;
    addon.batchNorm(heap(backend, x)!, heap(backend, mean)!, heap(backend, variance)!, heap(backend, offset), heap(backend, scale), heap(backend, out)!, rows, C, eps);
    return out;
  };
}

/**
 * MaxPool (NHWC float32; TF.js's wasm kernel runs XNNPACK's single-threaded): the addon's, parallel and vectorised at the
 * ISA level in effect; anything else (other dtypes, dilations) goes to the wasm kernel.
 */
function maxPoolKernel(ctx: NativeKernelContext): tf.KernelFunc {
  const { addon, original } = ctx;
  return (params: KernelParams): KernelResult => {
    const backend = params.backend as BackendWasm;
    const { x } = params.inputs as unknown as { x: TensorInfo };
    const a = params.attrs as unknown as {
      filterSize: number | [number, number]; strides: number | [number, number];
      pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding; dimRoundingMode?: 'floor' | 'round' | 'ceil';
    };
    if (x.dtype !== 'float32' || x.shape.length !== 4) return original(params);
    let info: tf.backend_util.Conv2DInfo;
    try {
      info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
    } catch {
      return original(params);
    }
    if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return original(params);
    const out = backend.makeOutput(info.outShape, 'float32');
    addon.maxPool(
      heap(backend, x)!, heap(backend, out)!, info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth,
      info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left,
    );
    return out;
  };
}

/**
 * Every native kernel. Conv2D/FusedConv2D are on by default only where OpenBLAS beats XNNPACK (measured with
 * `uol bench --suite matmul`, see README "Native kernels").
 */
export const NATIVE_KERNELS: readonly NativeKernelSpec[] = [
  { name: 'BatchMatMul', byDefault: true, make: matmulKernel },
  { name: '_FusedMatMul', byDefault: true, make: matmulKernel },
  { name: 'Conv2D', byDefault: true, make: convKernel },
  { name: 'FusedConv2D', byDefault: true, make: convKernel },
  { name: 'FusedBatchNorm', byDefault: true, make: batchNormKernel },
  { name: 'MaxPool', byDefault: true, make: maxPoolKernel },
  { name: 'UolFusedLinear', byDefault: true, custom: true, make: fusedLinearKernel },
  { name: 'UolFusedConv2D', byDefault: true, custom: true, make: fusedConvResidualKernel },
  { name: 'UolBottleneck', byDefault: true, custom: true, make: bottleneckKernel },
  { name: 'UolLayerNorm', byDefault: true, custom: true, make: layerNormKernel },
  { name: 'UolAttention', byDefault: true, custom: true, make: attentionKernel },
];

/** Names of our own kernels (no TF.js op of that name), registered on wasm while native kernels are installed. */
export const CUSTOM_KERNELS = new Set(NATIVE_KERNELS.filter((k) => k.custom).map((k) => k.name));

