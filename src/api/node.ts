/**
 * The library's front door in Node: {@link createLocalizer} takes a backbone by registry name or folder and a predictor
 * by file, accepts image paths, folders and globs besides decoded images and tensors, decodes files exactly as the CLI
 * does (sharp, data/image-io.ts), and writes the CLI's files (boxes.json, coco.json, the predictor) atomically. The
 * platform-neutral core is ./localizer.ts.
 */
import * as path from 'node:path';
import { UsageError } from '../util/errors.js';
import { mkdirSync } from 'node:fs';
import { writeFileAtomicSync } from '../util/fs.js';
import { initEngine, type EngineOptions } from '../engine/backend.js';
import type { FeatureExtractor } from '../backbones/types.js';
import type { Downscale } from '../backbones/resnet.js';
import { DEFAULT_BACKBONE, findPredictorBackbone, loadBackbone } from '../backbones/node/registry.js';
import { readImageResized, resizeRGB } from '../data/image-io.js';
import type { Predictor } from '../rps/predictor.js';
import { loadPredictor } from '../rps/node/predictor-file.js';
import { resolveInput } from '../pipeline/input.js';
import { Localizer, type ImageInput, type ImageItem, type ImageSource, type LocalizeResult, type LocalizerOptions } from './localizer.js';

/** An image file with what the front door may need to know about it (ground-truth boxes, class). */
export interface ImageFileItem extends Omit<ImageItem, 'image' | 'file'> {
  /** The image file. */
  image: string;
}

/** An image for the Node front door: a file, folder or glob, a file with boxes/label, or anything the core takes. */
export type NodeImageInput = string | ImageFileItem | ImageInput;

/** Options of {@link createLocalizer} in Node. */
export interface NodeLocalizerOptions extends Omit<LocalizerOptions, 'backbone' | 'predictor' | 'ownBackbone' | 'resize'> {
  /**
   * A registry name (`uol info` lists them), a converted-model or tfjs model folder, or a loaded backbone. Default: the
   * predictor's backbone, else the embedded `nsfwjs-mobilenetv2` (offline).
   */
  backbone?: string | FeatureExtractor;
  /** A predictor file written by `uol fit` (or this object's `savePredictor`), or a decoded predictor. */
  predictor?: string | Predictor;
  /** ResNet output stride (default: the predictor's, else 32). */
  downscale?: Downscale;
  /** Engine to start when none is running (default `auto`: tfjs-node-gpu → tfjs-node → wasm → cpu). */
  engine?: EngineOptions;
}

/** What {@link NodeLocalizer.save} wrote. */
export interface SavedFiles {
  boxes: string;
  coco?: string;
}

/** The front door's object in Node: the core's methods, plus paths/globs as images and file output. */
export class NodeLocalizer extends Localizer<NodeImageInput> {
  constructor(o: LocalizerOptions) {
    super(o);
    // The CLI's default protocol (codec resizer, the backbone's filter), named as `uol fit` names it.
    this.resizeNote = '; protocol wsoleval';
  }

  protected override async sources(inputs: readonly unknown[]): Promise<ImageSource[]> {
    const out: ImageSource[] = [];
    // Consecutive strings resolve together, so ids are relative to the folder or glob base as in `uol localize`.
    const fileItem = (x: unknown): x is ImageFileItem => typeof x === 'object' && x !== null && typeof (x as ImageFileItem).image === 'string';
    for (let i = 0; i < inputs.length; ) {
      const x = inputs[i];
      if (fileItem(x)) {
        const [s] = await this.sources([x.image]);
        if (!s) throw new UsageError(`${x.image}: no image`);
        if (x.id !== undefined) s.id = x.id;
        if (x.boxes) s.boxes = x.boxes;
        if (x.label !== undefined) s.label = x.label;
        out.push(s);
        i++;
        continue;
      }
      if (typeof x !== 'string') {
        let j = i;
        while (j < inputs.length && typeof inputs[j] !== 'string' && !fileItem(inputs[j])) j++;
        out.push(...(await super.sources(inputs.slice(i, j))));
        i = j;
        continue;
      }
      let j = i;
      while (j < inputs.length && typeof inputs[j] === 'string') j++;
      const input = await resolveInput({ images: inputs.slice(i, j) as string[] }, ['all']);
      const interpolation = this.backbone.identity.input.interpolation;
      for (const r of input.records) {
        const file = r.file ?? r.id;
        const s: ImageSource = {
          id: r.id,
          load: async (size) => {
            const { image, original } = await readImageResized(file, size, size, interpolation);
            return { input: image, width: original.width, height: original.height };
          },
        };
        s.file = file;
        if (r.boxes) s.boxes = r.boxes;
        if (r.label !== undefined) s.label = r.label;
        out.push(s);
      }
      i = j;
    }
    return out;
  }

  /**
   * Writes `<outDir>/boxes.json` (and with `coco`, `coco.json`) in `uol localize`'s format, atomically. COCO file
   * names are relative to `outDir`, as the CLI writes them.
   */
  save(outDir: string, results: readonly LocalizeResult[], o: { coco?: boolean; allBoxes?: boolean } = {}): SavedFiles {
    const dir = path.resolve(outDir);
    mkdirSync(dir, { recursive: true });
    const boxes = path.join(dir, 'boxes.json');
    writeFileAtomicSync(boxes, this.boxesJson(results));
    const saved: SavedFiles = { boxes };
    if (o.coco) {
      saved.coco = path.join(dir, 'coco.json');
      writeFileAtomicSync(saved.coco, this.cocoJson(results, { allBoxes: !!o.allBoxes, fileName: (id, file) => (file ? path.relative(dir, file) : id) }));
    }
    return saved;
  }

  /** Writes the current predictor (`uol fit`'s format) atomically; later boxes.json name this file. */
  savePredictor(file: string): string {
    const f = path.resolve(file);
    writeFileAtomicSync(f, this.predictorJson());
    this.predictorName = file;
    return f;
  }
}

/**
 * The front door in Node: one object that fits, localizes, evaluates and explains.
 * ```ts
 * const loc = await createLocalizer();                        // embedded MobileNetV2, offline
 * await loc.fit('photos/*.jpg');
 * const results = await loc.localize('photos/*.jpg');
 * loc.save('out/', results, { coco: true });
 * ```
 * Starts the engine when none runs. The localizer owns a backbone it loaded (`dispose()` releases it).
 * @throws UsageError for an unknown backbone, an unreadable predictor, or a predictor of another backbone.
 */
export async function createLocalizer(o: NodeLocalizerOptions = {}): Promise<NodeLocalizer> {
  await initEngine(o.engine ?? {});
  const predictor = typeof o.predictor === 'string' ? loadPredictor(o.predictor) : o.predictor;
  let backbone: FeatureExtractor;
  let own = false;
  if (o.backbone !== undefined && typeof o.backbone !== 'string') backbone = o.backbone;
  else {
    const spec = o.backbone ?? (predictor ? findPredictorBackbone(predictor.backbone) : DEFAULT_BACKBONE);
    const downscale = o.downscale ?? (predictor && [8, 16, 32].includes(predictor.backbone.stride) ? (predictor.backbone.stride as Downscale) : undefined);
    backbone = await loadBackbone(spec, { ...(downscale ? { downscale } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}) });
    own = true;
  }
  const lo: LocalizerOptions = { backbone, ownBackbone: own, resize: (img, w, h, interpolation) => resizeRGB(img, w, h, interpolation) };
  if (predictor) lo.predictor = predictor;
  const name = o.predictorName ?? (typeof o.predictor === 'string' ? o.predictor : undefined);
  if (name !== undefined) lo.predictorName = name;
  if (o.size !== undefined) lo.size = o.size;
  if (o.onProgress) lo.onProgress = o.onProgress;
  try {
    return new NodeLocalizer(lo);
  } catch (e) {
    if (own) backbone.dispose();
    throw e;
  }
}
