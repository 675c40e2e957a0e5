/**
 * Any tfjs-converter model as a backbone: a LayersModel cut at a named layer, or a GraphModel read at a named node,
 * loaded from files (or memory) without tfjs-node. The input shape is made dynamic (LayersModel: the InputLayer's
 * `batch_input_shape` becomes `[null,null,null,C]`; GraphModel: Placeholder dims become −1) so other input sizes
 * work where the graph allows; layers after the feature layer are pruned (their weights are skipped).
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { UsageError } from '../util/errors.js';
import type { BackboneIdentity, FeatureExtractor, InputContract } from './types.js';
import { compileFoldedLayers, hostWeights, type FoldedPlan } from './layers-fold.js';
import { settings } from '../util/settings.js';

/** How to use a tfjs model as a backbone. */
export interface TfjsBackboneSpec {
  /** Identity id. */
  id: string;
  /** Architecture name recorded in the identity (e.g. `mobilenetv2`). */
  arch: string;
  /** Layer name (LayersModel) or node name (GraphModel; `:0` suffix optional) the features come from. */
  featureNode: string;
  /** How images must be prepared. */
  input: InputContract;
  /** Keep the model's static input shape (default false: make H and W dynamic). */
  fixedInput?: boolean;
}

interface KerasLayer {
  class_name: string;
  name?: string;
  config: Record<string, unknown> & { name?: string; batch_input_shape?: (number | null)[] };
  inbound_nodes?: unknown[];
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function layerName(l: KerasLayer): string {
  return l.name ?? l.config.name ?? '';
}

/** Inbound layer names of a functional-model layer (tfjs / Keras 2 `inbound_nodes` format). */
function inboundNames(l: KerasLayer): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      if (typeof v[0] === 'string' && typeof v[1] === 'number') out.push(v[0]);
      else v.forEach(walk);
    } else if (v && typeof v === 'object' && 'args' in v) walk((v as { args: unknown }).args);
  };
  walk(l.inbound_nodes ?? []);
  return out;
}

/**
 * Rewrites a Keras topology: dynamic input (unless fixed) and everything after `feature` pruned.
 * @throws UsageError when the layer does not exist, naming the nearest layers.
 */
export function cutLayersTopology(topology: Record<string, unknown>, feature: string, fixedInput = false): Record<string, unknown> {
  const topo = clone(topology);
  const mc = (topo.model_config ?? topo) as { class_name: string; config: unknown };
  const dyn = (l: KerasLayer): void => {
    const s = l.config.batch_input_shape;
    if (!fixedInput && Array.isArray(s) && s.length === 4) l.config.batch_input_shape = [null, null, null, s[3] ?? null];
  };
  if (mc.class_name === 'Sequential') {
    const layers = (Array.isArray(mc.config) ? mc.config : (mc.config as { layers: KerasLayer[] }).layers) as KerasLayer[];
    const idx = layers.findIndex((l) => layerName(l) === feature);
    if (idx < 0) throw new UsageError(`layer "${feature}" not found; layers: ${layers.map(layerName).slice(-8).join(', ')} …`);
    const kept = layers.slice(0, idx + 1);
    if (kept[0]) dyn(kept[0]);
    if (Array.isArray(mc.config)) mc.config = kept;
    else (mc.config as { layers: KerasLayer[] }).layers = kept;
    return topo;
  }
  const cfg = mc.config as { layers: KerasLayer[]; input_layers: unknown[]; output_layers: unknown[] };
  const byName = new Map(cfg.layers.map((l) => [layerName(l), l]));
  if (!byName.has(feature)) {
    throw new UsageError(`layer "${feature}" not found; last layers: ${cfg.layers.slice(-8).map(layerName).join(', ')}`);
  }
  const keep = new Set<string>();
  const todo = [feature];
  while (todo.length) {
    const n = todo.pop()!;
    if (keep.has(n)) continue;
    keep.add(n);
    const l = byName.get(n);
    if (l) todo.push(...inboundNames(l));
  }
  cfg.layers = cfg.layers.filter((l) => keep.has(layerName(l)));
  for (const l of cfg.layers) if (l.class_name === 'InputLayer') dyn(l);
  cfg.output_layers = [[feature, 0, 0]];
  return topo;
}

interface GraphNode {
  name: string;
  op: string;
  attr?: { shape?: { shape?: { dim?: { size: string }[] } } };
}

/** Makes Placeholder H and W dims dynamic in a GraphModel topology (returns a copy). */
export function dynamicGraphTopology(topology: Record<string, unknown>): Record<string, unknown> {
  const topo = clone(topology);
  for (const n of (topo.node ?? []) as GraphNode[]) {
    const dims = n.op === 'Placeholder' ? n.attr?.shape?.shape?.dim : undefined;
    if (dims && dims.length === 4) for (let i = 0; i < 3; i++) dims[i]!.size = '-1';
  }
  return topo;
}

function isGraphArtifacts(a: tf.io.ModelArtifacts): boolean {
  const t = a.modelTopology as Record<string, unknown> | undefined;
  return a.format === 'graph-model' || (!!t && Array.isArray(t.node));
}

/** A backbone over a tfjs LayersModel (or its folded plan, see layers-fold.ts) or a GraphModel. */
class TfjsModelBackbone implements FeatureExtractor {
  identity: BackboneIdentity;
  private asyncOnly = false;
  /** The folded inference plan, when the LayersModel compiled and matched it (the model is then released). */
  plan: FoldedPlan | undefined;

  constructor(
    private layers: LayersModel | undefined,
    private readonly graph: GraphModel | undefined,
    private readonly node: string,
    identity: BackboneIdentity,
  ) {
    this.identity = identity;
  }

  /**
   * Compiles the LayersModel into fused ops (BN folded, activations and paddings fused) and switches to them when the
   * plan reproduces the model on a probe input (relative L2 ≤ 5e-5); otherwise keeps the model. `UOL_FOLD_LAYERS=0`
   * turns this off. Returns why it did not switch, or undefined. Reads from the engine asynchronously only (GPU
   * backends stall, or lose their device, on synchronous reads).
   */
  async fold(probeSize: number): Promise<string | undefined> {
    if (!this.layers) return 'not a LayersModel';
    if (!settings().foldLayers) return 'UOL_FOLD_LAYERS=0';
    const plan = compileFoldedLayers(this.layers, await hostWeights(this.layers));
    if (typeof plan === 'string') return plan;
    const norms = tf.tidy(() => {
      const x = tf.randomUniform([1, probeSize, probeSize, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
      const a = this.layers!.predict(x) as tf.Tensor;
      const b = plan.run(x);
      if (!tf.util.arraysEqual(a.shape, b.shape)) return undefined;
      return tf.stack([tf.norm(tf.sub(a, b)), tf.norm(a)]);
    });
    const [d, n] = norms ? Array.from(await norms.data()) : [Infinity, 1];
    norms?.dispose();
    const err = d! / Math.max(n!, 1e-30);
    if (!(err <= 5e-5)) {
      plan.dispose();
      return `folded plan differs from the model (relative L2 ${err})`;
    }
    this.plan = plan;
    this.layers.dispose();
    this.layers = undefined;
    return undefined;
  }

  private run(x: tf.Tensor4D): tf.Tensor4D {
    if (this.plan) return this.plan.run(x);
    if (this.layers) return this.layers.predict(x) as tf.Tensor4D;
    return this.graph!.execute({ [this.graph!.inputs[0]!.name]: x }, this.node) as tf.Tensor4D;
  }

  extract(x: tf.Tensor4D): tf.Tensor4D {
    if (this.asyncOnly) throw new Error(`${this.identity.id}: this graph has control flow; use extractAsync()`);
    return tf.tidy(() => this.run(x));
  }

  async extractAsync(x: tf.Tensor4D): Promise<tf.Tensor4D> {
    if (!this.asyncOnly) {
      try {
        return this.extract(x);
      } catch (e) {
        if (!this.graph || !/executeAsync|dynamic op/i.test((e as Error).message)) throw e;
        this.asyncOnly = true;
      }
    }
    return (await this.graph!.executeAsync({ [this.graph!.inputs[0]!.name]: x }, this.node)) as tf.Tensor4D;
  }

  dispose(): void {
    this.plan?.dispose();
    this.layers?.dispose();
    this.graph?.dispose();
  }
}

function weightBytes(a: tf.io.ModelArtifacts): Uint8Array {
  const d = a.weightData;
  if (!d) return new Uint8Array(0);
  const parts = Array.isArray(d) ? d : [d];
  const total = parts.reduce((s, p) => s + p.byteLength, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), off);
    off += p.byteLength;
  }
  return out;
}

/**
 * Builds a backbone from in-memory model artifacts (model.json content + weights).
 * Probes the output at the contract's default size to learn channels and stride.
 * @throws UsageError when the feature node/layer does not exist or the model does not run.
 */
export async function tfjsBackboneFromArtifacts(artifacts: tf.io.ModelArtifacts, spec: TfjsBackboneSpec): Promise<FeatureExtractor> {
  const topo = artifacts.modelTopology as Record<string, unknown> | undefined;
  if (!topo || topo instanceof ArrayBuffer) throw new UsageError(`${spec.id}: model has no JSON topology`);
  const sha = await sha256Hex(weightBytes(artifacts));
  let fe: TfjsModelBackbone;
  let node = spec.featureNode;
  if (isGraphArtifacts(artifacts)) {
    node = node.replace(/:0$/, '');
    const names = new Set(((topo.node ?? []) as GraphNode[]).map((n) => n.name));
    if (!names.has(node)) {
      const hint = [...names].filter((n) => n.toLowerCase().includes(node.split('/').pop()!.toLowerCase())).slice(0, 5);
      throw new UsageError(`${spec.id}: graph has no node "${node}"${hint.length ? `; similar: ${hint.join(', ')}` : ''}`);
    }
    const g = await loadGraphModel(tf.io.fromMemory({ ...artifacts, modelTopology: spec.fixedInput ? topo : dynamicGraphTopology(topo) }));
    fe = new TfjsModelBackbone(undefined, g, node, placeholderIdentity(spec, sha));
  } else {
    const cut = cutLayersTopology(topo, node, spec.fixedInput);
    const m = await loadLayersModel(tf.io.fromMemory({ ...artifacts, modelTopology: cut }), { strict: false });
    fe = new TfjsModelBackbone(m, undefined, node, placeholderIdentity(spec, sha));
    if (!spec.fixedInput) await fe.fold(Math.min(spec.input.defaultSize, 96));
  }
  // Probe once at the default size: channels and stride come from the real output.
  const s = spec.input.defaultSize;
  const probe = tf.zeros([1, s, s, 3]) as tf.Tensor4D;
  let out: tf.Tensor4D;
  try {
    out = await fe.extractAsync(probe);
  } catch (e) {
    fe.dispose();
    throw new UsageError(`${spec.id}: the model does not run at ${s}×${s}: ${(e as Error).message}`);
  } finally {
    probe.dispose();
  }
  if (out.rank !== 4) {
    out.dispose();
    fe.dispose();
    throw new UsageError(`${spec.id}: feature "${node}" has rank ${out.rank}; a [B,h,w,C] map is needed`);
  }
  fe.identity = { ...fe.identity, channels: out.shape[3], stride: Math.round(s / out.shape[1]) };
  out.dispose();
  return fe;
}

/**
 * SHA-256 of `bytes` as lowercase hex, through WebCrypto (Node ≥ 20 and browsers alike; in a browser only on a secure
 * origin — https or localhost — which is where the app is served).
 */
async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

function placeholderIdentity(spec: TfjsBackboneSpec, sha: string): BackboneIdentity {
  return { id: spec.id, arch: spec.arch, featureLayer: spec.featureNode, channels: 0, stride: 0, weightsSha256: sha, input: spec.input };
}
