/**
 * The backbone registry: one table of named backbones from three sources —
 * - **embedded**: real pretrained networks shipped inside npm dependencies (no download, no conversion);
 * - **fetchable**: known checkpoints listed in `converted-models/registry.json` (URL, checksum, arch, key map), usable
 *   offline once `uol fetch NAME` has downloaded and converted them;
 * - **converted**: any converted-model directory in the models directory.
 * `loadBackbone(spec)` takes a registry name or a path (a converted-model directory, or a tfjs-converter model
 * `DIR[#featureNode]`).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { readJsonBounded } from '../../util/safe-read.js';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../../util/errors.js';
import type { ProgressCallback } from '../../util/progress.js';
import { engineInfo } from '../../engine/backend.js';
import type { BackboneIdentity, FeatureExtractor, InputContract } from '../types.js';
import { ARCH_PRESETS, type BuildOptions } from '../archs.js';
import { convertCheckpoint, loadConvertedBackbone, type ConvertResult } from './convert.js';
import type { AttentionMode } from '../vit.js';
import type { Downscale } from '../resnet.js';
import { modelsDir as defaultModelsDir, registryFile as defaultRegistryFile } from './paths.js';
import { tfjsBackboneFromArtifacts, type TfjsBackboneSpec } from '../tfjs-model.js';
import { loadTfjsModelBackbone } from './tfjs-model-file.js';
import { modelJsonPath } from '../../weights/tfjs-format.js';
import { describeVerification, download, type DownloadResult, type ExpectedChecksum } from './download.js';
import { KEY_MAPS } from '../../weights/keymaps.js';

/** Where a backbone comes from. */
export type BackboneSource = 'embedded' | 'converted' | 'fetchable';

/** One line of {@link listBackbones}. */
export interface BackboneInfo {
  name: string;
  /** Architecture, e.g. `vit_small`, `resnet50`, `mobilenetv2`. */
  arch: string;
  description: string;
  source: BackboneSource;
  /** True when it loads with no network access now (embedded, or fetched and converted). */
  offline: boolean;
  /** Converted-model directory, when there is one. */
  location?: string;
  /** Download URL for fetchable checkpoints. */
  url?: string;
}

/** Options of {@link loadBackbone}. */
export interface LoadBackboneOptions {
  /** ResNet output stride 32 (default), 16 or 8; ignored by other families. */
  downscale?: Downscale;
  /** ViT attention implementation (default: by backend). */
  attention?: AttentionMode;
  /** Progress of long loads. */
  onProgress?: ProgressCallback;
  /** Models directory (default `$UOL_MODELS_DIR` or `<package>/converted-models`). */
  modelsDir?: string;
  /** Registry file (default `$UOL_REGISTRY` or `<package>/converted-models/registry.json`). */
  registryFile?: string;
}

/** A known checkpoint in registry.json. */
export interface KnownCheckpoint {
  name: string;
  /** Architecture preset (ARCH_PRESETS). */
  arch: string;
  /** ViT patch size. */
  patch?: number;
  /** Architecture config overrides (non-standard widths/depths), as `uol convert --arch-config`. */
  archConfig?: Record<string, unknown>;
  /** Key map name, or `auto` where the file's layout is not certain. */
  keyMap: string;
  url: string;
  /** Approximate download size (bytes), for display. */
  approxBytes?: number;
  /** Checksums, where published. */
  sha256?: string;
  sha256Prefix?: string;
  md5Prefix?: string;
  /** Exact size in bytes, where known. */
  size?: number;
  description: string;
  license?: string;
}

// ---------------------------------------------------------------- embedded backbones (npm packages)

interface EmbeddedBackbone {
  name: string;
  arch: string;
  description: string;
  /** Package subpath exporting `{ modelJson(), weightBundles[] }` (nsfwjs's model modules). */
  module: string;
  exportName: string;
  featureNode: string;
  input: InputContract;
}

const UNIT_RANGE = { mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] };

/** Real pretrained networks shipped in npm dependencies. */
const EMBEDDED: EmbeddedBackbone[] = [
  {
    name: 'nsfwjs-mobilenetv2',
    arch: 'mobilenetv2',
    description: 'MobileNetV2 from the npm package nsfwjs 4.3.0 (ImageNet-pretrained, upper blocks fine-tuned on 5 classes; supervised). Feature out_relu, 1280 ch, stride 32, input RGB/255',
    module: 'nsfwjs/models/mobilenet_v2',
    exportName: 'MobileNetV2Model',
    featureNode: 'out_relu',
    input: { ...UNIT_RANGE, interpolation: 'bilinear', sizeMultiple: 32, minSize: 32, defaultSize: 224 },
  },
  {
    name: 'nsfwjs-mobilenetv2-mid',
    arch: 'mobilenetv2-1.4',
    description: 'MobileNetV2-1.4 GraphModel from nsfwjs 4.3.0. Feature MobilenetV2/Conv_1/Relu6, 1792 ch, stride 32, input RGB/255',
    module: 'nsfwjs/models/mobilenet_v2_mid',
    exportName: 'MobileNetV2MidModel',
    featureNode: 'StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict/MobilenetV2/Conv_1/Relu6',
    input: { ...UNIT_RANGE, interpolation: 'bilinear', sizeMultiple: 32, minSize: 32, defaultSize: 224 },
  },
  {
    name: 'nsfwjs-inceptionv3',
    arch: 'inceptionv3',
    description: 'InceptionV3 from nsfwjs 4.3.0. Feature mixed10, 2048 ch, input RGB/255, default 299',
    module: 'nsfwjs/models/inception_v3',
    exportName: 'InceptionV3Model',
    featureNode: 'mixed10',
    input: { ...UNIT_RANGE, interpolation: 'bilinear', sizeMultiple: 1, minSize: 75, defaultSize: 299 },
  },
];

// The backbone used when none is named (declared without TF.js for the CLI's help text).
import { DEFAULT_BACKBONE } from '../defaults.js';
export { DEFAULT_BACKBONE };

interface BundleModule {
  modelJson: () => Promise<{ default: tf.io.ModelJSON }>;
  weightBundles: (() => Promise<{ default: string }>)[];
}

/**
 * Model artifacts (topology + decoded weights) of an embedded backbone, e.g. to save it as files or to build a
 * control with altered weights.
 * @throws UsageError for a name that is not embedded.
 */
export async function embeddedArtifacts(name: string): Promise<{ artifacts: tf.io.ModelArtifacts; spec: TfjsBackboneSpec }> {
  const e = EMBEDDED.find((x) => x.name === name);
  if (!e) throw new UsageError(`"${name}" is not an embedded backbone (embedded: ${EMBEDDED.map((x) => x.name).join(', ')})`);
  return { artifacts: await loadEmbedded(e), spec: { id: e.name, arch: e.arch, featureNode: e.featureNode, input: e.input } };
}

async function loadEmbedded(e: EmbeddedBackbone): Promise<tf.io.ModelArtifacts> {
  const mod = (await import(e.module)) as Record<string, unknown>;
  const m = mod[e.exportName] as BundleModule | undefined;
  if (!m || typeof m.modelJson !== 'function') throw new UsageError(`${e.name}: ${e.module} does not export ${e.exportName}`);
  const json = (await m.modelJson()).default;
  const shards = await Promise.all(m.weightBundles.map(async (b) => Buffer.from((await b()).default, 'base64')));
  const data = Buffer.concat(shards);
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
    weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
  };
  if (json.format) artifacts.format = json.format;
  return artifacts;
}

// ---------------------------------------------------------------- registry file

/**
 * Reads registry.json (known checkpoints).
 * @throws UsageError naming the file and entry on a malformed registry.
 */
export function readRegistry(file = defaultRegistryFile()): KnownCheckpoint[] {
  if (!existsSync(file)) return [];
  const j = readJsonBounded(file, 'checkpoint registry');
  const list = (j as { checkpoints?: unknown }).checkpoints;
  if (!Array.isArray(list)) throw new UsageError(`${file}: missing "checkpoints" array`);
  const names = new Set<string>();
  return list.map((c: KnownCheckpoint, i) => {
    const where = `${file}: checkpoints[${i}]`;
    for (const k of ['name', 'arch', 'keyMap', 'url', 'description'] as const) if (typeof c[k] !== 'string' || !c[k]) throw new UsageError(`${where}: "${k}" must be a non-empty string`);
    if (!ARCH_PRESETS[c.arch]) throw new UsageError(`${where} (${c.name}): unknown arch "${c.arch}"`);
    if (c.keyMap !== 'auto' && !KEY_MAPS.some((m) => m.name === c.keyMap)) throw new UsageError(`${where} (${c.name}): unknown keyMap "${c.keyMap}"`);
    // The name becomes a directory under --models-dir: a plain file name only, so no entry can write outside it.
    if (!SAFE_NAME.test(c.name) || c.name.length > 100) throw new UsageError(`${where}: name ${JSON.stringify(c.name)} must be a plain file name (letters, digits, . _ -; not starting with . or -)`);
    if (!/^https?:\/\//.test(c.url)) throw new UsageError(`${where} (${c.name}): url must be http(s)`);
    if (c.sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(c.sha256)) throw new UsageError(`${where} (${c.name}): sha256 must be 64 hex digits`);
    for (const k of ['sha256Prefix', 'md5Prefix'] as const) if (c[k] !== undefined && !/^[0-9a-fA-F]{4,64}$/.test(c[k])) throw new UsageError(`${where} (${c.name}): ${k} must be hex digits`);
    for (const k of ['size', 'approxBytes'] as const) if (c[k] !== undefined && !(Number.isSafeInteger(c[k]) && c[k] > 0)) throw new UsageError(`${where} (${c.name}): ${k} must be a positive integer`);
    if (names.has(c.name)) throw new UsageError(`${where}: duplicate name "${c.name}"`);
    if (EMBEDDED.some((e) => e.name === c.name)) throw new UsageError(`${where}: "${c.name}" is the name of an embedded backbone`);
    names.add(c.name);
    return c;
  });
}

// ---------------------------------------------------------------- the registry

interface Entry {
  info: BackboneInfo;
  load(opts: LoadBackboneOptions): Promise<FeatureExtractor>;
}

function buildOptions(opts: LoadBackboneOptions): BuildOptions {
  const o: BuildOptions = { nativeBatchMatMul: !!engineInfo()?.native.kernels.includes('BatchMatMul') };
  if (opts.downscale) o.downscale = opts.downscale;
  if (opts.attention) o.attention = opts.attention;
  return o;
}

/** Registry names: a plain file name. */
const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

function isConvertedDir(dir: string): boolean {
  const f = path.join(dir, 'model.json');
  if (!existsSync(f)) return false;
  try {
    return (readJsonBounded(f, 'model.json') as { format?: unknown }).format === 'uol-backbone';
  } catch {
    return false;
  }
}

function convertedArch(dir: string): string {
  try {
    return (readJsonBounded(path.join(dir, 'model.json'), 'model.json') as { backbone: { arch: string } }).backbone.arch;
  } catch {
    return '?';
  }
}

/** Reports a `load` stage (0 of 1, then 1 of 1) around a load. */
async function withLoadProgress(name: string, o: LoadBackboneOptions, f: () => Promise<FeatureExtractor>): Promise<FeatureExtractor> {
  o.onProgress?.({ stage: 'load', done: 0, total: 1, detail: name });
  const fe = await f();
  o.onProgress?.({ stage: 'load', done: 1, total: 1, detail: name });
  return fe;
}

/** All registry entries, by name: embedded, then known checkpoints, then other converted directories. */
function entries(opts: LoadBackboneOptions = {}): Map<string, Entry> {
  const mdir = defaultModelsDir(opts.modelsDir);
  const m = new Map<string, Entry>();
  for (const e of EMBEDDED) {
    m.set(e.name, {
      info: { name: e.name, arch: e.arch, description: e.description, source: 'embedded', offline: true },
      load: (o) =>
        withLoadProgress(e.name, o, async () => {
          const { artifacts, spec } = await embeddedArtifacts(e.name);
          return tfjsBackboneFromArtifacts(artifacts, spec);
        }),
    });
  }
  for (const c of readRegistry(defaultRegistryFile(opts.registryFile))) {
    const dir = path.join(mdir, c.name);
    const have = isConvertedDir(dir);
    const info: BackboneInfo = { name: c.name, arch: c.arch, description: c.description, source: 'fetchable', offline: have, url: c.url };
    if (have) info.location = dir;
    m.set(c.name, {
      info,
      load: async (o) => {
        if (!isConvertedDir(dir)) throw new UsageError(`backbone "${c.name}" is not downloaded yet: run \`uol fetch ${c.name}\` (${c.url}) — looked in ${dir}`);
        return withLoadProgress(c.name, o, () => loadConvertedBackbone(dir, { ...buildOptions(o), id: c.name }));
      },
    });
  }
  if (existsSync(mdir))
    for (const name of readdirSync(mdir).sort()) {
      const dir = path.join(mdir, name);
      if (name.startsWith('.') || m.has(name) || !isConvertedDir(dir)) continue; // hidden: downloads, conversions in progress
      m.set(name, {
        info: { name, arch: convertedArch(dir), description: `converted model in ${dir}`, source: 'converted', offline: true, location: dir },
        load: (o) => withLoadProgress(name, o, () => loadConvertedBackbone(dir, { ...buildOptions(o), id: name })),
      });
    }
  return m;
}

/**
 * The `loadBackbone` spec that gives back the backbone a predictor was fitted with: its registry name when known, else
 * the folder it was loaded from (recorded as `location`) when that still holds a converted model, else a converted
 * model in the models folder with the same weights (sha256).
 * @throws UsageError naming the flag to add (`--backbone DIR`) when none is found.
 */
export function findPredictorBackbone(b: Pick<BackboneIdentity, 'id' | 'weightsSha256' | 'location'>, opts: Pick<LoadBackboneOptions, 'modelsDir' | 'registryFile'> = {}): string {
  const known = entries(opts);
  if (known.has(b.id)) return b.id;
  if (b.location && isConvertedDir(b.location)) return b.location;
  const mdir = defaultModelsDir(opts.modelsDir);
  if (b.weightsSha256 && existsSync(mdir)) {
    for (const name of readdirSync(mdir).sort()) {
      const dir = path.join(mdir, name);
      if (!isConvertedDir(dir)) continue;
      try {
        if ((readJsonBounded(path.join(dir, 'model.json'), 'converted model') as { weightsSha256?: string }).weightsSha256 === b.weightsSha256) return dir;
      } catch {
        /* isConvertedDir read it; a concurrent rewrite is not ours to report */
      }
    }
  }
  const where = b.location ? `was loaded from ${b.location}, which no longer holds it, and` : 'is not a registry name and';
  const sha = b.weightsSha256 ? ` (weights sha256 ${b.weightsSha256.slice(0, 12)}…)` : '';
  throw new UsageError(`backbone "${b.id}" of this predictor ${where} no converted model in ${mdir} has its weights${sha}: add --backbone DIR (the folder \`uol convert\` wrote for it)`);
}

/** Every known backbone (name, arch, description, source, whether it works offline now). */
export function listBackbones(opts: Pick<LoadBackboneOptions, 'modelsDir' | 'registryFile'> = {}): BackboneInfo[] {
  return [...entries(opts).values()].map((e) => e.info);
}

interface Sidecar {
  featureNode?: string;
  arch?: string;
  input?: Partial<InputContract>;
  fixedInput?: boolean;
}

/** Default contract for a foreign tfjs model: [0,1] input, bilinear, any size. */
const TFJS_DEFAULT_INPUT: InputContract = { mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'bilinear', sizeMultiple: 1, minSize: 32, defaultSize: 224 };

async function loadFromPath(spec: string, opts: LoadBackboneOptions): Promise<FeatureExtractor> {
  const hash = spec.lastIndexOf('#');
  const p = hash > 0 ? spec.slice(0, hash) : spec;
  const node = hash > 0 ? spec.slice(hash + 1) : undefined;
  const json = modelJsonPath(p);
  if (!existsSync(json)) throw new UsageError(`${spec}: no model.json (not a registry name, converted model or tfjs model directory)`);
  const dir = path.dirname(json);
  const format = (readJsonBounded(json, 'model.json') as { format?: unknown } | null)?.format;
  if (format === 'uol-backbone') {
    if (node) throw new UsageError(`${spec}: a converted backbone has a fixed feature layer; drop "#${node}"`);
    const fe = await loadConvertedBackbone(dir, buildOptions(opts));
    fe.identity.location = path.resolve(dir);
    return fe;
  }
  // A tfjs-converter model: feature node from "#node" or the sidecar uol-backbone.json.
  const sidecarFile = path.join(dir, 'uol-backbone.json');
  let side: Sidecar = {};
  if (existsSync(sidecarFile)) {
    side = readJsonBounded(sidecarFile, 'sidecar') as Sidecar;
  }
  const featureNode = node ?? side.featureNode;
  if (!featureNode) throw new UsageError(`${spec}: a tfjs model needs a feature layer/node: use "${p}#NODE" or write ${sidecarFile} with {"featureNode": …}`);
  const t: TfjsBackboneSpec = { id: path.basename(path.resolve(dir)), arch: side.arch ?? 'tfjs-model', featureNode, input: { ...TFJS_DEFAULT_INPUT, ...side.input } };
  if (side.fixedInput) t.fixedInput = true;
  return loadTfjsModelBackbone(json, t);
}

/**
 * Loads a backbone by registry name or path.
 * @param spec a name from {@link listBackbones}, a converted-model directory, or a tfjs model `DIR[#featureNode]`.
 * @throws UsageError for unknown names, checkpoints not fetched yet, or bad model files (naming them).
 */
export async function loadBackbone(spec: string, opts: LoadBackboneOptions = {}): Promise<FeatureExtractor> {
  const e = entries(opts).get(spec);
  if (e) return e.load(opts);
  const p = spec.includes('#') ? spec.slice(0, spec.lastIndexOf('#')) : spec;
  if (existsSync(p)) return loadFromPath(spec, opts);
  const known = [...entries(opts).keys()];
  throw new UsageError(`unknown backbone "${spec}": not a path and not one of ${known.join(', ')}`);
}

/** Options of {@link fetchBackbone}. */
export interface FetchOptions {
  modelsDir?: string;
  registryFile?: string;
  /** Re-download and re-convert even when converted already. */
  force?: boolean;
  /** Keep the downloaded checkpoint after conversion (default: delete it). */
  keepDownload?: boolean;
  onProgress?: ProgressCallback;
}

/** Result of {@link fetchBackbone}. */
export interface FetchResult {
  name: string;
  dir: string;
  /** False when the model was already converted (nothing done). */
  fetched: boolean;
  download?: DownloadResult;
  convert?: ConvertResult;
  /** What was verified of the download (checksums, size), in words. */
  verified?: string;
  /** Warnings for the user (e.g. nothing pinned in the registry to verify the download against). */
  warnings?: string[];
}

/** What `uol fetch NAME` verifies for a registry entry, in words. */
export function registryVerification(c: KnownCheckpoint): string {
  return describeVerification(expectedOf(c));
}

function expectedOf(c: KnownCheckpoint): ExpectedChecksum {
  const expected: ExpectedChecksum = {};
  if (c.sha256) expected.sha256 = c.sha256;
  if (c.sha256Prefix) expected.sha256Prefix = c.sha256Prefix;
  if (c.md5Prefix) expected.md5Prefix = c.md5Prefix;
  if (c.size) expected.size = c.size;
  return expected;
}

const NETWORK_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTUNREACH', 'EPIPE']);

/**
 * A network failure of `uol fetch` rewritten to say what could not be reached and how to proceed offline (the error
 * keeps its `code`); other errors are returned as they are.
 */
function offlineError(e: unknown, c: { name: string; url: string; arch: string; patch?: number }, dest: string, mdir: string): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const timeout = e instanceof Error && /no response for/.test(e.message);
  if (!(code && NETWORK_CODES.has(code)) && !timeout) return e;
  const host = new URL(c.url).host;
  const why = code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? `cannot resolve ${host}: the network is unreachable (${code})` : `cannot download from ${host} (${code ?? 'timeout'})`;
  const convert = `uol convert FILE --arch ${c.arch}${c.patch !== undefined ? ` --patch ${c.patch}` : ''} --name ${c.name} --models-dir ${mdir}`;
  return Object.assign(
    new Error(`${why}; ${c.name} comes from ${c.url}. Offline: download that file on another machine, then either put it at ${dest} and run \`uol fetch ${c.name}\` again (it is verified and converted), or run \`${convert}\``, { cause: e }),
    { code: code ?? 'ETIMEDOUT' },
  );
}

/**
 * Downloads (resumable, verified) and converts a known checkpoint into `<modelsDir>/<name>/`.
 * @throws UsageError for an unknown name; IntegrityError for a checksum mismatch; Error for network failures.
 */
export async function fetchBackbone(name: string, opts: FetchOptions = {}): Promise<FetchResult> {
  const reg = readRegistry(defaultRegistryFile(opts.registryFile));
  const c = reg.find((r) => r.name === name);
  if (!c) {
    const emb = EMBEDDED.find((e) => e.name === name);
    if (emb) throw new UsageError(`"${name}" is embedded (shipped in an npm package): nothing to fetch`);
    throw new UsageError(`unknown checkpoint "${name}"; known: ${reg.map((r) => r.name).join(', ')}`);
  }
  const mdir = defaultModelsDir(opts.modelsDir);
  const dir = confined(mdir, c.name);
  if (isConvertedDir(dir) && !opts.force) return { name, dir, fetched: false };
  const fileName = path.basename(new URL(c.url).pathname).replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '') || `${c.name}.pth`;
  const dest = confined(path.join(mdir, '.downloads'), `${c.name}--${fileName}`);
  const expected = expectedOf(c);
  // Without a pinned size, refuse bodies far beyond the parameter size (a training checkpoint holds ≤ ~4 copies).
  if (!c.size && c.approxBytes) expected.maxBytes = Math.max(4 * c.approxBytes, 64 * 2 ** 20);
  const verified = describeVerification(expected);
  const warnings: string[] = [];
  if (!c.sha256 && !c.sha256Prefix && !c.md5Prefix) {
    warnings.push(`${c.name}: the registry pins no checksum for ${c.url}: the download is not verified; its sha256 is recorded in ${path.join(dir, 'model.json')} (provenance.sourceSha256)`);
  } else if (!c.sha256) {
    warnings.push(`${c.name}: only a checksum prefix is pinned (${verified}), a weak check`);
  }
  let dl: Awaited<ReturnType<typeof download>>;
  try {
    dl = await download({ url: c.url, dest, expected, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
  } catch (e) {
    throw offlineError(e, c, dest, mdir);
  }
  const conv = await convertCheckpoint({
    checkpoint: dl.file,
    arch: c.arch,
    ...(c.patch !== undefined ? { patch: c.patch } : {}),
    ...(c.archConfig ? { archConfig: c.archConfig } : {}),
    keyMap: c.keyMap,
    out: dir,
    name: c.name,
    force: true,
    source: { url: c.url, registryName: c.name, verified },
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  if (!opts.keepDownload) rmSync(dl.file, { force: true });
  return { name, dir, fetched: true, download: dl, convert: conv, verified, warnings };
}

/** `base/name`, refusing a name that would leave `base` (`..`, separators, absolute paths). */
function confined(base: string, name: string): string {
  const p = path.resolve(base, name);
  if (path.dirname(p) !== path.resolve(base) || !SAFE_NAME.test(name)) throw new UsageError(`registry name "${name}" is not a plain file name: it would write outside ${base}`);
  return p;
}
