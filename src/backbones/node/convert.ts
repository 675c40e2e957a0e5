/**
 * Checkpoint → TF.js conversion and model building.
 *
 * `convertCheckpoint`: open a `.pth`/`.safetensors` file (nothing executed), pick the backbone with a key map
 * (auto-detected or named), check it strictly against the architecture (a missing, unexpected or mis-shaped tensor is
 * an error naming the key), convert to float32 in TF layout, and write `model.json` + ≤ 4 MB shards with provenance.
 * `buildBackbone` makes the tf-ops model from TF-layout weights (a converted directory or tensors in memory).
 */
import { mulberry32 } from '../../util/random.js';
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { inFile, UsageError } from '../../util/errors.js';
import { sha256File } from '../../util/fs.js';
import type { ProgressCallback } from '../../util/progress.js';
import { TOOL } from '../../version.js';
import { openCheckpoint } from '../../weights/checkpoint.js';
import { applyKeyMap, containerAt, describeRoot, KEY_MAP_VERSION, KEY_MAPS, keyMapByName, prefixKeyMap, type KeyMap, type SelectedTensors } from '../../weights/keymaps.js';
import { releaseByName, type ReleaseNetwork } from '../../weights/release-layouts.js';
import { readFloat32, TensorRef, type StorageRef } from '../../weights/tensor-ref.js';
import { readConvertedModel, writeConvertedModel, type ConvertedModelJson, type NamedArray, type Provenance } from '../../weights/tfjs-format.js';
import { buildBackbone, FAMILIES, resolvePreset, type ArchFamily, type BuildOptions, type ExpectedTensor } from '../archs.js';

export { buildBackbone };
import type { FeatureExtractor } from '../types.js';

/** A source tensor in PyTorch layout, read on demand. */
export interface SourceTensor {
  shape: number[];
  dtype: string;
  read(): Promise<Float32Array>;
}

/** Problems found by the strict check. */
interface StrictReport {
  missing: string[];
  unexpected: string[];
  misshaped: { key: string; have: number[]; want: number[] }[];
}

function strictCheck(expected: ExpectedTensor[], shapes: Map<string, number[]>, ignore: RegExp[]): StrictReport {
  const exp = new Map(expected.map((e) => [e.key, e]));
  const r: StrictReport = { missing: [], unexpected: [], misshaped: [] };
  for (const e of expected) {
    const have = shapes.get(e.key);
    if (!have) {
      if (!e.optional) r.missing.push(e.key);
    } else if (have.length !== e.shape.length || have.some((d, i) => d !== e.shape[i])) r.misshaped.push({ key: e.key, have, want: e.shape });
  }
  for (const k of shapes.keys()) if (!exp.has(k) && !ignore.some((re) => re.test(k))) r.unexpected.push(k);
  return r;
}

function problems(r: StrictReport): number {
  return r.missing.length + r.unexpected.length + r.misshaped.length;
}

const q = (k: string): string => `"${k}"`;
const some = (ks: string[]): string => ks.slice(0, 5).map(q).join(', ') + (ks.length > 5 ? `, … (${ks.length} in all)` : '');

function strictError(where: string, arch: string, sel: { keyMap: string; prefix: string }, r: StrictReport): UsageError {
  const ctx = `for ${arch} (key map ${sel.keyMap}${sel.prefix ? `, prefix "${sel.prefix}"` : ''})`;
  const parts: string[] = [];
  if (r.missing.length) parts.push(`missing tensor${r.missing.length > 1 ? 's' : ''} ${some(r.missing)}`);
  if (r.unexpected.length) parts.push(`unexpected tensor${r.unexpected.length > 1 ? 's' : ''} ${some(r.unexpected)}`);
  for (const m of r.misshaped.slice(0, 3)) parts.push(`tensor "${m.key}" has shape [${m.have.join(',')}], expected [${m.want.join(',')}]`);
  if (r.misshaped.length > 3) parts.push(`… ${r.misshaped.length} mis-shaped tensors in all`);
  return new UsageError(`${where}: ${parts.join('; ')} ${ctx}`);
}

/** PyTorch → TF layout: conv weights `[O,I,kh,kw]` → `[kh,kw,I,O]`, linear weights `[out,in]` → `[in,out]`. */
export function torchToTfLayout(key: string, shape: number[], data: Float32Array): { shape: number[]; data: Float32Array } {
  if (!key.endsWith('.weight') || (shape.length !== 4 && shape.length !== 2)) return { shape, data };
  if (shape.length === 2) {
    const [o, i] = shape as [number, number];
    const out = new Float32Array(data.length);
    for (let r = 0; r < o; r++) for (let c = 0; c < i; c++) out[c * o + r] = data[r * i + c]!;
    return { shape: [i, o], data: out };
  }
  const [O, I, H, W] = shape as [number, number, number, number];
  const out = new Float32Array(data.length);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) out[((h * W + w) * I + i) * O + o] = data[((o * I + i) * H + h) * W + w]!;
  return { shape: [H, W, I, O], data: out };
}

/** Result of {@link prepareWeights}. */
export interface PreparedWeights {
  family: string;
  arch: string;
  config: Record<string, unknown>;
  /** TF-layout float32 weights in the architecture's key order (unused tensors left out). */
  weights: NamedArray[];
  /** Count of source tensors per dtype. */
  dtypes: Record<string, number>;
}

/**
 * Checks `tensors` (PyTorch keys and layout) strictly against `arch` and converts them to TF layout.
 * @param where file name used in error messages.
 * @throws UsageError naming the first missing / unexpected / mis-shaped key.
 */
export async function prepareWeights(
  arch: string,
  tensors: Map<string, SourceTensor>,
  opts: { patch?: number; archConfig?: Record<string, unknown>; where: string; keyMap?: string; prefix?: string; onProgress?: ProgressCallback },
): Promise<PreparedWeights> {
  const preset = resolvePreset(arch, opts.archConfig);
  const fam = FAMILIES[preset.family]!;
  const shapes = new Map([...tensors].map(([k, t]) => [k, t.shape]));
  const resolveOpts: { patch?: number } = {};
  if (opts.patch !== undefined) resolveOpts.patch = opts.patch;
  let cfg: unknown;
  try {
    cfg = fam.resolve(preset.config, shapes, resolveOpts);
  } catch (e) {
    throw inFile(opts.where, e);
  }
  const expected = fam.expected(cfg);
  const report = strictCheck(expected, shapes, fam.ignore);
  if (problems(report)) throw strictError(opts.where, arch, { keyMap: opts.keyMap ?? 'none', prefix: opts.prefix ?? '' }, report);
  const weights: NamedArray[] = [];
  const dtypes: Record<string, number> = {};
  let done = 0;
  const used = expected.filter((e) => tensors.has(e.key) && !e.unused);
  for (const e of used) {
    const t = tensors.get(e.key)!;
    dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
    let data: Float32Array;
    try {
      data = await t.read();
    } catch (err) {
      throw new UsageError(`${opts.where}: cannot read tensor "${e.key}": ${(err as Error).message}`);
    }
    const tfw = torchToTfLayout(e.key, t.shape, data);
    weights.push({ name: e.key, shape: tfw.shape, data: tfw.data });
    opts.onProgress?.({ stage: 'convert', done: ++done, total: used.length, unit: 'tensor', detail: e.key });
  }
  return { family: preset.family, arch, config: cfg as Record<string, unknown>, weights, dtypes };
}

/** Options of {@link convertCheckpoint}. */
export interface ConvertOptions {
  /** Checkpoint file (.pth / .pth.tar / .pt / .safetensors). */
  checkpoint: string;
  /** Architecture preset (see ARCH_PRESETS). */
  arch: string;
  /** Patch size for ViTs (checked against the checkpoint). */
  patch?: number;
  /** Config overrides for non-standard widths/depths. */
  archConfig?: Record<string, unknown>;
  /** Key map name, `auto` (default). */
  keyMap?: string;
  /** Explicit key prefix (overrides the key map). */
  prefix?: string;
  /** Output directory. */
  out: string;
  /** Model name recorded in model.json (default: the output directory's name). */
  name?: string;
  /** Overwrite an existing model in `out`. */
  force?: boolean;
  /** Accept tensors holding NaN or ±Inf (refused by default: such a backbone gives NaN features). */
  allowNonFinite?: boolean;
  /** Extra provenance (download URL, registry name). */
  source?: { url?: string; registryName?: string; verified?: string };
  onProgress?: ProgressCallback;
}

/** Result of {@link convertCheckpoint}. */
export interface ConvertResult {
  dir: string;
  json: ConvertedModelJson;
  tensors: number;
  bytes: number;
}

function toSource(sel: SelectedTensors, file: string, allowNonFinite: boolean): Map<string, SourceTensor> {
  // Storages are cached while read; release each once its last tensor is converted (peak memory ≈ one model).
  const users = new Map<StorageRef, number>();
  for (const t of sel.tensors.values()) users.set(t.storage, (users.get(t.storage) ?? 0) + 1);
  const m = new Map<string, SourceTensor>();
  for (const [k, t] of sel.tensors)
    m.set(k, {
      shape: t.shape,
      dtype: t.dtype,
      read: async () => {
        const data = await readFloat32(t);
        if (!allowNonFinite) {
          const bad = data.findIndex((v) => !Number.isFinite(v));
          if (bad >= 0) throw new UsageError(`${file}: tensor "${k}" holds ${data[bad]} at element ${bad}: non-finite weights give NaN features (pass --allow-nonfinite to convert anyway)`);
        }
        const left = users.get(t.storage)! - 1;
        users.set(t.storage, left);
        if (left === 0) t.storage.release();
        return data;
      },
    });
  return m;
}

/**
 * Converts a checkpoint into a TF.js backbone directory.
 * @throws UsageError naming the file and the key or global at fault.
 */
export async function convertCheckpoint(o: ConvertOptions): Promise<ConvertResult> {
  const file = o.checkpoint;
  if (!existsSync(file)) throw new UsageError(`${file}: checkpoint not found`);
  const outJson = path.join(o.out, 'model.json');
  if (existsSync(outJson) && !o.force) throw new UsageError(`${outJson}: a converted model exists already (use --force to overwrite)`);
  resolvePreset(o.arch, o.archConfig); // fail fast on a bad --arch
  o.onProgress?.({ stage: 'hash', done: 0, detail: path.basename(file) });
  const sourceSha256 = await sha256File(file);
  const ckpt = await openCheckpoint(file);
  try {
    const maps: KeyMap[] = o.prefix !== undefined ? [prefixKeyMap(o.prefix)] : !o.keyMap || o.keyMap === 'auto' ? [...KEY_MAPS] : [];
    if (maps.length === 0) {
      const m = keyMapByName(o.keyMap!);
      if (!m) throw new UsageError(`unknown --key-map "${o.keyMap}"; known: auto, ${KEY_MAPS.map((k) => k.name).join(', ')}`);
      maps.push(m);
    }
    let best: { sel: SelectedTensors; err: UsageError; score: number } | undefined;
    let prepared: PreparedWeights | undefined;
    let chosen: SelectedTensors | undefined;
    for (const m of maps) {
      const sel = applyKeyMap(ckpt.root, m);
      if (!sel) continue;
      // Shape-only strict check first (cheap), data read only for the winner.
      const src = toSource(sel, file, !!o.allowNonFinite);
      const prepOpts: Parameters<typeof prepareWeights>[2] = { where: file, keyMap: sel.keyMap, prefix: sel.prefix };
      if (o.patch !== undefined) prepOpts.patch = o.patch;
      if (o.archConfig) prepOpts.archConfig = o.archConfig;
      const preset = resolvePreset(o.arch, o.archConfig);
      const fam = FAMILIES[preset.family]! as ArchFamily<unknown>;
      const shapes = new Map([...src].map(([k, t]) => [k, t.shape]));
      let report: StrictReport;
      try {
        const cfg = fam.resolve(preset.config, shapes, prepOpts.patch !== undefined ? { patch: prepOpts.patch } : {});
        report = strictCheck(fam.expected(cfg), shapes, fam.ignore);
      } catch (e) {
        if (!best) best = { sel, err: inFile(file, e), score: Infinity };
        continue;
      }
      const score = problems(report);
      if (score === 0) {
        chosen = sel;
        if (o.onProgress) prepOpts.onProgress = o.onProgress;
        prepared = await prepareWeights(o.arch, src, prepOpts);
        break;
      }
      if (!best || score < best.score) best = { sel, err: strictError(file, o.arch, sel, report), score };
    }
    if (!prepared || !chosen) {
      if (best) throw best.err;
      throw new UsageError(`${file}: no backbone tensors found with key map ${maps.map((m) => m.name).join('/')}; the checkpoint holds ${describeRoot(ckpt.root)}`);
    }
    const provenance: Provenance = {
      source: path.basename(file),
      sourceSha256,
      sourceFormat: ckpt.format,
      arch: o.arch,
      keyMap: chosen.keyMap,
      keyMapVersion: KEY_MAP_VERSION,
      container: chosen.container,
      prefix: chosen.prefix,
      droppedHeads: chosen.dropped,
      sourceDtypes: prepared.dtypes,
      convertedAt: new Date().toISOString(),
      convertedBy: TOOL,
    };
    if (o.source?.url) provenance.url = o.source.url;
    if (o.source?.registryName) provenance.registryName = o.source.registryName;
    if (o.source?.verified) provenance.downloadVerified = o.source.verified;
    const json = await writeConvertedModel(
      o.out,
      { generatedBy: TOOL, backbone: { name: o.name ?? path.basename(path.resolve(o.out)), arch: o.arch, family: prepared.family, config: prepared.config }, provenance },
      prepared.weights,
    );
    return { dir: o.out, json, tensors: prepared.weights.length, bytes: prepared.weights.reduce((s, w) => s + w.data.byteLength, 0) };
  } finally {
    await ckpt.close();
  }
}

// ---------------------------------------------------------------- the release's checkpoints

/** Options of {@link convertReleaseCheckpoint}. */
export interface ReleaseConvertOptions {
  /** Release network: a canonical name (`mocov1`, `detcoAA`, …) or any `--loc_network` main.py resolves. */
  name: string;
  /** The checkpoint file main.py would load for it. */
  file: string;
  /** Output directory. */
  outDir: string;
  /** Model name recorded in model.json (default: the network's uolId). */
  modelName?: string;
  /**
   * Convert although the release would have left module tensors at random init (they are filled with PyTorch-default
   * values: BN/LN weight 1, biases and running means 0, running variances 1, other weights uniform ±1/√fan_in from a
   * fixed seed — the release's own values are unreproducible: main.py seeds with a random number). Default false:
   * such a file is an error naming the keys.
   */
  allowMissing?: boolean;
  /** Convert tensors holding NaN/Inf (refused by default, naming the tensor). */
  allowNonFinite?: boolean;
  /** Overwrite an existing model in `outDir`. */
  force?: boolean;
  /** Config overrides of the release's module (non-standard widths/depths, for tests). */
  archConfig?: Record<string, unknown>;
  onProgress?: ProgressCallback;
}

/** What the release's `load_state_dict(strict=False)` does with a file (keys as torch names them). */
export interface ReleaseLoadReport {
  /** Canonical release network. */
  network: string;
  container: string[];
  prefix: string;
  /** Checkpoint keys loaded into the module (prefix included), in checkpoint order. */
  loaded: string[];
  /** Checkpoint keys `strict=False` ignored silently (torch's unexpected_keys), in checkpoint order. */
  ignored: string[];
  /**
   * Module tensors absent from the checkpoint (torch's missing_keys, prefix included), in module order: the release
   * ran with these at random init.
   */
  missing: string[];
  /** Absent BatchNorm step counters (`num_batches_tracked`): filled by torch, unused at inference, harmless. */
  missingCounters: string[];
  /** Of `missing`, the tensors filled with PyTorch-default values (only with `allowMissing`). */
  filled: string[];
}

/** Result of {@link convertReleaseCheckpoint}. */
export interface ReleaseConvertResult extends ConvertResult {
  network: ReleaseNetwork;
  report: ReleaseLoadReport;
}

/** The release's module keys: the family's tensors plus torch's BatchNorm `num_batches_tracked` buffers. */
function releaseModuleKeys(expected: ExpectedTensor[]): { key: string; shape: number[] }[] {
  const out: { key: string; shape: number[] }[] = [];
  for (const e of expected) {
    out.push({ key: e.key, shape: e.shape });
    if (e.key.endsWith('.running_var')) out.push({ key: `${e.key.slice(0, -'running_var'.length)}num_batches_tracked`, shape: [] });
  }
  return out;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** PyTorch-default-like values for a tensor the release left at init (see {@link ReleaseConvertOptions.allowMissing}). */
function defaultInit(key: string, shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const leaf = key.slice(key.lastIndexOf('.') + 1);
  if (leaf === 'running_var' || (leaf === 'weight' && shape.length === 1)) return out.fill(1);
  if (shape.length < 2 && leaf !== 'cls_token' && leaf !== 'pos_embed') return out; // biases, running means: 0
  const fanIn = shape.length >= 2 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
  const bound = leaf === 'cls_token' || leaf === 'pos_embed' ? 0.02 : 1 / Math.sqrt(fanIn);
  const rnd = mulberry32(fnv1a(key));
  for (let i = 0; i < n; i++) out[i] = rnd() * 2 * bound - bound;
  return out;
}

/**
 * Converts a checkpoint file of the authors' release exactly as its main.py loads it (container, module nesting,
 * architecture options from {@link RELEASE_NETWORKS}), but strictly: every tensor the release loads is converted; the
 * keys its `strict=False` ignored and left at init are reported; module tensors absent from the file are an error
 * (unless `allowMissing`), a mis-shaped tensor always (torch raises on those too).
 * @throws UsageError naming the file and the keys / shapes at fault.
 */
export async function convertReleaseCheckpoint(o: ReleaseConvertOptions): Promise<ReleaseConvertResult> {
  const net = releaseByName(o.name);
  const file = o.file;
  if (!existsSync(file)) throw new UsageError(`${file}: checkpoint not found`);
  const outJson = path.join(o.outDir, 'model.json');
  if (existsSync(outJson) && !o.force) throw new UsageError(`${outJson}: a converted model exists already (use --force to overwrite)`);
  const archConfig = { ...net.archConfig, ...o.archConfig };
  const preset = resolvePreset(net.arch, archConfig);
  const fam = FAMILIES[preset.family]! as ArchFamily<unknown>;
  // The release's module has fixed shapes: nothing is inferred from the file (a different shape is a mismatch).
  const cfg = fam.resolve(preset.config, new Map(), {});
  const moduleKeys = releaseModuleKeys(fam.expected(cfg));
  o.onProgress?.({ stage: 'hash', done: 0, detail: path.basename(file) });
  const sourceSha256 = await sha256File(file);
  const ckpt = await openCheckpoint(file);
  try {
    const ctx = `main.py's ${net.name} loads ${net.container.length ? `ckpt[${net.container.map((c) => `'${c}'`).join('][')}]` : 'the saved dict itself'}`;
    const d = containerAt(ckpt.root, net.container);
    if (!d) throw new UsageError(`${file}: no state dict where ${ctx}; the checkpoint holds ${describeRoot(ckpt.root)}`);
    const entries = [...d.stringEntries()];
    const inFileKeys = new Map(entries);
    const modKeys = new Map(moduleKeys.map((m) => [net.prefix + m.key, m]));
    const report: ReleaseLoadReport = { network: net.name, container: [...net.container], prefix: net.prefix, loaded: [], ignored: [], missing: [], missingCounters: [], filled: [] };
    const misshaped: string[] = [];
    const tensors = new Map<string, TensorRef>();
    for (const [k, v] of entries) {
      const m = modKeys.get(k);
      if (!m) {
        report.ignored.push(k);
        continue;
      }
      if (!(v instanceof TensorRef)) throw new UsageError(`${file}: "${k}" is not a tensor (${ctx})`);
      if (v.shape.length !== m.shape.length || v.shape.some((x, i) => x !== m.shape[i])) misshaped.push(`tensor "${k}" has shape [${v.shape.join(',')}], the release's module has [${m.shape.join(',')}]`);
      report.loaded.push(k);
      if (!m.key.endsWith('.num_batches_tracked')) tensors.set(m.key, v);
    }
    for (const m of moduleKeys) {
      const k = net.prefix + m.key;
      if (inFileKeys.has(k)) continue;
      // torch fills absent BatchNorm step counters itself (state dicts without version-2 metadata, and always since 2.0)
      // and they are unused at inference: listed apart, not as missing.
      if (m.key.endsWith('.num_batches_tracked')) report.missingCounters.push(k);
      else report.missing.push(k);
    }
    if (misshaped.length) throw new UsageError(`${file}: ${misshaped.slice(0, 5).join('; ')}${misshaped.length > 5 ? `; … ${misshaped.length} mis-shaped tensors in all` : ''} (${ctx}; torch raises on these too)`);
    const absent = report.missing;
    if (absent.length && !o.allowMissing)
      throw new UsageError(
        `${file}: ${absent.length} module tensor(s) absent, which the release's strict=False left at random init: ${some(absent)} (${ctx} into prefix "${net.prefix}"); --allow-missing converts anyway with PyTorch-default values`,
      );
    const src = toSource({ keyMap: `release:${net.name}`, container: net.container, prefix: net.prefix, tensors, dropped: [] }, file, !!o.allowNonFinite);
    for (const k of absent) {
      const m = modKeys.get(k)!;
      src.set(m.key, { shape: m.shape, dtype: 'init', read: () => Promise.resolve(defaultInit(m.key, m.shape)) });
      report.filled.push(k);
    }
    const prepOpts: Parameters<typeof prepareWeights>[2] = { where: file, keyMap: `release:${net.name}`, prefix: net.prefix, archConfig };
    if (o.onProgress) prepOpts.onProgress = o.onProgress;
    const prepared = await prepareWeights(net.arch, src, prepOpts);
    const provenance: Provenance = {
      source: path.basename(file),
      sourceSha256,
      sourceFormat: ckpt.format,
      arch: net.arch,
      keyMap: `release:${net.name}`,
      keyMapVersion: KEY_MAP_VERSION,
      container: [...net.container],
      prefix: net.prefix,
      droppedHeads: report.ignored,
      sourceDtypes: prepared.dtypes,
      convertedAt: new Date().toISOString(),
      convertedBy: TOOL,
      release: { network: net.name, ignored: report.ignored, missing: report.missing, filled: report.filled },
    };
    const name = o.modelName ?? net.uolId;
    const json = await writeConvertedModel(
      o.outDir,
      { generatedBy: TOOL, backbone: { name, arch: net.arch, family: prepared.family, config: prepared.config }, provenance },
      prepared.weights,
    );
    return { dir: o.outDir, json, tensors: prepared.weights.length, bytes: prepared.weights.reduce((s, w) => s + w.data.byteLength, 0), network: net, report };
  } finally {
    await ckpt.close();
  }
}

/**
 * Loads a converted backbone directory (model.json with `format: "uol-backbone"`).
 * @throws UsageError naming the directory on a bad or corrupt model.
 */
export async function loadConvertedBackbone(dir: string, opts: BuildOptions & { id?: string } = {}): Promise<FeatureExtractor> {
  const { json, weights } = await readConvertedModel(dir);
  const fam = FAMILIES[json.backbone.family];
  if (!fam) throw new UsageError(`${dir}: unknown architecture family "${json.backbone.family}"`);
  const report = strictCheck(
    fam.expected(json.backbone.config).filter((e) => !e.unused),
    new Map([...weights].map(([k, w]) => [k, tfToTorchShape(k, w.shape)])),
    [],
  );
  if (problems(report)) throw strictError(dir, json.backbone.arch, { keyMap: 'converted', prefix: '' }, report);
  return buildBackbone(json.backbone.family, json.backbone.arch, json.backbone.config, weights, { id: opts.id ?? json.backbone.name, weightsSha256: json.weightsSha256 }, opts);
}

/** Inverse of the layout change, for shape checks of converted weights. */
function tfToTorchShape(key: string, shape: number[]): number[] {
  if (!key.endsWith('.weight')) return shape;
  if (shape.length === 2) return [shape[1]!, shape[0]!];
  if (shape.length === 4) return [shape[3]!, shape[2]!, shape[0]!, shape[1]!];
  return shape;
}
