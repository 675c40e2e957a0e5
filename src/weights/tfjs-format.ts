/**
 * TF.js model files on disk without tfjs-node: `model.json` with a `weightsManifest` plus binary shards (≤ 4 MB, the
 * converter's default), and an IOHandler that reads them from the file system for `tf.loadGraphModel` /
 * `tf.loadLayersModel` (whose `file://` loader needs tfjs-node).
 *
 * Converted backbones use the same container with `format: "uol-backbone"`: weights are named by their PyTorch keys
 * and stored in TF layout (conv `[kh,kw,in,out]`, linear `[in,out]`), plus the architecture config and provenance.
 */
import * as tf from '@tensorflow/tfjs-core';
import { cpSync, existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { UsageError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { readFileBoundedAsync, readTextBoundedAsync } from '../util/safe-read.js';

/** Shard size used when writing (bytes). */
export const SHARD_BYTES = 4 * 1024 * 1024;

/** Where a converted model came from. */
export interface Provenance {
  /** Checkpoint file name (base name). */
  source: string;
  /** sha256 of the checkpoint file, hex. */
  sourceSha256: string;
  /** `pth-zip`, `pth-legacy` or `safetensors`. */
  sourceFormat: string;
  /** Download URL, when fetched. */
  url?: string;
  /** Registry name, when fetched. */
  registryName?: string;
  /** What `uol fetch` verified of the download before converting it (see describeVerification in backbones/download.ts). */
  downloadVerified?: string;
  /** Architecture preset the checkpoint was checked against. */
  arch: string;
  /** Key map used and its version. */
  keyMap: string;
  keyMapVersion: number;
  /** Container path and prefix the backbone was taken from. */
  container: string[];
  prefix: string;
  /** Tensors dropped as heads of the training recipe. */
  droppedHeads: string[];
  /** Element types of the source tensors (count per dtype). */
  sourceDtypes: Record<string, number>;
  /** ISO time of conversion. */
  convertedAt: string;
  /** Tool that converted. */
  convertedBy: string;
  /**
   * Set by `uol convert --release NAME`: the release network whose load was reproduced, and what its
   * `load_state_dict(strict=False)` silently ignored (checkpoint keys), left at init (module keys, as torch names
   * them) and which of those the converter filled with PyTorch-default values (`--allow-missing`).
   */
  release?: { network: string; ignored: string[]; missing: string[]; filled: string[] };
}

/** One weight entry of a manifest. */
export interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: 'float32';
}

/** `model.json` of a converted backbone. */
export interface ConvertedModelJson {
  format: 'uol-backbone';
  formatVersion: 1;
  generatedBy: string;
  backbone: {
    /** Model name (directory name by default). */
    name: string;
    /** Architecture preset (e.g. `vit_small`) or family for custom configs. */
    arch: string;
    /** Architecture family: `vit`, `resnet`, `vgg`. */
    family: string;
    /** Full architecture config (family-specific). */
    config: Record<string, unknown>;
  };
  provenance: Provenance;
  /** sha256 over all weight bytes in manifest order (= the shards concatenated), hex. */
  weightsSha256: string;
  weightsManifest: { paths: string[]; weights: ManifestWeight[] }[];
}

/** A named float32 array in TF layout. */
export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

const SHARD_FILE = /^group\d+-shard\d+of\d+\.bin$/;

/**
 * Writes `model.json` + shards to `dir` (created). Shards first, `model.json` last and atomically, so an interrupted
 * write never leaves a loadable but incomplete model. When `dir` already holds a model, the new one is written to a
 * hidden sibling directory and swapped in by two renames once complete, so a kill at any point leaves the previous
 * model intact (its shards are never overwritten in place); other files in `dir` (sidecars, notes) are carried over.
 */
export async function writeConvertedModel(dir: string, meta: Omit<ConvertedModelJson, 'weightsManifest' | 'weightsSha256' | 'format' | 'formatVersion'>, weights: NamedArray[], shardBytes = SHARD_BYTES): Promise<ConvertedModelJson> {
  if (!existsSync(path.join(dir, 'model.json'))) return writeModelFiles(dir, meta, weights, shardBytes);
  const abs = path.resolve(dir);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const stage = path.join(path.dirname(abs), `.${path.basename(abs)}.new-${tag}`);
  let json: ConvertedModelJson;
  try {
    json = await writeModelFiles(stage, meta, weights, shardBytes);
    for (const f of readdirSync(abs)) if (f !== 'model.json' && !SHARD_FILE.test(f) && !existsSync(path.join(stage, f))) cpSync(path.join(abs, f), path.join(stage, f), { recursive: true });
  } catch (e) {
    rmSync(stage, { recursive: true, force: true });
    throw e;
  }
  const old = path.join(path.dirname(abs), `.${path.basename(abs)}.old-${tag}`);
  renameSync(abs, old);
  renameSync(stage, abs);
  rmSync(old, { recursive: true, force: true });
  return json;
}

async function writeModelFiles(dir: string, meta: Omit<ConvertedModelJson, 'weightsManifest' | 'weightsSha256' | 'format' | 'formatVersion'>, weights: NamedArray[], shardBytes: number): Promise<ConvertedModelJson> {
  const total = weights.reduce((s, w) => s + w.data.byteLength, 0);
  const n = Math.max(1, Math.ceil(total / shardBytes));
  const paths = Array.from({ length: n }, (_, i) => `group1-shard${i + 1}of${n}.bin`);
  const sha = createHash('sha256');
  // Stream the weights through one shard-sized buffer: memory stays at the model plus one shard.
  let shard = new Uint8Array(Math.min(shardBytes, total));
  let fill = 0;
  let index = 0;
  const flush = async (): Promise<void> => {
    await writeFileAtomic(path.join(dir, paths[index]!), shard.subarray(0, fill));
    index++;
    fill = 0;
    shard = new Uint8Array(Math.max(0, Math.min(shardBytes, total - index * shardBytes)));
  };
  for (const w of weights) {
    const bytes = new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength);
    sha.update(bytes);
    let off = 0;
    while (off < bytes.length) {
      const k = Math.min(bytes.length - off, shard.length - fill);
      shard.set(bytes.subarray(off, off + k), fill);
      fill += k;
      off += k;
      if (fill === shard.length && index < n) await flush();
    }
  }
  if (total === 0) await writeFileAtomic(path.join(dir, paths[0]!), new Uint8Array(0));
  if (existsSync(dir))
    for (const f of readdirSync(dir)) if (SHARD_FILE.test(f) && !paths.includes(f)) rmSync(path.join(dir, f), { force: true });
  const json: ConvertedModelJson = {
    format: 'uol-backbone',
    formatVersion: 1,
    ...meta,
    weightsSha256: sha.digest('hex'),
    weightsManifest: [{ paths, weights: weights.map((w) => ({ name: w.name, shape: w.shape, dtype: 'float32' })) }],
  };
  await writeFileAtomic(path.join(dir, 'model.json'), JSON.stringify(json, null, 1) + '\n');
  return json;
}

/** Resolves `p` (a model directory or a model.json path) to the model.json path. */
export function modelJsonPath(p: string): string {
  return p.endsWith('.json') ? p : path.join(p, 'model.json');
}

/** Reads and parses a model.json. @throws UsageError naming the file. */
export async function readModelJson(p: string): Promise<Record<string, unknown>> {
  const file = modelJsonPath(p);
  const text = await readTextBoundedAsync(file, 'jsonBytes', 'model.json');
  try {
    const j = JSON.parse(text) as unknown;
    if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error('not a JSON object');
    return j as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`${file}: invalid model.json: ${(e as Error).message}`);
  }
}

/**
 * Reads the shards of a weights manifest (relative to the model.json's directory) into one buffer, checking every
 * shard exists and that the total matches the manifest's weights.
 * @throws UsageError naming the missing or short file.
 */
export async function readManifestWeights(modelJson: string, manifest: tf.io.WeightsManifestConfig): Promise<{ specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer }> {
  const dir = path.dirname(modelJson);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const bufs: Uint8Array[] = [];
  for (const group of manifest) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      const file = path.join(dir, p);
      if (path.isAbsolute(p) || path.relative(dir, file).split(path.sep)[0] === '..') throw new UsageError(`${modelJson}: weight shard path "${p}" leaves the model directory`);
      try {
        bufs.push(new Uint8Array(await readFileBoundedAsync(file, 'arrayBytes', 'weight shard')));
      } catch (e) {
        throw new UsageError(`${(e as Error).message} (listed in ${modelJson})`);
      }
    }
  }
  const total = bufs.reduce((s, b) => s + b.length, 0);
  const need = specs.reduce((s, w) => s + expectedBytes(w), 0);
  if (total < need) throw new UsageError(`${modelJson}: weight shards hold ${total} bytes but the manifest needs ${need}`);
  const out = new Uint8Array(total);
  let off = 0;
  for (const b of bufs) {
    out.set(b, off);
    off += b.length;
  }
  return { specs, data: out.buffer };
}

function expectedBytes(w: tf.io.WeightsManifestEntry): number {
  const n = w.shape.reduce((a, b) => a * b, 1);
  const q = w.quantization?.dtype;
  const size = q === 'uint8' ? 1 : q === 'uint16' || q === 'float16' ? 2 : w.dtype === 'bool' ? 1 : 4;
  return n * size;
}

/** An IOHandler loading a tfjs-converter model (GraphModel or LayersModel) from the local file system. */
export function fileIOHandler(p: string): tf.io.IOHandler {
  const file = modelJsonPath(p);
  return {
    load: async () => {
      const json = (await readModelJson(file)) as unknown as tf.io.ModelJSON;
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const { specs, data } = await readManifestWeights(file, manifest);
        return [specs, data];
      });
    },
  };
}

/**
 * Loads a converted backbone's weights as float32 arrays by name, verifying shard sizes and the recorded sha256.
 * @throws UsageError naming the directory for a wrong format, missing shards or a checksum mismatch.
 */
export async function readConvertedModel(dirOrJson: string): Promise<{ json: ConvertedModelJson; weights: Map<string, NamedArray> }> {
  const file = modelJsonPath(dirOrJson);
  const raw = await readModelJson(file);
  if (raw.format !== 'uol-backbone') throw new UsageError(`${file}: not a converted uol backbone (format ${JSON.stringify(raw.format)})`);
  const json = raw as unknown as ConvertedModelJson;
  if (json.formatVersion !== 1) throw new UsageError(`${file}: unsupported formatVersion ${String(json.formatVersion)}`);
  if (!json.backbone || typeof json.backbone.family !== 'string' || !Array.isArray(json.weightsManifest)) throw new UsageError(`${file}: missing backbone or weightsManifest`);
  const { specs, data } = await readManifestWeights(file, json.weightsManifest);
  const bytes = new Uint8Array(data);
  const need = specs.reduce((s, w) => s + expectedBytes(w), 0);
  const sha = createHash('sha256').update(bytes.subarray(0, need)).digest('hex');
  if (json.weightsSha256 && sha !== json.weightsSha256) throw new UsageError(`${file}: weights sha256 ${sha} does not match the recorded ${json.weightsSha256} (corrupt or modified shards)`);
  const weights = new Map<string, NamedArray>();
  let off = 0;
  for (const s of specs) {
    if (s.dtype !== 'float32' || s.quantization) throw new UsageError(`${file}: weight "${s.name}" is ${s.dtype}${s.quantization ? ' (quantized)' : ''}; converted backbones store float32`);
    const n = s.shape.reduce((a, b) => a * b, 1);
    weights.set(s.name, { name: s.name, shape: s.shape, data: new Float32Array(data, off, n) });
    off += n * 4;
  }
  return { json, weights };
}
