/**
 * The predictor file: a versioned, self-describing JSON document holding w* (global and, when class-wise, one row per
 * class), the backbone identity and input contract it was fitted for, the statistics it came from, the chosen
 * threshold (set by `evaluate`) and creation info. Float arrays are stored as base64 little-endian bytes, so a
 * predictor loads back bit-identically and re-saving gives identical bytes.
 */
import { UsageError } from '../util/errors.js';
import { stripBom } from '../util/text.js';
import type { BackboneIdentity, Interpolation } from '../backbones/types.js';
import { closedFormDirection, representerThreshold } from './closed-form.js';
import type { FitStatistics, StatsBlock } from './statistics.js';
import { base64ToBytes, bytesToBase64, floatBytes } from '../util/base64.js';

/** File format tag. */
export const PREDICTOR_FORMAT = 'uol-rps-predictor';
/** Current predictor file version; files of other versions are refused. */
export const PREDICTOR_VERSION = 1;

/** A float array stored in JSON as base64 little-endian bytes. */
export interface EncodedArray {
  dtype: 'float32' | 'float64';
  shape: number[];
  b64: string;
}

/** One class of a class-wise predictor. */
export interface ClassInfo {
  /** Class index as used in labels (integer ≥ 0). */
  index: number;
  /** Human-readable name when known. */
  name?: string;
}

/** Summary statistics stored in the predictor (rounded float64 sums; the exact state lives in statistics files). */
export interface BlockSummary {
  /** `global` or the class index as a string. */
  key: string;
  images: number;
  points: number;
  /** Σf (float64, [C]). */
  sumF: Float64Array;
  /** Σf̂ (float64, [C]). */
  sumFhat: Float64Array;
  /** Σ‖f‖. */
  sumNorm: number;
  /** Σ‖f‖². */
  sumNormSq: number;
  /** Representer threshold c = ‖v‖/‖u‖ for this block. */
  c: number;
}

/** A threshold picked by `evaluate` and used by `localize`. */
export interface ThresholdInfo {
  /** τ ∈ (0,1): a box keeps gray > int(τ·max gray). */
  value: number;
  /** How it was chosen, e.g. `CUB val, MaxBoxAccV2 (wsolevaluation)` or `oracle on test`. */
  source: string;
}

/** How w was obtained. */
export interface MethodInfo {
  /** `closed-form` (the release) or `optimize` (loss optimisation, see rps/optimize). */
  name: 'closed-form' | 'optimize';
  /** Method parameters (loss, λ, κ, …) for `optimize`. */
  params?: Record<string, number | string | boolean>;
  /** Relative residual ‖w − Σα f̂‖/‖w‖ of the representer theorem, when computed. */
  representerResidual?: number;
}

/**
 * Creation info. Deterministic by design (no wall-clock time, host or command line): the same fit gives the same bytes
 * whether it ran in one pass, was resumed, or was merged from shards. Timing, host and command go to the run's
 * manifest.json instead.
 */
export interface CreationInfo {
  /** `uol-rps <version>`. */
  tool: string;
  /** What was fitted on, e.g. `cub train (5994 images), resize 224`. */
  source?: string;
  /** Explicit date (ISO), only when the caller asks (e.g. SOURCE_DATE_EPOCH). */
  date?: string;
  /**
   * How the training images were resized when not as the backbone's contract says (the release protocol: bilinear for
   * every backbone, PIL-exact): passes that read the training images again (explain's exact mode) do the same.
   */
  input?: { interpolation?: Interpolation; resizer?: 'codec' | 'pil' };
  /** Deprecated: kept readable for older files. */
  backend?: string;
  /** Deprecated: kept readable for older files. */
  command?: string;
}

/** An in-memory predictor. */
export interface Predictor {
  format: typeof PREDICTOR_FORMAT;
  version: typeof PREDICTOR_VERSION;
  backbone: BackboneIdentity;
  method: MethodInfo;
  /** True when `perClass` holds one w per class and inference picks it by class. */
  classwise: boolean;
  /** Classes of `perClass`, in row order. */
  classes: ClassInfo[];
  /** Global w* ([C], unit norm, float32). */
  weights: Float32Array;
  /** Class-wise w*, row-major [K,C] (rows follow `classes`), when `classwise`. */
  perClassWeights?: Float32Array;
  /** Summary statistics: global first, then per class. */
  statistics: BlockSummary[];
  /** Threshold stored by `evaluate`. */
  threshold?: ThresholdInfo;
  /** Creation info. */
  created: CreationInfo;
  /** Further method data (e.g. representer points), JSON-safe. */
  extras?: Record<string, unknown>;
}

function summarize(key: string, b: StatsBlock): BlockSummary {
  const sumF = b.sumF.toFloat64();
  const sumFhat = b.sumFhat.toFloat64();
  const sn = b.sumNorm.toFloat64();
  const { v, u } = b.means();
  return { key, images: b.images, points: b.points, sumF, sumFhat, sumNorm: sn[0]!, sumNormSq: sn[1]!, c: representerThreshold(v, u) };
}

/** Options of {@link predictorFromStatistics}. */
export interface FitOptions {
  /** Backbone the statistics were computed with. */
  backbone: BackboneIdentity;
  /** Fit one w per class too. */
  classwise?: boolean;
  /** Class names by index. */
  classNames?: Map<number, string>;
  /** Creation info (tool/date default to this package and now). */
  created?: Partial<CreationInfo>;
  /** Tool name + version, e.g. `uol-rps 0.1.0`. */
  tool?: string;
}

/**
 * Closed-form predictor from statistics. The global w* is always fitted; with `classwise`, one per class seen.
 * @throws UsageError when the statistics are empty or degenerate.
 */
export function predictorFromStatistics(stats: FitStatistics, opts: FitOptions): Predictor {
  if (stats.channels !== opts.backbone.channels) {
    throw new UsageError(`statistics have ${stats.channels} channels but backbone ${opts.backbone.id} has ${opts.backbone.channels}`);
  }
  const g = stats.global.means();
  const weights = Float32Array.from(closedFormDirection(g.v, g.u));
  const summaries = [summarize('global', stats.global)];
  const p: Predictor = {
    format: PREDICTOR_FORMAT,
    version: PREDICTOR_VERSION,
    backbone: opts.backbone,
    method: { name: 'closed-form' },
    classwise: !!opts.classwise,
    classes: [],
    weights,
    statistics: summaries,
    created: { tool: opts.tool ?? 'uol-rps', ...opts.created },
  };
  if (opts.classwise) {
    const ks = stats.classes();
    if (ks.length === 0) throw new UsageError('class-wise fit needs class labels, but no image had one');
    const c = stats.channels;
    const per = new Float32Array(ks.length * c);
    ks.forEach((k, row) => {
      const blk = stats.perClass.get(k)!;
      const m = blk.means();
      per.set(closedFormDirection(m.v, m.u), row * c);
      summaries.push(summarize(String(k), blk));
    });
    p.perClassWeights = per;
    p.classes = ks.map((k) => {
      const name = opts.classNames?.get(k);
      return name === undefined ? { index: k } : { index: k, name };
    });
  }
  return p;
}

/** Row of `perClassWeights` for class index `k`, or -1. */
export function classRow(p: Predictor, k: number): number {
  return p.classes.findIndex((c) => c.index === k);
}

// ---------------------------------------------------------------- serialisation

function encodeArray(a: Float32Array | Float64Array, shape: number[]): EncodedArray {
  return { dtype: a instanceof Float32Array ? 'float32' : 'float64', shape, b64: bytesToBase64(floatBytes(a)) };
}

function decodeArray(e: unknown, what: string, file: string): Float32Array | Float64Array {
  const o = e as Partial<EncodedArray>;
  if (!o || (o.dtype !== 'float32' && o.dtype !== 'float64') || !Array.isArray(o.shape) || typeof o.b64 !== 'string') {
    throw new UsageError(`${file}: ${what}: malformed array`);
  }
  if (!o.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) throw new UsageError(`${file}: ${what}: bad shape ${JSON.stringify(o.shape)}`);
  const buf = base64ToBytes(o.b64);
  if (!buf) throw new UsageError(`${file}: ${what}: b64 is not base64`);
  const n = o.shape.reduce((x, y) => x * y, 1);
  const size = o.dtype === 'float32' ? 4 : 8;
  if (buf.length !== n * size) throw new UsageError(`${file}: ${what}: ${buf.length} bytes for shape [${o.shape.join(',')}] ${o.dtype}`);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const a = o.dtype === 'float32' ? new Float32Array(ab) : new Float64Array(ab);
  const bad = a.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new UsageError(`${file}: ${what}[${bad}] is ${a[bad]}: every value of a predictor must be finite`);
  return a;
}

/** Checks a finite number (optionally an integer in [min,max]) and returns it. @throws UsageError naming file and key. */
function num(v: unknown, what: string, file: string, o: { int?: boolean; min?: number; max?: number; openMin?: boolean; openMax?: boolean } = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new UsageError(`${file}: ${what} is ${JSON.stringify(v) ?? String(v)}: expected a finite number`);
  if (o.int && !Number.isSafeInteger(v)) throw new UsageError(`${file}: ${what} is ${v}: expected an integer`);
  const lo = o.min ?? -Infinity;
  const hi = o.max ?? Infinity;
  if (v < lo || v > hi || (o.openMin && v === lo) || (o.openMax && v === hi)) {
    throw new UsageError(`${file}: ${what} is ${v}: expected a value in ${o.openMin ? '(' : '['}${lo},${hi}${o.openMax ? ')' : ']'}`);
  }
  return v;
}

function str(v: unknown, what: string, file: string): string {
  if (typeof v !== 'string') throw new UsageError(`${file}: ${what} is ${JSON.stringify(v) ?? String(v)}: expected a string`);
  return v;
}

function obj(v: unknown, what: string, file: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError(`${file}: ${what} is ${JSON.stringify(v) ?? String(v)}: expected an object`);
  return v as Record<string, unknown>;
}

/** Serialises a predictor to JSON text (deterministic: same predictor, same bytes). */
export function encodePredictor(p: Predictor): string {
  const c = p.backbone.channels;
  const doc = {
    format: p.format,
    version: p.version,
    backbone: p.backbone,
    method: p.method,
    classwise: p.classwise,
    classes: p.classes,
    weights: encodeArray(p.weights, [c]),
    perClassWeights: p.perClassWeights ? encodeArray(p.perClassWeights, [p.classes.length, c]) : undefined,
    statistics: p.statistics.map((s) => ({
      key: s.key,
      images: s.images,
      points: s.points,
      sumNorm: s.sumNorm,
      sumNormSq: s.sumNormSq,
      c: s.c,
      sumF: encodeArray(s.sumF, [c]),
      sumFhat: encodeArray(s.sumFhat, [c]),
    })),
    threshold: p.threshold,
    created: p.created,
    extras: p.extras,
  };
  return JSON.stringify(doc, null, 1) + '\n';
}

/**
 * Parses predictor JSON text. `file` is used in messages.
 * @throws UsageError for another format, another version, or malformed content.
 */
export function decodePredictor(text: string, file = '<predictor>'): Predictor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stripBom(text)) as unknown;
  } catch (e) {
    throw new UsageError(`${file}: not a predictor file (invalid JSON: ${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`${file}: not a uol-rps predictor (not a JSON object)`);
  const j = parsed as Record<string, unknown>;
  if (j.format !== PREDICTOR_FORMAT) throw new UsageError(`${file}: not a uol-rps predictor (format "${String(j.format)}")`);
  if (j.version !== PREDICTOR_VERSION) {
    throw new UsageError(`${file}: predictor version ${String(j.version)} is not supported by this uol-rps (expects ${PREDICTOR_VERSION}); refit it`);
  }
  const backbone = j.backbone as BackboneIdentity;
  if (!backbone || typeof backbone !== 'object' || typeof backbone.id !== 'string') throw new UsageError(`${file}: missing backbone identity`);
  const c = num(backbone.channels, 'backbone.channels', file, { int: true, min: 1, max: 1 << 20 });
  const weights = decodeArray(j.weights, 'weights', file);
  if (!(weights instanceof Float32Array) || weights.length !== c) throw new UsageError(`${file}: weights must be float32 [${c}]`);
  if (!weights.some((v) => v !== 0)) throw new UsageError(`${file}: weights are all zero: w would give all-zero maps`);
  if (j.classes !== undefined && !Array.isArray(j.classes)) throw new UsageError(`${file}: classes must be an array`);
  const classes = ((j.classes ?? []) as unknown[]).map((x, i): ClassInfo => {
    const o = obj(x, `classes[${i}]`, file);
    const ci: ClassInfo = { index: num(o.index, `classes[${i}].index`, file, { int: true, min: 0 }) };
    if (o.name !== undefined) ci.name = str(o.name, `classes[${i}].name`, file);
    return ci;
  });
  if (new Set(classes.map((x) => x.index)).size !== classes.length) throw new UsageError(`${file}: classes has duplicate indices`);
  let perClassWeights: Float32Array | undefined;
  if (j.perClassWeights !== undefined) {
    const pc = decodeArray(j.perClassWeights, 'perClassWeights', file);
    if (!(pc instanceof Float32Array) || pc.length !== classes.length * c) {
      throw new UsageError(`${file}: perClassWeights must be float32 [${classes.length},${c}]`);
    }
    perClassWeights = pc;
  }
  if (j.classwise !== undefined && typeof j.classwise !== 'boolean') throw new UsageError(`${file}: classwise is ${JSON.stringify(j.classwise)}: expected true or false`);
  if (j.classwise && !perClassWeights) throw new UsageError(`${file}: class-wise predictor without perClassWeights`);
  if (j.statistics !== undefined && !Array.isArray(j.statistics)) throw new UsageError(`${file}: statistics must be an array`);
  const stats = ((j.statistics ?? []) as unknown[]).map((x, i) => {
    const s = obj(x, `statistics[${i}]`, file);
    const at = (k: string): string => `statistics[${i}].${k}`;
    return {
      key: str(s.key, at('key'), file),
      images: num(s.images, at('images'), file, { int: true, min: 0 }),
      points: num(s.points, at('points'), file, { int: true, min: 0 }),
      sumNorm: num(s.sumNorm, at('sumNorm'), file, { min: 0 }),
      sumNormSq: num(s.sumNormSq, at('sumNormSq'), file, { min: 0 }),
      c: num(s.c, at('c'), file),
      sumF: decodeArray(s.sumF, at('sumF'), file) as Float64Array,
      sumFhat: decodeArray(s.sumFhat, at('sumFhat'), file) as Float64Array,
    };
  });
  const method = obj(j.method, 'method', file);
  if (method.name !== 'closed-form' && method.name !== 'optimize') throw new UsageError(`${file}: method.name is ${JSON.stringify(method.name)}: expected "closed-form" or "optimize"`);
  if (method.representerResidual !== undefined) num(method.representerResidual, 'method.representerResidual', file, { min: 0 });
  const created = obj(j.created, 'created', file);
  str(created.tool, 'created.tool', file);
  const p: Predictor = {
    format: PREDICTOR_FORMAT,
    version: PREDICTOR_VERSION,
    backbone,
    method: method as unknown as MethodInfo,
    classwise: !!j.classwise,
    classes,
    weights,
    statistics: stats,
    created: created as unknown as CreationInfo,
  };
  if (perClassWeights) p.perClassWeights = perClassWeights;
  if (j.threshold !== undefined) {
    const t = obj(j.threshold, 'threshold', file);
    p.threshold = { value: num(t.value, 'threshold.value (the stored τ)', file, { min: 0, max: 1, openMin: true, openMax: true }), source: str(t.source, 'threshold.source', file) };
  }
  if (j.extras !== undefined) p.extras = obj(j.extras, 'extras', file);
  return p;
}

/**
 * Checks that a predictor was fitted for `identity` (same backbone id, feature layer, channels and, when both know
 * it, the same weights).
 * @throws UsageError explaining the mismatch.
 */
export function assertCompatible(p: Predictor, identity: BackboneIdentity, file = '<predictor>'): void {
  const b = p.backbone;
  const diffs: string[] = [];
  if (b.id !== identity.id) diffs.push(`backbone "${b.id}" vs "${identity.id}"`);
  if (b.featureLayer !== identity.featureLayer) diffs.push(`feature layer "${b.featureLayer}" vs "${identity.featureLayer}"`);
  if (b.channels !== identity.channels) diffs.push(`channels ${b.channels} vs ${identity.channels}`);
  if (b.weightsSha256 && identity.weightsSha256 && b.weightsSha256 !== identity.weightsSha256) {
    diffs.push(`weights sha256 ${b.weightsSha256.slice(0, 12)}… vs ${identity.weightsSha256.slice(0, 12)}…`);
  }
  if (diffs.length) throw new UsageError(`${file}: predictor was fitted for another backbone (${diffs.join('; ')})`);
}
