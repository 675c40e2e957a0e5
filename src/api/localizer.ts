/**
 * The library's front door, platform-neutral core: one object over a loaded backbone that fits w* (closed form or an
 * optimised loss), localizes (maps, boxes at τ), evaluates (given boxes) and explains, on images given as decoded RGB
 * buffers or tensors. No file system here: the web app uses this module as it is; the Node layer (./node.ts) adds
 * registry names, file paths and globs, and writing the CLI's files.
 *
 * Protocol: the one `uol localize IMAGES` and `uol fit --images` use (docs/method.md §3): every image is resized whole to
 * S×S (default the backbone's size) with the backbone's filter, normalised per its input contract, and run one image
 * per forward pass; maps are upsampled to S×S, boxes found there (docs/method.md §5) and mapped back to the original
 * pixels. Here the resize is PIL's exact arithmetic (data/pil-resample.ts) unless a `resize` function is given; the
 * Node layer gives the CLI's decoder and resizer (sharp), so its results equal the CLI's.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import { runExtractor, type FeatureExtractor, type Interpolation } from '../backbones/types.js';
import { toInputTensor, type RGBImage } from '../data/image-io.js';
import { pilResize } from '../data/pil-resample.js';
import { boxToOriginal, describeProtocol, transformBoxes, wholeProtocol, type Protocol } from '../data/transforms.js';
import type { CornerBox, EdgeBox } from '../util/box.js';
import { FitStatistics } from '../rps/statistics.js';
import { assertCompatible, classRow, encodePredictor, predictorFromStatistics, type Predictor, type ThresholdInfo } from '../rps/predictor.js';
import { activationMaps } from '../rps/activation.js';
import { checkThreshold, resolveThreshold } from '../rps/threshold.js';
import { fitOptimized } from '../rps/optimize.js';
import type { LossName } from '../rps/losses.js';
import type { TrainingItem, TrainingSource } from '../rps/point-source.js';
import { explain as explainFeatures, type ExplainResult, type RegionSpec } from '../rps/explain.js';
import { boxesFromMap, meanInsideBox } from '../localize/boxes.js';
import { BoxEvaluator, type BoxMetrics } from '../evaluate/box-metrics.js';
import { boxesDocument, cocoFromEntries, encodeBoxesFile, encodeCocoFile, type BoxesFile } from '../report/boxes-file.js';
import { TOOL } from '../version.js';

/** A decoded image: 8-bit RGB (row-major HWC, values 0..255), or a tensor [H,W,3] with values in 0..255 (rounded and clamped to bytes). */
export type ImageLike = RGBImage | tf.Tensor3D;

/** An image with what the front door may need to know about it. */
export interface ImageItem {
  /** Name used in results and files (default `image-<i>`). */
  id?: string;
  image: ImageLike;
  /** File it came from, recorded in boxes.json when given. */
  file?: string;
  /** Ground-truth boxes [x0,y0,x1,y1] in original pixels (inclusive, as dataset annotations): for {@link Localizer.evaluate}. */
  boxes?: CornerBox[];
  /** Class index (integer ≥ 0): class-wise fits, and picks a class-wise predictor's w when localizing. */
  label?: number;
}

/** Anything the core accepts as an image. */
export type ImageInput = ImageLike | ImageItem;

/** Resizes an RGB image to exactly width×height with a filter (no crop). */
export type ResizeFunction = (img: RGBImage, width: number, height: number, interpolation: Interpolation) => RGBImage | Promise<RGBImage>;

/** An image ready for the backbone: resized whole to S×S, with its original size. */
export interface PreparedImage {
  /** The image resized to S×S. */
  input: RGBImage;
  /** Original (decoded) size. */
  width: number;
  height: number;
}

/** One image as the front door iterates it: identity now, pixels on demand. */
export interface ImageSource {
  id: string;
  file?: string;
  boxes?: CornerBox[];
  label?: number;
  /** Decodes and resizes the image to `size`×`size`. */
  load(size: number): Promise<PreparedImage>;
}

/** Options of {@link createLocalizer} (core). */
export interface LocalizerOptions {
  /** A loaded backbone (owned by the caller unless `ownBackbone`). */
  backbone: FeatureExtractor;
  /** Dispose the backbone with the localizer. */
  ownBackbone?: boolean;
  /** A predictor to start from (e.g. decoded from a `uol fit` file); `fit` replaces it. */
  predictor?: Predictor;
  /** The predictor's file name, recorded in boxes.json. */
  predictorName?: string;
  /** Input side S (default the backbone's `defaultSize`). */
  size?: number;
  /** Resizer (default PIL-exact bilinear/bicubic as the backbone's contract says). */
  resize?: ResizeFunction;
  /** Progress of every method (stages `fit`, `localize`, `evaluate`, `explain`). */
  onProgress?: ProgressCallback;
}

/** Options of {@link Localizer.fit}. */
export interface FitOptions {
  /** `closed-form` (default, the release) or `optimize` (regularised ERM with L-BFGS, docs/method.md §4). */
  method?: 'closed-form' | 'optimize';
  /** Also fit one w per class (every image needs a `label`). */
  classwise?: boolean;
  /** optimize: loss (default logistic). */
  loss?: LossName;
  /** optimize: λ > 0. */
  lambda?: number;
  /** optimize: logit scale t > 0. */
  scale?: number;
  /** optimize: soft-label steepness κ > 0. */
  kappa?: number;
  /** optimize: maximum streamed passes. */
  maxPasses?: number;
  /** optimize: convergence tolerance on the representer residual. */
  tol?: number;
  /** optimize: representer points kept per side (for stored-mode explanations). */
  topK?: number;
  /** Description recorded in the predictor (`created.source`); default as `uol fit --images` writes it, `N images, Resize((S,S))…`. */
  description?: string;
}

/** What {@link Localizer.fit} returns. */
export interface FitResult {
  predictor: Predictor;
  /** Images fitted on. */
  images: number;
  /** optimize only: converged, passes, representer residual, cosine to the closed-form w*. */
  optimize?: { converged: boolean; passes: number; residual: number; cosineToClosedForm: number };
}

/** A box in both frames. */
export interface LocalizedBox {
  /** [x0,y0,x1,y1] in original image pixels, continuous edges (x1,y1 exclusive), clipped to the image. */
  box: EdgeBox;
  /** cv2.boundingRect [x,y,x+w,y+h] in the S×S map frame. */
  inputBox: CornerBox;
  /** Mean map value in [0,1] inside `inputBox`. */
  score: number;
}

/** One localized image. */
export interface LocalizeResult {
  id: string;
  file?: string;
  /** Original size. */
  width: number;
  height: number;
  /** τ ∈ (0,1) used. */
  threshold: number;
  /** The largest component's box, or null when nothing is above τ. */
  box: LocalizedBox | null;
  /** Every component's box (with `allBoxes`). */
  allBoxes?: LocalizedBox[];
  /** The map [S·S] row-major, values in [0,1] (with `maps`, the default). */
  map?: Float32Array;
  /** [H,W] of the map (= S×S). */
  mapSize: [number, number];
  /** Class whose w was used (class-wise predictors). */
  classUsed?: number;
}

/** Options of {@link Localizer.localize}. */
export interface LocalizeOptions {
  /** τ ∈ (0,1) (default the one stored in the predictor, else 0.5). */
  threshold?: number;
  /** Also every component's box. */
  allBoxes?: boolean;
  /** Return the maps (default true). */
  maps?: boolean;
  /** Receives each result as soon as it is ready (e.g. to draw it). */
  onResult?: (r: LocalizeResult) => void | Promise<void>;
}

/** Options of {@link Localizer.evaluate}. */
export interface EvaluateOptions {
  /** τ grid (default the release's 0.01…0.99). */
  thresholds?: ArrayLike<number>;
  /** Store the chosen τ (the release's MaxBoxAccV2 τ) in the predictor, as `uol evaluate` does. */
  store?: boolean;
}

/** Options of {@link Localizer.explain}. */
export interface ExplainOptions<I = ImageInput> {
  /** Region (default the predicted box at τ). */
  region?: RegionSpec;
  /** Points per side (default 8). */
  top?: number;
  /** Exact mode: the training images of the fit (default: the representer points stored by an optimize fit with `topK`). */
  training?: I | readonly I[];
  /** Class-wise predictors: explain class k. */
  classIndex?: number;
}

function isTensor(x: unknown): x is tf.Tensor3D {
  return x instanceof tf.Tensor;
}

function isRgb(x: unknown): x is RGBImage {
  const o = x as Partial<RGBImage> | null;
  return !!o && typeof o === 'object' && o.data instanceof Uint8Array && Number.isInteger(o.width) && Number.isInteger(o.height);
}

/** Checks an RGB buffer and returns it. @throws UsageError naming the image. */
function checkRgb(img: RGBImage, id: string): RGBImage {
  if (!(img.width > 0 && img.height > 0) || img.data.length !== img.width * img.height * 3) {
    throw new UsageError(`${id}: expected ${img.width}×${img.height}×3 = ${img.width * img.height * 3} RGB bytes, got ${img.data.length}`);
  }
  return img;
}

/** A tensor [H,W,3] in 0..255 as RGB bytes (rounded, clamped). */
async function tensorToRgb(t: tf.Tensor3D, id: string): Promise<RGBImage> {
  if (t.rank !== 3 || t.shape[2] !== 3) throw new UsageError(`${id}: expected a tensor [H,W,3], got [${t.shape.join(',')}]`);
  const v = await t.data();
  const data = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) data[i] = Math.min(255, Math.max(0, Math.round(v[i]!)));
  return { width: t.shape[1], height: t.shape[0], data };
}

/** The PIL-exact resizer (default of the core). */
export const pilResizer: ResizeFunction = (img, width, height, interpolation) =>
  img.width === width && img.height === height ? img : { width, height, data: pilResize(img.data, img.width, img.height, width, height, interpolation) };

/** One image or an array of them, as an array (an image is never an array). */
function asList<T>(x: T | readonly T[]): readonly T[] {
  return Array.isArray(x) ? (x as readonly T[]) : [x as T];
}

/**
 * The front door's object (core). Methods take arrays of {@link ImageInput}; results come back in input order.
 * Tensors given by the caller are never disposed; every tensor made here is.
 */
export class Localizer<I = ImageInput> {
  /** The backbone. */
  readonly backbone: FeatureExtractor;
  /** Input side S. */
  readonly size: number;
  /** The current predictor (from the options, {@link fit}, or with a τ from {@link evaluate}). */
  predictor: Predictor | undefined;
  /** Name recorded in boxes.json for the predictor (a file name), if any. */
  predictorName: string | undefined;
  protected readonly resize: ResizeFunction;
  /** What the fit description says after `Resize((S,S))` (as `uol fit` writes it): ` PIL` for the PIL-exact resizer. */
  protected resizeNote: string;
  protected readonly onProgress: ProgressCallback | undefined;
  private readonly ownBackbone: boolean;

  constructor(o: LocalizerOptions) {
    this.backbone = o.backbone;
    const c = o.backbone.identity.input;
    this.size = o.size ?? c.defaultSize;
    if (!Number.isInteger(this.size) || this.size < c.minSize || this.size % c.sizeMultiple !== 0 || (c.fixedSize && this.size !== c.defaultSize)) {
      throw new UsageError(`size ${this.size}: ${o.backbone.identity.id} needs an integer ≥ ${c.minSize} that is a multiple of ${c.sizeMultiple}${c.fixedSize ? ` (only ${c.defaultSize})` : ''}`);
    }
    if (o.predictor) assertCompatible(o.predictor, o.backbone.identity, o.predictorName);
    this.predictor = o.predictor;
    this.predictorName = o.predictorName;
    this.resize = o.resize ?? pilResizer;
    this.resizeNote = o.resize ? '' : ' PIL';
    this.onProgress = o.onProgress;
    this.ownBackbone = !!o.ownBackbone;
  }

  /** The protocol: the whole image resized to S×S. */
  get protocol(): Protocol {
    return wholeProtocol(this.size);
  }

  /** τ the next {@link localize} uses without an explicit one: the predictor's stored τ, else 0.5. */
  get threshold(): ThresholdInfo & { origin: 'given' | 'stored' | 'default' } {
    return resolveThreshold(this.predictor, undefined);
  }

  /** Turns inputs into image sources (the Node layer adds paths and globs). */
  protected async sources(inputs: readonly unknown[]): Promise<ImageSource[]> {
    return inputs.map((x, i) => {
      const item: ImageItem = isTensor(x) || isRgb(x) ? { image: x } : (x as ImageItem);
      if (!item || typeof item !== 'object' || !(isTensor(item.image) || isRgb(item.image))) {
        throw new UsageError(`images[${i}]: expected decoded RGB ({width, height, data: Uint8Array}), a tensor [H,W,3] or {image, id?, boxes?, label?}`);
      }
      const id = item.id ?? `image-${i + 1}`;
      const src: ImageSource = {
        id,
        load: async (size) => {
          const rgb = isTensor(item.image) ? await tensorToRgb(item.image, id) : checkRgb(item.image, id);
          return { input: await this.resize(rgb, size, size, this.backbone.identity.input.interpolation), width: rgb.width, height: rgb.height };
        },
      };
      if (item.file !== undefined) src.file = item.file;
      if (item.boxes) src.boxes = item.boxes;
      if (item.label !== undefined) src.label = item.label;
      return src;
    });
  }

  /** Features [1,h,w,C] of one source (caller disposes) and its original size. */
  protected async features(s: ImageSource): Promise<{ feats: tf.Tensor4D; width: number; height: number }> {
    const p = await s.load(this.size);
    const x = toInputTensor(p.input, this.backbone.identity.input);
    try {
      return { feats: await runExtractor(this.backbone, x), width: p.width, height: p.height };
    } finally {
      x.dispose();
    }
  }

  /**
   * Fits w* on the images (no labels needed) and makes it the current predictor.
   * @throws UsageError for no images, a class-wise fit with an unlabelled image, or degenerate features.
   */
  async fit(images: I | readonly I[], o: FitOptions = {}): Promise<FitResult> {
    const srcs = await this.sources(asList(images));
    if (srcs.length === 0) throw new UsageError('fit: no images');
    if (o.classwise) for (const s of srcs) if (s.label === undefined) throw new UsageError(`${s.file ?? s.id}: no class label (class-wise fit)`);
    const identity = this.backbone.identity;
    const created = { source: o.description ?? `${srcs.length} images, Resize((${this.size},${this.size}))${this.resizeNote}` };
    if ((o.method ?? 'closed-form') === 'closed-form') {
      const stats = new FitStatistics(identity.channels);
      for (let i = 0; i < srcs.length; i++) {
        this.onProgress?.({ stage: 'fit', done: i, total: srcs.length, unit: 'img', detail: srcs[i]!.id });
        const { feats } = await this.features(srcs[i]!);
        try {
          await stats.addBatch(feats, o.classwise ? [srcs[i]!.label!] : undefined);
        } finally {
          feats.dispose();
        }
      }
      this.onProgress?.({ stage: 'fit', done: srcs.length, total: srcs.length, unit: 'img' });
      this.predictor = predictorFromStatistics(stats, { backbone: identity, classwise: !!o.classwise, tool: TOOL, created });
      this.predictorName = undefined;
      return { predictor: this.predictor, images: srcs.length };
    }
    const size = this.size;
    const source: TrainingSource = async function* (this: Localizer<I>) {
      for (const s of srcs) {
        const { feats, width, height } = await this.features(s);
        try {
          const item: TrainingItem = { id: s.id, features: feats, inputSize: [size, size], imageSize: [height, width] };
          if (s.file !== undefined) item.imageFile = s.file;
          if (s.label !== undefined) item.classIndex = s.label;
          yield item;
        } finally {
          feats.dispose();
        }
      }
    }.bind(this);
    const oo: Parameters<typeof fitOptimized>[1] = { backbone: identity, classwise: !!o.classwise, tool: TOOL, created };
    if (o.loss !== undefined) oo.loss = o.loss;
    if (o.lambda !== undefined) oo.lambda = o.lambda;
    if (o.scale !== undefined) oo.scale = o.scale;
    if (o.kappa !== undefined) oo.kappa = o.kappa;
    if (o.maxPasses !== undefined) oo.maxPasses = o.maxPasses;
    if (o.tol !== undefined) oo.tol = o.tol;
    if (o.topK !== undefined) oo.topK = o.topK;
    if (this.onProgress) oo.onProgress = this.onProgress;
    const r = await fitOptimized(source, oo);
    this.predictor = r.predictor;
    this.predictorName = undefined;
    return { predictor: r.predictor, images: srcs.length, optimize: { converged: r.converged, passes: r.passes, residual: r.residual, cosineToClosedForm: r.cosineToClosedForm } };
  }

  private requirePredictor(what: string): Predictor {
    if (!this.predictor) throw new UsageError(`${what}: no predictor: fit one first (fit) or give one (predictor)`);
    return this.predictor;
  }

  /** The S×S map of one source, [S·S] in [0,1], and its original size. */
  private async mapOf(s: ImageSource, p: Predictor, useLabel: boolean): Promise<{ map: Float32Array; width: number; height: number; classUsed?: number }> {
    let w: Float32Array = p.weights;
    let classUsed: number | undefined;
    if (useLabel && p.perClassWeights && s.label !== undefined) {
      const row = classRow(p, s.label);
      if (row < 0) throw new UsageError(`${s.file ?? s.id}: class ${s.label} has no w in the predictor`);
      const C = this.backbone.identity.channels;
      w = p.perClassWeights.subarray(row * C, (row + 1) * C);
      classUsed = s.label;
    }
    const { feats, width, height } = await this.features(s);
    const S = this.size;
    const maps = tf.tidy(() => activationMaps(feats, tf.tensor1d(w), { size: [S, S] }));
    feats.dispose();
    const map = (await maps.data()) as Float32Array;
    maps.dispose();
    return classUsed === undefined ? { map, width, height } : { map, width, height, classUsed };
  }

  /**
   * Localizes the images: a map and the largest component's box at τ per image.
   * @throws UsageError without a predictor, for τ outside (0,1), or a bad image.
   */
  async localize(images: I | readonly I[], o: LocalizeOptions = {}): Promise<LocalizeResult[]> {
    const p = this.requirePredictor('localize');
    const tau = o.threshold === undefined ? this.threshold.value : checkThreshold(o.threshold);
    const srcs = await this.sources(asList(images));
    const S = this.size;
    const out: LocalizeResult[] = [];
    for (let i = 0; i < srcs.length; i++) {
      const s = srcs[i]!;
      this.onProgress?.({ stage: 'localize', done: i, total: srcs.length, unit: 'img', detail: s.id });
      const { map, width, height, classUsed } = await this.mapOf(s, p, true);
      const r: LocalizeResult = { id: s.id, width, height, threshold: tau, box: null, mapSize: [S, S], map };
      if (s.file !== undefined) r.file = s.file;
      if (classUsed !== undefined) r.classUsed = classUsed;
      Object.assign(r, this.boxesAt(r, tau, { allBoxes: !!o.allBoxes }));
      if (o.maps === false) delete r.map;
      if (o.onResult) await o.onResult(r);
      out.push(r);
    }
    this.onProgress?.({ stage: 'localize', done: srcs.length, total: srcs.length, unit: 'img' });
    return out;
  }

  /**
   * The boxes of a result at another τ, from its map (no backbone pass): what a τ slider needs. Returns a new result.
   * @throws UsageError for τ outside (0,1) or a result without its map.
   */
  boxesAt(r: LocalizeResult, tau: number, o: { allBoxes?: boolean } = {}): LocalizeResult {
    checkThreshold(tau);
    const map = r.map;
    if (!map) throw new UsageError(`${r.id}: the result has no map (localize with maps: true)`);
    const [H, W] = r.mapSize;
    const mk = (b: CornerBox): LocalizedBox => ({ box: boxToOriginal(b, wholeProtocol(W), r.width, r.height), inputBox: b, score: meanInsideBox(map, W, H, b) });
    const largest = boxesFromMap(map, H, W, tau);
    const out: LocalizeResult = { ...r, threshold: tau, box: largest.length ? mk(largest[0]!) : null };
    if (o.allBoxes || r.allBoxes) out.allBoxes = boxesFromMap(map, H, W, tau, { multi: true }).map(mk);
    return out;
  }

  /**
   * Evaluates against ground-truth boxes (every image needs `boxes`): the WSOL box metrics (MaxBoxAcc, MaxBoxAccV2, the
   * release's MaxBoxAccV2 and its τ) on the S×S frame. With `store`, the release's τ becomes the predictor's.
   * @throws UsageError without a predictor or for an image without boxes.
   */
  async evaluate(images: I | readonly I[], o: EvaluateOptions = {}): Promise<BoxMetrics> {
    const p = this.requirePredictor('evaluate');
    const srcs = await this.sources(asList(images));
    if (srcs.length === 0) throw new UsageError('evaluate: no images');
    const ev = new BoxEvaluator(o.thresholds ? { thresholds: o.thresholds } : {});
    const S = this.size;
    for (let i = 0; i < srcs.length; i++) {
      const s = srcs[i]!;
      if (!s.boxes?.length) throw new UsageError(`${s.file ?? s.id}: no ground-truth boxes to evaluate against`);
      this.onProgress?.({ stage: 'evaluate', done: i, total: srcs.length, unit: 'img', detail: s.id });
      const { map, width, height } = await this.mapOf(s, p, true);
      ev.accumulate({ map, height: S, width: S, gtBoxes: transformBoxes(s.boxes, { width, height }, this.protocol), id: s.id });
    }
    this.onProgress?.({ stage: 'evaluate', done: srcs.length, total: srcs.length, unit: 'img' });
    const m = ev.compute();
    if (o.store) this.predictor = { ...p, threshold: { value: Math.min(0.99, Math.max(0.01, m.chosen.release)), source: `${srcs.length} images, MaxBoxAccV2 (release: shared τ, largest contour)` } };
    return m;
  }

  /**
   * Explains one image: which training points make its region foreground (docs/method.md §6). Stored mode uses the
   * representer points an optimize fit kept (`topK`); exact mode (`training`) scans the fit's training images again.
   */
  async explain(image: I, o: ExplainOptions<I> = {}): Promise<ExplainResult> {
    const p = this.requirePredictor('explain');
    const [s] = await this.sources([image]);
    if (!s) throw new UsageError('explain: no image');
    this.onProgress?.({ stage: 'explain', done: 0, total: 1, unit: 'img', detail: s.id });
    const { feats, width, height } = await this.features(s);
    try {
      const eo: Parameters<typeof explainFeatures>[0] = { predictor: p, test: { id: s.id, features: feats, imageSize: [height, width], inputSize: [this.size, this.size] } };
      if (this.predictorName) eo.predictorFile = this.predictorName;
      if (o.region) eo.region = o.region;
      if (o.top !== undefined) eo.top = o.top;
      if (o.classIndex !== undefined) eo.classIndex = o.classIndex;
      if (o.training) {
        const train = await this.sources(asList(o.training));
        const size = this.size;
        eo.training = async function* (this: Localizer<I>) {
          for (const t of train) {
            const f = await this.features(t);
            try {
              const item: TrainingItem = { id: t.id, features: f.feats, inputSize: [size, size], imageSize: [f.height, f.width] };
              if (t.label !== undefined) item.classIndex = t.label;
              yield item;
            } finally {
              f.feats.dispose();
            }
          }
        }.bind(this);
      }
      const r = await explainFeatures(eo);
      this.onProgress?.({ stage: 'explain', done: 1, total: 1, unit: 'img' });
      return r;
    } finally {
      feats.dispose();
    }
  }

  /** The boxes.json document `uol localize` writes for these results (same keys and conventions). */
  boxesFile(results: readonly LocalizeResult[], o: { thresholdSource?: string } = {}): BoxesFile {
    const p = this.predictor;
    const t0 = results[0]?.threshold ?? this.threshold.value;
    const stored = p?.threshold && p.threshold.value === t0;
    const source = o.thresholdSource ?? (stored ? `stored in the predictor (${p.threshold!.source})` : this.threshold.origin === 'default' && t0 === this.threshold.value ? `${this.threshold.source} (no τ stored: run \`uol evaluate\` on annotated data to choose one)` : 'given');
    return boxesDocument(results, {
      tool: TOOL,
      backbone: this.backbone.identity.id,
      predictor: this.predictorName ?? null,
      method: p?.method.name ?? 'closed-form',
      transform: describeProtocol(this.protocol),
      mapSize: [this.size, this.size],
      threshold: { value: t0, source },
    });
  }

  /** boxes.json text. */
  boxesJson(results: readonly LocalizeResult[], o: { thresholdSource?: string } = {}): string {
    return encodeBoxesFile(this.boxesFile(results, o));
  }

  /** coco.json text as `uol localize --coco` writes it (file_name: the file when known, else the id). */
  cocoJson(results: readonly LocalizeResult[], o: { allBoxes?: boolean; fileName?: (id: string, file?: string) => string } = {}): string {
    const doc = this.boxesFile(results);
    const co: Parameters<typeof cocoFromEntries>[2] = { allBoxes: !!o.allBoxes };
    if (o.fileName) co.fileName = (e) => o.fileName!(e.id, e.file);
    return encodeCocoFile(cocoFromEntries(doc.images, TOOL, co));
  }

  /** The predictor file text (`uol fit`'s format). @throws UsageError without a predictor. */
  predictorJson(): string {
    return encodePredictor(this.requirePredictor('predictorJson'));
  }

  /** Releases the backbone when the localizer owns it. */
  dispose(): void {
    if (this.ownBackbone) this.backbone.dispose();
  }
}

/**
 * The front door (core): a localizer over a loaded backbone, in the style of tfjs-models' `createDetector`.
 * ```ts
 * const loc = await createLocalizer({ backbone });          // a FeatureExtractor
 * await loc.fit(images);                                    // RGB buffers or tensors [H,W,3]
 * const results = await loc.localize(images);               // maps + boxes at τ
 * ```
 */
export async function createLocalizer(o: LocalizerOptions): Promise<Localizer<ImageInput>> {
  return new Localizer(o);
}
