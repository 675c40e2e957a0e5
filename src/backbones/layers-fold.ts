/**
 * Inference compiler for tfjs LayersModels made of convolution blocks (MobileNet-style Keras graphs: ZeroPadding2D,
 * Conv2D, DepthwiseConv2D, BatchNormalization, ReLU/ReLU6, Add). tfjs-layers runs every layer as its own op —
 * conv, then batch norm, then relu, then clip — so a MobileNetV2 spends as long on those passes as on its convolutions.
 * Here, at load time:
 *
 * - BatchNormalization (inference) is folded into the preceding convolution's weights and bias (float64):
 *   `w' = w·γ/√(σ²+ε)`, `b' = β + (b − μ)·γ/√(σ²+ε)`, per output channel (channel · multiplier for depthwise);
 * - a following ReLU / ReLU(max 6) becomes the convolution's fused activation;
 * - ZeroPadding2D before a `valid` convolution becomes the convolution's explicit padding;
 * - `Add(conv(x), y)` with a linear convolution becomes one convolution with a residual input (engine/fused.ts).
 *
 * The result is a list of fused TF.js ops (native kernels on wasm when built). Any other layer type, or a pattern that
 * does not fit (an activation after a branching layer, …) stays a separate op; unknown layer types or a batch norm that
 * cannot be folded make {@link compileFoldedLayers} return the reason, and the caller keeps the LayersModel. Hand-written: tfjs-layers has no
 * inference-time graph optimiser, and tfjs-converter's optimisations only apply to SavedModel conversion.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { fusedConv2dResidual } from '../engine/fused.js';

/** The parts of a tfjs-layers Layer used here. */
interface LayerLike {
  name: string;
  getClassName(): string;
  getConfig(): Record<string, unknown>;
  weights: { name: string; originalName?: string; read(): tf.Tensor }[];
  inboundNodes: { inboundLayers: LayerLike[] }[];
}

type Act = 'linear' | 'relu' | 'relu6';
type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

/** One op of the compiled plan; `inputs` are value names (layer names or `input`). */
type Op =
  | { kind: 'conv'; out: string; input: string; filter: tf.Tensor4D; bias?: tf.Tensor1D; strides: [number, number]; dilations: [number, number]; pad: Pad; act: Act; residual?: string }
  | { kind: 'depthwise'; out: string; input: string; filter: tf.Tensor4D; bias?: tf.Tensor1D; strides: [number, number]; dilations: [number, number]; pad: Pad; act: Act }
  | { kind: 'pad'; out: string; input: string; paddings: [[number, number], [number, number]] }
  | { kind: 'add'; out: string; inputs: string[]; act: Act }
  | { kind: 'act'; out: string; input: string; act: Act };

/** A compiled inference plan; {@link FoldedPlan.run} maps `[B,H,W,C]` to the feature layer's output. */
export interface FoldedPlan {
  run(x: tf.Tensor4D): tf.Tensor4D;
  /** Layers folded away (batch norms, activations, paddings, adds), for reports. */
  folded: number;
  dispose(): void;
}

const pair = (v: unknown, d: number): [number, number] => (Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : [Number(v ?? d), Number(v ?? d)]);

/** The activation of a ReLU / Activation layer, or undefined when it is something else. */
function activationOf(l: LayerLike): Act | undefined {
  const c = l.getConfig();
  const cls = l.getClassName();
  if (cls === 'ReLU') {
    if (Number(c.negative_slope ?? c.negativeSlope ?? 0) !== 0 || Number(c.threshold ?? 0) !== 0) return undefined;
    const max = c.max_value ?? c.maxValue;
    if (max === null || max === undefined) return 'relu';
    return Number(max) === 6 ? 'relu6' : undefined;
  }
  if (cls === 'Activation') {
    const a = String(c.activation);
    return a === 'relu' || a === 'relu6' || a === 'linear' ? a : undefined;
  }
  return undefined;
}

/** tfjs-layers configs use camelCase (`dataFormat: 'channelsLast'`), Keras JSON snake_case. */
function channelsLast(c: Record<string, unknown>): boolean {
  const f = String(c.data_format ?? c.dataFormat ?? 'channels_last');
  return f === 'channels_last' || f === 'channelsLast';
}

/** A layer's weight by its Keras name (`kernel`, `gamma`, …); tfjs-layers may have made the name unique (`kernel_1`). */
function weightByName(l: LayerLike, suffix: string): tf.Tensor | undefined {
  const base = (n: string): string => (n.split('/').pop() ?? n).replace(/_\d+$/, '');
  return l.weights.find((w) => base(w.originalName ?? w.name) === suffix)?.read();
}

/**
 * The model's weight values on the host, read asynchronously (tensor id → values): what {@link compileFoldedLayers}
 * folds. A GPU backend cannot read synchronously without stalling (WebGPU in Chromium loses its device doing it), so
 * callers on any backend read here first.
 */
export async function hostWeights(model: LayersModel): Promise<Map<number, Float32Array>> {
  const out = new Map<number, Float32Array>();
  for (const w of model.weights) {
    const t = w.read();
    out.set(t.id, (await t.data()) as Float32Array);
  }
  return out;
}

/**
 * Compiles `model` (already cut at its feature layer) into fused ops, or returns why not (a layer type or pattern this
 * compiler does not handle). The plan owns new (folded) weight tensors; the model is not modified.
 * @param host the weights' values from {@link hostWeights} (default: read synchronously, fine on CPU backends).
 */
export function compileFoldedLayers(model: LayersModel, host?: ReadonlyMap<number, Float32Array>): FoldedPlan | string {
  const values = (t: tf.Tensor): Float32Array => host?.get(t.id) ?? (t.dataSync() as Float32Array);
  const layers = model.layers as unknown as LayerLike[];
  const known = new Set(['InputLayer', 'ZeroPadding2D', 'Conv2D', 'DepthwiseConv2D', 'BatchNormalization', 'ReLU', 'Activation', 'Add']);
  const unknown = layers.find((l) => !known.has(l.getClassName()));
  if (unknown) return `layer ${unknown.name} (${unknown.getClassName()}) is not foldable`;
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return 'several inputs or outputs';
  const inputsOf = (l: LayerLike): LayerLike[] => (l.inboundNodes.length === 1 ? l.inboundNodes[0]!.inboundLayers : []);
  if (layers.some((l) => l.getClassName() !== 'InputLayer' && l.inboundNodes.length !== 1)) return 'shared layers';
  const consumers = new Map<string, LayerLike[]>();
  for (const l of layers) for (const i of inputsOf(l)) consumers.set(i.name, [...(consumers.get(i.name) ?? []), l]);
  const only = (l: LayerLike): LayerLike | undefined => {
    const c = consumers.get(l.name) ?? [];
    return c.length === 1 ? c[0] : undefined;
  };
  const outName = (model.outputs[0] as unknown as { sourceLayer: { name: string } }).sourceLayer.name;
  const outputLayer = layers.find((l) => l.name === outName);
  if (!outputLayer) return `output layer ${outName} not found`;
  const alias = new Map<string, string>(); // layer name → value name
  const value = (l: LayerLike): string => alias.get(l.name) ?? l.name;
  const ops: Op[] = [];
  const owned: tf.Tensor[] = [];
  const done = new Set<string>();
  let folded = 0;
  const fail = (l: LayerLike, why: string): string => {
    disposeAll(owned);
    return `layer ${l.name} (${l.getClassName()}): ${why}`;
  };
  try {
    for (const l of layers) {
      if (done.has(l.name)) continue;
      const cls = l.getClassName();
      const c = l.getConfig();
      const ins = inputsOf(l);
      if (cls === 'InputLayer') {
        alias.set(l.name, 'input');
        continue;
      }
      if (cls === 'ZeroPadding2D') {
        const p = c.padding as number | [number, number] | [[number, number], [number, number]];
        const pp: [[number, number], [number, number]] = Array.isArray(p)
          ? (Array.isArray(p[0]) ? (p as [[number, number], [number, number]]) : [[p[0] as number, p[0] as number], [p[1] as number, p[1] as number]])
          : [[p, p], [p, p]];
        if (!channelsLast(c)) return fail(l, 'not channels_last');
        ops.push({ kind: 'pad', out: l.name, input: value(ins[0]!), paddings: pp });
        continue;
      }
      if (cls === 'Conv2D' || cls === 'DepthwiseConv2D') {
        if (!channelsLast(c)) return fail(l, 'not channels_last');
        const depthwise = cls === 'DepthwiseConv2D';
        if (!depthwise && Number(c.groups ?? 1) !== 1) return fail(l, 'grouped convolution');
        let act = String(c.activation ?? 'linear');
        if (act !== 'linear' && act !== 'relu' && act !== 'relu6') return fail(l, `activation ${act}`);
        const kernel = weightByName(l, depthwise ? 'depthwise_kernel' : 'kernel');
        if (!kernel || kernel.rank !== 4) return fail(l, `no 4-D kernel among ${l.weights.map((w) => w.name).join(', ')}`);
        const convBias = c.use_bias ?? c.useBias ? weightByName(l, 'bias') : undefined;
        const outC = depthwise ? kernel.shape[2]! * kernel.shape[3]! : kernel.shape[3]!;
        let k = Float64Array.from(values(kernel));
        const b = convBias ? Float64Array.from(values(convBias)) : new Float64Array(outC);
        let last: LayerLike = l;
        // Batch norm right after (and only consumer).
        const next = only(l);
        if (act === 'linear' && next && next.getClassName() === 'BatchNormalization') {
          const nc = next.getConfig();
          const axis = Number(nc.axis ?? -1);
          const mean = weightByName(next, 'moving_mean');
          const variance = weightByName(next, 'moving_variance');
          if ((axis === -1 || axis === 3) && mean && variance && mean.size === outC) {
            const eps = Number(nc.epsilon ?? 1e-3);
            const gamma = nc.scale === false ? undefined : weightByName(next, 'gamma');
            const beta = nc.center === false ? undefined : weightByName(next, 'beta');
            const mu = values(mean);
            const v = values(variance);
            const g = gamma && values(gamma);
            const be = beta && values(beta);
            const f = new Float64Array(outC);
            for (let o = 0; o < outC; o++) {
              f[o] = (g ? g[o]! : 1) / Math.sqrt(v[o]! + eps);
              b[o] = (be ? be[o]! : 0) + (b[o]! - mu[o]!) * f[o]!;
            }
            const k2 = new Float64Array(k.length);
            for (let i = 0; i < k.length; i++) k2[i] = k[i]! * f[i % outC]!;
            k = k2;
            last = next;
            done.add(next.name);
            folded++;
          }
        }
        // Activation right after.
        const after = only(last);
        if (act === 'linear' && after) {
          const a = activationOf(after);
          if (a) {
            act = a;
            alias.set(last.name, after.name);
            last = after;
            done.add(after.name);
            folded++;
          }
        }
        // Explicit padding from a ZeroPadding2D in front of a valid convolution.
        let pad: Pad = String(c.padding) === 'same' ? 'same' : 'valid';
        let input = value(ins[0]!);
        const padOp = ops.find((o) => o.kind === 'pad' && o.out === input);
        if (padOp && padOp.kind === 'pad' && pad === 'valid' && (consumers.get(ins[0]!.name) ?? []).length === 1) {
          pad = [[0, 0], padOp.paddings[0], padOp.paddings[1], [0, 0]];
          input = padOp.input;
          ops.splice(ops.indexOf(padOp), 1);
          folded++;
        }
        const filter = tf.tensor4d(Float32Array.from(k), kernel.shape as [number, number, number, number]);
        const bias = tf.tensor1d(Float32Array.from(b));
        owned.push(filter, bias);
        const base = { out: last.name, input, filter, bias, strides: pair(c.strides, 1), dilations: pair(c.dilation_rate ?? c.dilationRate, 1), pad, act: act as Act };
        ops.push(depthwise ? { kind: 'depthwise', ...base } : { kind: 'conv', ...base });
        if (last !== l) alias.set(l.name, last.name);
        continue;
      }
      if (cls === 'BatchNormalization') return fail(l, 'a batch norm that does not follow a convolution');
      if (cls === 'ReLU' || cls === 'Activation') {
        const a = activationOf(l);
        if (!a) return fail(l, 'unsupported activation');
        ops.push({ kind: 'act', out: l.name, input: value(ins[0]!), act: a });
        continue;
      }
      if (cls === 'Add') {
        const names = ins.map(value);
        // Add(conv(x), y): the convolution takes y as its residual (if it is linear and feeds only this add).
        const convIdx = ops.findIndex((o) => o.kind === 'conv' && o.act === 'linear' && !o.residual && names.includes(o.out) &&
          o.strides[0] === o.strides[1] && o.dilations[0] === 1 && o.dilations[1] === 1 &&
          (consumers.get(ins[names.indexOf(o.out)]!.name) ?? []).length === 1);
        if (names.length === 2 && convIdx >= 0 && convIdx === ops.length - 1) {
          const conv = ops[convIdx] as Extract<Op, { kind: 'conv' }>;
          conv.residual = names.find((n) => n !== conv.out) ?? conv.out;
          let out = l.name;
          const after = only(l);
          const a = after ? activationOf(after) : undefined;
          if (after && a) {
            conv.act = a;
            done.add(after.name);
            alias.set(l.name, after.name);
            out = after.name;
            folded++;
          }
          alias.set(conv.out, out);
          conv.out = out;
          folded++;
          continue;
        }
        ops.push({ kind: 'add', out: l.name, inputs: names, act: 'linear' });
        continue;
      }
      return fail(l, 'unsupported');
    }
  } catch (e) {
    disposeAll(owned);
    throw e;
  }
  const result = value(outputLayer);
  // Last use of each value, so intermediates are freed as soon as possible.
  const lastUse = new Map<string, number>();
  ops.forEach((o, i) => {
    const uses = o.kind === 'add' ? o.inputs : [o.input, ...(o.kind === 'conv' && o.residual ? [o.residual] : [])];
    for (const u of uses) lastUse.set(u, i);
  });
  return {
    folded,
    run(x: tf.Tensor4D): tf.Tensor4D {
      return tf.tidy(() => {
        const vals = new Map<string, tf.Tensor4D>([['input', x]]);
        const get = (n: string): tf.Tensor4D => {
          const v = vals.get(n);
          if (!v) throw new Error(`folded plan: value "${n}" is not computed`);
          return v;
        };
        ops.forEach((o, i) => {
          let y: tf.Tensor4D;
          if (o.kind === 'conv' && o.residual !== undefined) {
            // Residual convolutions have equal strides and no dilation (checked when fusing the Add).
            const args: Parameters<typeof fusedConv2dResidual>[0] = { x: get(o.input), filter: o.filter, strides: o.strides[0], pad: o.pad, residual: get(o.residual), activation: o.act };
            if (o.bias) args.bias = o.bias;
            y = fusedConv2dResidual(args);
          } else if (o.kind === 'conv' || o.kind === 'depthwise') {
            const args = { x: get(o.input), filter: o.filter, strides: o.strides, pad: o.pad, dilations: o.dilations, ...(o.bias ? { bias: o.bias } : {}), ...(o.act !== 'linear' ? { activation: o.act } : {}) };
            y = (o.kind === 'conv' ? tf.fused.conv2d(args) : tf.fused.depthwiseConv2d(args as Parameters<typeof tf.fused.depthwiseConv2d>[0])) as tf.Tensor4D;
          } else if (o.kind === 'pad') {
            y = tf.pad(get(o.input), [[0, 0], o.paddings[0], o.paddings[1], [0, 0]]);
          } else if (o.kind === 'add') {
            y = o.inputs.length === 1 ? tf.clone(get(o.inputs[0]!)) : (o.inputs.map(get).reduce((a, b) => tf.add(a, b)) as tf.Tensor4D);
          } else {
            const v = get(o.input);
            y = o.act === 'relu' ? tf.relu(v) : o.act === 'relu6' ? tf.relu6(v) : tf.clone(v);
          }
          vals.set(o.out, y);
          // Free values whose last use was this op (never the input).
          for (const [n, t] of vals) if (n !== 'input' && n !== result && (lastUse.get(n) ?? -1) <= i && n !== o.out) {
            t.dispose();
            vals.delete(n);
          }
        });
        return get(result);
      });
    },
    dispose(): void {
      disposeAll(owned);
    },
  };
}

function disposeAll(ts: tf.Tensor[]): undefined {
  for (const t of ts) t.dispose();
  ts.length = 0;
  return undefined;
}
