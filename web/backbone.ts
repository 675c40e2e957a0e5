// Backbones in the browser: a folder of model files (what `uol convert` writes — model.json with format "uol-backbone"
// plus shards — or a tfjs-converter model with a uol-backbone.json sidecar, which is how the build ships the embedded
// MobileNetV2) read through a file-reader function, weights checked against the recorded sha256 (Web Crypto).
import type * as tf from '@tensorflow/tfjs-core';
import { FAMILIES } from '../src/backbones/archs.js';
import type { FeatureExtractor, InputContract } from '../src/backbones/types.js';
import type { WeightMap } from '../src/backbones/ops.js';
import { tfjsBackboneFromArtifacts } from '../src/backbones/tfjs-model.js';
import { UsageError } from '../src/util/errors.js';

/** Reads a file of the model folder by relative name; undefined when absent. */
export type ReadFile = (name: string) => Promise<ArrayBuffer | undefined>;

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: unknown;
}

interface Sidecar {
  id?: string;
  arch?: string;
  featureNode?: string;
  input?: Partial<InputContract>;
  fixedInput?: boolean;
  weightsSha256?: string;
}

/** Default contract of a foreign tfjs model: [0,1] input, bilinear, any size (as backbones/registry.ts assumes). */
const TFJS_DEFAULT_INPUT: InputContract = { mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'bilinear', sizeMultiple: 1, minSize: 32, defaultSize: 224 };

/** sha256 hex of bytes, or undefined where Web Crypto is unavailable (a page served over plain http from another host). */
export async function sha256Hex(bytes: Uint8Array): Promise<string | undefined> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return undefined;
  const d = new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function text(buf: ArrayBuffer): string {
  return new TextDecoder().decode(buf);
}

function json(buf: ArrayBuffer, name: string): Record<string, unknown> {
  try {
    const j = JSON.parse(text(buf)) as unknown;
    if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error('not a JSON object');
    return j as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`${name}: invalid JSON (${(e as Error).message})`);
  }
}

async function shards(read: ReadFile, dirName: string, manifest: { paths: string[]; weights: ManifestEntry[] }[]): Promise<{ specs: ManifestEntry[]; bytes: Uint8Array }> {
  const specs: ManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  for (const g of manifest) {
    specs.push(...g.weights);
    for (const p of g.paths) {
      if (p.includes('..') || p.startsWith('/')) throw new UsageError(`${dirName}/model.json: weight shard path "${p}" leaves the model folder`);
      const b = await read(p);
      if (!b) throw new UsageError(`${dirName}/${p}: missing (listed in model.json)`);
      parts.push(new Uint8Array(b));
    }
  }
  const bytes = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    bytes.set(p, off);
    off += p.length;
  }
  return { specs, bytes };
}

/**
 * Loads a backbone from a model folder.
 * @param dirName the folder's name (the backbone id of a tfjs model without a sidecar id).
 * @throws UsageError naming the file for a missing or corrupt model.
 */
export async function loadBackboneFolder(read: ReadFile, dirName: string): Promise<{ backbone: FeatureExtractor; verified: boolean }> {
  const mj = await read('model.json');
  if (!mj) throw new UsageError(`${dirName}: no model.json`);
  const model = json(mj, `${dirName}/model.json`);
  const manifest = model.weightsManifest as { paths: string[]; weights: ManifestEntry[] }[] | undefined;
  if (!Array.isArray(manifest)) throw new UsageError(`${dirName}/model.json: no weightsManifest`);
  const { specs, bytes } = await shards(read, dirName, manifest);
  if (model.format === 'uol-backbone') {
    const b = model.backbone as { name: string; arch: string; family: string; config: Record<string, unknown> };
    const fam = FAMILIES[b?.family];
    if (!fam) throw new UsageError(`${dirName}/model.json: unknown architecture family ${JSON.stringify(b?.family)}`);
    const need = specs.reduce((s, w) => s + w.shape.reduce((a, x) => a * x, 1) * 4, 0);
    if (bytes.length < need) throw new UsageError(`${dirName}: weight shards hold ${bytes.length} bytes but model.json needs ${need}`);
    const sha = await sha256Hex(bytes.subarray(0, need));
    const recorded = model.weightsSha256 as string | undefined;
    if (sha && recorded && sha !== recorded) throw new UsageError(`${dirName}: weights sha256 ${sha} does not match the recorded ${recorded} (corrupt or modified shards)`);
    const weights: WeightMap = new Map();
    let off = 0;
    for (const s of specs) {
      if (s.dtype !== 'float32' || s.quantization) throw new UsageError(`${dirName}/model.json: weight "${s.name}" is ${s.dtype}; converted backbones store float32`);
      const n = s.shape.reduce((a, x) => a * x, 1);
      weights.set(s.name, { shape: s.shape, data: new Float32Array(bytes.buffer, bytes.byteOffset + off, n) });
      off += n * 4;
    }
    const id = { id: b.name, ...(recorded ? { weightsSha256: recorded } : {}) };
    return { backbone: fam.build(b.config, weights, id, b.arch, {}), verified: !!sha && !!recorded };
  }
  const sideBuf = await read('uol-backbone.json');
  const side: Sidecar = sideBuf ? (json(sideBuf, `${dirName}/uol-backbone.json`) as Sidecar) : {};
  if (!side.featureNode) throw new UsageError(`${dirName}: a tfjs model needs uol-backbone.json with {"featureNode": …}`);
  const sha = await sha256Hex(bytes);
  if (sha && side.weightsSha256 && sha !== side.weightsSha256) throw new UsageError(`${dirName}: weights sha256 ${sha} does not match uol-backbone.json's ${side.weightsSha256}`);
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: model.modelTopology as tf.io.ModelArtifacts['modelTopology'],
    weightSpecs: specs as tf.io.WeightsManifestEntry[],
    weightData: bytes.slice().buffer,
  };
  if (typeof model.format === 'string') artifacts.format = model.format;
  const fe = await tfjsBackboneFromArtifacts(artifacts, {
    id: side.id ?? dirName,
    arch: side.arch ?? 'tfjs-model',
    featureNode: side.featureNode,
    input: { ...TFJS_DEFAULT_INPUT, ...side.input },
    ...(side.fixedInput ? { fixedInput: true } : {}),
  });
  return { backbone: fe, verified: !!sha && !!side.weightsSha256 };
}
