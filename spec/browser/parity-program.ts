// The method end to end on whatever TF.js backend is active, from the platform-neutral core only (src/core.ts): the
// same program runs in Node (the CPU reference: wasm, native kernels when built) and in Chromium (WebGL, WebGPU), on the
// same payload, so spec/browser-parity.spec.ts can compare every stage. Returns raw arrays; no I/O here.
import * as tf from '@tensorflow/tfjs-core';
import {
  activationMaps,
  batchSums,
  boxesFromMap,
  buildBackbone,
  FitStatistics,
  fitOptimized,
  predictorFromStatistics,
  runExtractor,
  syntheticTensor,
  tfjsBackboneFromArtifacts,
  type BackboneIdentity,
  type CornerBox,
  type FeatureExtractor,
  type InputContract,
  type TrainingSource,
} from '../../src/core.js';

/** A float32 array as it travels (base64 of its little-endian bytes). */
export interface WireArray {
  shape: number[];
  b64: string;
}

/** One architecture-family model with TF-layout weights (built by `buildBackbone`). */
export interface FamilyModel {
  kind: 'family';
  name: string;
  family: string;
  arch: string;
  config: Record<string, unknown>;
  downscale?: 8 | 16 | 32;
  weights: (WireArray & { name: string })[];
  /** Input [H,W] of the feature check. */
  size: [number, number];
}

/** A tfjs LayersModel from artifacts (built by `tfjsBackboneFromArtifacts`). */
export interface TfjsModel {
  kind: 'tfjs';
  name: string;
  modelTopology: Record<string, unknown>;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: string;
  featureNode: string;
  input: InputContract;
  size: [number, number];
}

/** Everything one run needs. */
export interface ParityPayload {
  models: (FamilyModel | TfjsModel)[];
  /** Batch of the feature check (inputs are the synthetic formula, `syntheticTensor('parity-input', …)`). */
  batch: number;
  /** The photo path: which model, and the photos decoded, resized to S×S and normalised in Node, [N,S,S,3]. */
  photoModel: string;
  photos: WireArray;
  /** Models whose feature check is the photo path itself (not run again on synthetic inputs). */
  photoOnly?: string[];
  /** τ of the boxes. */
  tau: number;
  /** Passes of the logistic optimisation (small: SwiftShader is slow). */
  optimizePasses: number;
}

/** What one run returns (arrays raw; the browser entry encodes them). */
export interface ParityResult<A> {
  backend: string;
  features: Record<string, { shape: number[]; data: A }>;
  wClosed: A;
  wOptimized: A;
  optimize: { passes: number; iterations: number; objective: number; stop: string };
  maps: { shape: number[]; data: A };
  boxes: CornerBox[][];
  /** Wall time per stage, ms. */
  ms: Record<string, number>;
}

/** base64 ↔ float32, without Buffer (the browser has none). */
export function toWire(shape: number[], data: Float32Array): WireArray {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { shape, b64: btoa(s) };
}

export function fromWire(w: { b64: string }): Float32Array {
  const bin = atob(w.b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return new Float32Array(out.buffer);
}

const identity = (channels: number): BackboneIdentity => ({
  id: 'parity',
  arch: 'parity',
  featureLayer: 'parity',
  channels,
  stride: 8,
  weightsSha256: '',
  input: { mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'bilinear', sizeMultiple: 1, minSize: 8, defaultSize: 64 },
});

async function build(m: FamilyModel | TfjsModel): Promise<FeatureExtractor> {
  if (m.kind === 'tfjs') {
    const bytes = fromWire({ b64: m.weightData });
    const artifacts: tf.io.ModelArtifacts = { modelTopology: m.modelTopology, weightSpecs: m.weightSpecs, weightData: bytes.buffer as ArrayBuffer };
    return tfjsBackboneFromArtifacts(artifacts, { id: m.name, arch: 'tiny-mobilenet', featureNode: m.featureNode, input: m.input });
  }
  const weights = new Map(m.weights.map((w) => [w.name, { name: w.name, shape: w.shape, data: fromWire(w) }]));
  return buildBackbone(m.family, m.arch, m.config, weights, { id: m.name }, m.downscale ? { downscale: m.downscale } : {});
}

/** The whole program on the active backend. Leaves no tensor behind. */
export async function runParity(p: ParityPayload, onStage: (stage: string) => void = () => undefined): Promise<ParityResult<Float32Array>> {
  const ms: Record<string, number> = {};
  const clock = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());
  const stage = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    onStage(name);
    const t = clock();
    const r = await fn();
    ms[name] = clock() - t;
    return r;
  };
  const features: Record<string, { shape: number[]; data: Float32Array }> = {};

  // 1. Features of every model on the same synthetic inputs.
  for (const m of p.models) {
    if (p.photoOnly?.includes(m.name)) continue;
    const fe = await stage(`build ${m.name}`, () => build(m));
    try {
      const [H, W] = m.size;
      const n = p.batch * H * W * 3;
      const x = tf.tensor4d(syntheticTensor('parity-input', n, 1, 0), [p.batch, H, W, 3]);
      features[m.name] = await stage(`features ${m.name}`, async () => {
        const f = await runExtractor(fe, x);
        const r = { shape: f.shape, data: (await f.data()) as Float32Array };
        f.dispose();
        return r;
      });
      x.dispose();
    } finally {
      fe.dispose();
    }
  }

  // 2. The photo path: features → statistics → w* (closed form) → maps → boxes; and w by logistic optimisation.
  const pm = p.models.find((m) => m.name === p.photoModel);
  if (!pm) throw new Error(`photo model ${p.photoModel} is not in the payload`);
  const fe = await stage(`build ${pm.name}`, () => build(pm));
  const photos = tf.tensor4d(fromWire(p.photos), p.photos.shape as [number, number, number, number]);
  const [N, S] = [p.photos.shape[0]!, p.photos.shape[1]!];
  const feats = await stage('photo features', () => runExtractor(fe, photos));
  const host = (await stage('photo features download', () => feats.data())) as Float32Array;
  features[`${pm.name} (photos)`] = { shape: feats.shape, data: host };
  photos.dispose();
  fe.dispose();
  const C = feats.shape[3];

  const stats = new FitStatistics(C);
  await stage('statistics', async () => stats.addSums(await batchSums(feats)));
  const predictor = predictorFromStatistics(stats, { backbone: identity(C), tool: 'parity', created: { date: '2026-01-01T00:00:00Z' } });

  const [h, w] = [feats.shape[1], feats.shape[2]];
  const source: TrainingSource = async function* () {
    for (let i = 0; i < N; i++) {
      yield { id: `photo${i}`, features: { shape: [h, w, C], data: host.slice(i * h * w * C, (i + 1) * h * w * C) } };
    }
  };
  const opt = await stage('optimize', () =>
    fitOptimized(source, { backbone: identity, loss: 'logistic', maxPasses: p.optimizePasses, topK: 0, tool: 'parity', created: { date: '2026-01-01T00:00:00Z' } }),
  );

  const mapData = await stage('maps', async () => {
    const wt = tf.tensor1d(predictor.weights);
    const maps = activationMaps(feats, wt, { size: [S, S] });
    const d = (await maps.data()) as Float32Array;
    wt.dispose();
    maps.dispose();
    return d;
  });
  feats.dispose();

  const boxes: CornerBox[][] = await stage('boxes', async () => {
    const out: CornerBox[][] = [];
    for (let i = 0; i < N; i++) out.push(boxesFromMap(mapData.subarray(i * S * S, (i + 1) * S * S), S, S, p.tau));
    return out;
  });

  return {
    backend: tf.getBackend(),
    features,
    wClosed: predictor.weights,
    wOptimized: opt.predictor.weights,
    optimize: { passes: opt.passes, iterations: opt.iterations, objective: opt.objective, stop: String(opt.stop) },
    maps: { shape: [N, S, S], data: mapData },
    boxes,
    ms,
  };
}
