/**
 * `uol explain`: the training patches with the largest representer values for a test image's region, as a
 * self-contained HTML page plus explain.json (rps/explain.ts, report/explain-html.ts).
 *
 * Test features: by default the image path — the backbone of the predictor (or `--backbone`) on the test image resized
 * whole to the fit's input frame, as `uol localize IMAGES` does; or `--features TEST.npy` (bring your own features).
 * Training points: the representer points stored by the fit (stored mode), or every training point again (exact
 * mode) from `--train-images` / `--train-dataset` (extracted on the fly, optionally through `--feature-cache DIR`) or
 * from a feature directory `--train-features DIR`.
 */
import type { Argv, CommandModule } from 'yargs';
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../../util/errors.js';
import type { RGBImage } from '../../data/image-io.js';
import { DATASET_NAMES } from '../../data/datasets/names.js';
import type { FeatureExtractor } from '../../backbones/types.js';
import type { Predictor } from '../../rps/predictor.js';
import type { TrainingSource } from '../../rps/point-source.js';
import type { ExplainOptions, ExplainResult, RegionSpec } from '../../rps/explain.js';
import { sharedDecls, withShared, type SharedArgs } from './shared-options.js';
import { emit, progressFor, startEngine, type GlobalArgs } from '../context.js';
import { argsFingerprint, claimOutDir } from '../../util/run-owner.js';
import { checkThreshold, DEFAULT_THRESHOLD } from '../../rps/threshold.js';
import type { EdgeBox } from '../../util/box.js';

interface ExplainArgs extends GlobalArgs, SharedArgs<'backbone' | 'downscale' | 'batch-size' | 'threshold' | 'feature-cache'> {
  image?: string;
  predictor: string;
  features?: string;
  size?: number;
  class?: string;
  out: string;
  top: number;
  region?: 'pixel' | 'box';
  box?: string;
  at?: string;
  'train-features'?: string;
  'train-labels'?: string;
  'train-images'?: string[];
  'train-dataset'?: string;
  'train-data-dir'?: string;
  'train-split'?: string;
  'train-metadata'?: string;
  context: number;
}

function parseNumbers(s: string, n: number, flag: string): number[] {
  const parts = s.split(',').map((x) => Number(x.trim()));
  if (parts.length !== n || parts.some((x) => !Number.isFinite(x))) throw new UsageError(`${flag} "${s}": expected ${n} comma-separated numbers`);
  return parts;
}

/** `--class` as an index or a class name of the predictor. */
function parseClass(p: Predictor, file: string, s: string): number {
  if (!p.classwise) throw new UsageError(`--class ${s}: ${file} is not a class-wise predictor (fit with --classwise)`);
  if (/^\d+$/.test(s.trim())) return Number(s);
  const hit = p.classes.find((c) => c.name === s);
  if (!hit) throw new UsageError(`--class ${s}: no class of that index or name in ${file} (${p.classes.slice(0, 8).map((c) => (c.name ? `${c.index}=${c.name}` : String(c.index))).join(', ')}${p.classes.length > 8 ? ', …' : ''})`);
  return hit.index;
}

function regionFrom(a: ExplainArgs): RegionSpec {
  if (a.at) {
    if (a.box) throw new UsageError('give --at x,y or --box x0,y0,x1,y1, not both');
    if (a.region) throw new UsageError(`--at explains the one cell at a pixel; drop --region ${a.region}`);
    const [x, y] = parseNumbers(a.at, 2, '--at') as [number, number];
    return { kind: 'at', x, y };
  }
  if (a.box && a.region === 'pixel') throw new UsageError('--box needs --region box');
  if (a.region === 'pixel') {
    const r: RegionSpec = { kind: 'pixel' };
    if (a.threshold !== undefined) r.threshold = a.threshold;
    return r;
  }
  const r: RegionSpec = { kind: 'box' };
  if (a.box) r.box = parseNumbers(a.box, 4, '--box') as EdgeBox;
  if (a.threshold !== undefined) r.threshold = a.threshold;
  return r;
}

export const explainCommand: CommandModule<GlobalArgs, ExplainArgs> = {
  command: 'explain [image]',
  describe: 'show the training patches with the largest representer values for a test image (HTML + JSON)',
  builder: (y: Argv<GlobalArgs>) =>
    withShared(y, { threshold: `τ for the predicted box / foreground cells (default: the predictor's stored τ, else ${DEFAULT_THRESHOLD})`, predictor: { demandOption: true }, backbone: "backbone for the test (and training) images (default: the predictor's)", downscale: true, 'batch-size': 'training images per forward pass (exact mode)' })
      .positional('image', { type: 'string', describe: 'the test image' })
      .option('out', { type: 'string', demandOption: true, describe: 'output directory (index.html, explain.json, PNGs)' })
      .option('top', { type: 'number', default: 8, describe: 'training patches per side' })
      .option('region', { choices: ['pixel', 'box'] as const, describe: 'box (default): cells inside --box, else inside the box `uol localize` predicts at τ; pixel: the foreground cells (map above τ)' })
      .option('box', { type: 'string', describe: 'x0,y0,x1,y1 in test-image pixels' })
      .option('at', { type: 'string', describe: 'x,y: explain the single cell at this test-image pixel' })
      .option('class', { type: 'string', describe: "class-wise predictors: explain this class's w (index or name) with its α; needs the labelled training set (exact mode)" })
      .option('size', { type: 'number', describe: 'input side S: the test image is resized whole to S×S (default: the fit\'s input frame, else the backbone\'s)' })
      .option('features', { type: 'string', describe: "instead of a backbone: the test image's feature map, .npy float32 [h,w,C] (computed on the whole image, no crop)" })
      .options(sharedDecls({ 'train-images': { array: true, describe: 'exact mode: the training images of the fit (files, folders or globs, as `uol fit --images`); with --train-features or --features: a directory of <stem>.<ext> or a CSV "stem,file" giving the crops\' image files' } }))
      .option('train-dataset', { type: 'string', choices: DATASET_NAMES as string[], describe: 'exact mode: the training dataset of the fit (with --train-data-dir)' })
      .option('train-data-dir', { type: 'string', describe: 'folder of --train-dataset' })
      .option('train-split', { type: 'string', describe: 'split of --train-dataset (default: train, as `uol fit`)' })
      .option('train-metadata', { type: 'string', describe: 'wsol: metadata folder of --train-dataset' })
      .option('train-features', { type: 'string', describe: 'exact mode: a directory of the training images\' feature maps <stem>.npy (e.g. from `uol extract`)' })
      .option('train-labels', { type: 'string', describe: 'with --train-features and --class: class per stem, CSV lines stem,classIndex (as `uol fit --labels`)' })
      .options(sharedDecls({ 'feature-cache': 'exact mode with --train-images/--train-dataset: read training features from / write them to this directory' }))
      .option('context', { type: 'number', default: 1, describe: 'cells of context around each training patch crop' }) as Argv<ExplainArgs>,
  handler: async (a) => {
    const { readNpy } = await import('../../io/npy.js');
    const { readImageRGB } = await import('../../data/image-io.js');
    const { readImageMap } = await import('../../data/image-map.js');
    const { readLabelsCsv } = await import('../../io/features-dir.js');
    const { checkInputSize } = await import('../../data/input-contract.js');
    const { assertCompatible } = await import('../../rps/predictor.js');
    const { loadPredictor } = await import('../../rps/node/predictor-file.js');
    const { featureDirSource } = await import('../../rps/node/sources.js');
    const { explain, fitInputSize } = await import('../../rps/explain.js');
    const { explainImage } = await import('../../rps/node/explain-image.js');
    const { writeExplanation } = await import('../../report/explain-html.js');
    const { resolveInput } = await import('../../pipeline/input.js');
    const { imageTrainingSource } = await import('../../pipeline/feature-cache.js');
    const { loadBackboneFor } = await import('../../backbones/node/registry.js');
    if (!a.image) throw new UsageError('uol explain: give the test IMAGE');
    if (!Number.isInteger(a.top) || a.top < 1) throw new UsageError(`--top ${a.top}: expected an integer ≥ 1`);
    if (!Number.isInteger(a.context) || a.context < 0) throw new UsageError(`--context ${a.context}: expected an integer ≥ 0`);
    if (!Number.isInteger(a['batch-size']) || a['batch-size'] < 1) throw new UsageError(`--batch-size ${a['batch-size']}: expected an integer ≥ 1`);
    if (a.threshold !== undefined) checkThreshold(a.threshold, '--threshold');
    const trainImages = a['train-images'] ?? [];
    const scanImages = !a['train-features'] && !a.features && trainImages.length > 0;
    if (a['train-dataset'] && !a['train-data-dir']) throw new UsageError(`--train-dataset ${a['train-dataset']} needs --train-data-dir DIR`);
    if (a['train-data-dir'] && !a['train-dataset']) throw new UsageError('--train-data-dir needs --train-dataset D');
    if (a['train-labels'] && !a['train-features']) throw new UsageError('--train-labels labels the stems of --train-features; give --train-features DIR');
    if (a['train-dataset'] && (trainImages.length || a['train-features'])) throw new UsageError('give one training set: --train-dataset, --train-images or --train-features');
    if (a['train-dataset'] && a.features) throw new UsageError('--train-dataset extracts training features with a backbone; with --features give --train-features DIR');
    if (a['feature-cache'] && !scanImages && !a['train-dataset']) throw new UsageError('--feature-cache needs the training images (--train-images or --train-dataset)');
    if (a.features && (a.backbone || a.size !== undefined || a.downscale)) throw new UsageError('--features gives the test features: drop --backbone/--size/--downscale');
    if (trainImages.length > 1 && !scanImages) throw new UsageError(`--train-images: give one directory or CSV of images for the crops, got ${trainImages.length} paths`);
    let st;
    try {
      st = statSync(a.out);
    } catch {
      st = undefined;
    }
    if (st && !st.isDirectory()) throw new UsageError(`--out ${a.out}: exists and is not a directory`);
    claimOutDir(path.resolve(a.out), 'explain', argsFingerprint(a as unknown as Record<string, unknown>), ['explain.json', 'index.html']);
    const region = regionFrom(a);
    const predictor = loadPredictor(a.predictor);
    const classIndex = a.class !== undefined ? parseClass(predictor, a.predictor, a.class) : undefined;
    const external = predictor.backbone.arch === 'external';
    if (!a.features && external && !a.backbone) {
      throw new UsageError(`${a.predictor}: fitted on external features (backbone "${predictor.backbone.id}"): give the test's --features TEST.npy, or --backbone B if they came from B`);
    }
    const cropImages = !scanImages && trainImages.length === 1 ? readImageMap(trainImages[0]!) : undefined;
    let npy: Awaited<ReturnType<typeof readNpy>> | undefined;
    if (a.features) {
      npy = await readNpy(a.features);
      if (npy.dtype !== 'float32' || npy.shape.length !== 3) {
        throw new UsageError(`${a.features}: test features must be float32 [h,w,C], got ${npy.dtype} [${npy.shape.join(',')}]`);
      }
    }
    await startEngine(a);
    const prog = progressFor(a);
    let backbone: FeatureExtractor | undefined;
    try {
      const eo: Omit<ExplainOptions, 'test'> = { predictor, predictorFile: a.predictor, region, top: a.top, onProgress: prog.callback };
      if (classIndex !== undefined) eo.classIndex = classIndex;
      if (!a.features) {
        backbone = await loadBackboneFor(predictor.backbone, external ? a.backbone : (a.backbone ?? predictor.backbone.id), a.downscale, prog.callback);
        // Same rule as `uol localize`: the predictor's own backbone (external features: any backbone with its C).
        if (!external) assertCompatible(predictor, backbone.identity, a.predictor);
      }
      const contract = backbone?.identity.input;
      if (backbone && a.size !== undefined) checkInputSize(a.size, contract!);
      // The training frame: the fit's (recorded with its representer points), else the test's.
      const fitFrame = fitInputSize(predictor, a.predictor);
      const testSize: [number, number] | undefined = a.size !== undefined ? [a.size, a.size] : fitFrame;
      let training: TrainingSource | undefined;
      let cacheStats: { hits: number; extracted: number } | undefined;
      if (a['train-features']) {
        const fo: Parameters<typeof featureDirSource>[1] = cropImages ? { images: cropImages } : {};
        if (a['train-labels']) fo.labels = readLabelsCsv(a['train-labels']);
        training = featureDirSource(a['train-features'], fo);
      } else if (backbone && (scanImages || a['train-dataset'])) {
        const spec: Parameters<typeof resolveInput>[0] = {};
        if (scanImages) spec.images = trainImages;
        else {
          spec.dataset = a['train-dataset']!;
          spec.dataDir = a['train-data-dir']!;
          if (a['train-split']) spec.split = a['train-split'];
          if (a['train-metadata']) spec.metadata = a['train-metadata'];
        }
        const input = await resolveInput(spec, ['train', 'all']);
        const S = fitFrame?.[0] ?? testSize?.[0] ?? contract!.defaultSize;
        if (fitFrame && fitFrame[0] !== fitFrame[1]) throw new UsageError(`${a.predictor}: fit input frame ${fitFrame.join('×')} is not square`);
        const src = imageTrainingSource({ backbone, records: input.records, size: S, batchSize: a['batch-size'], ...(a['feature-cache'] ? { cacheDir: a['feature-cache'] } : {}), ...(predictor?.created.input ? { input: predictor.created.input } : {}), onProgress: prog.callback });
        training = src;
        cacheStats = src.stats;
      }
      if (training) eo.training = training;
      let r: ExplainResult;
      let image: RGBImage;
      if (backbone) {
        const io: Parameters<typeof explainImage>[2] = { ...eo, id: path.basename(a.image).replace(/\.[^.]+$/, '') };
        if (testSize) io.size = testSize;
        ({ result: r, image } = await explainImage(backbone, a.image, io));
      } else {
        image = await readImageRGB(a.image);
        r = await explain({
          ...eo,
          test: { id: path.basename(a.image).replace(/\.[^.]+$/, ''), features: { shape: npy!.shape as [number, number, number], data: npy!.data as Float32Array }, imageSize: [image.height, image.width] },
        });
      }
      const files = await writeExplanation(a.out, r, {
        testImage: image,
        testFile: path.resolve(a.image),
        predictor,
        predictorFile: a.predictor,
        imageFor: (id) => cropImages?.get(id),
        context: a.context,
      });
      const best = r.excitatory[0];
      const pointJson = (side: 'excitatory' | 'inhibitory') =>
        files.points
          .filter((p) => p.side === side)
          .map((p) => ({ rank: p.rank, id: p.id, imageFile: p.imageFile ?? null, row: p.row, col: p.col, alpha: p.alpha, similarity: p.similarity, representerValue: p.representerValue, cellBox: p.cellBox ?? null, crop: p.crop ?? null, cellCrop: p.cellCrop ?? null, cropMissing: p.cropMissing ?? null }));
      emit(
        a,
        {
          out: a.out,
          html: files.html,
          json: files.json,
          mode: r.mode,
          backbone: backbone?.identity.id ?? null,
          weights: r.weights,
          test: r.test,
          region: { kind: r.region.kind, threshold: r.region.threshold ?? null, box: r.region.box ?? null, predicted: !!r.region.predicted, cells: r.region.cells, bounds: r.region.bounds },
          regionScore: r.regionScore,
          representerSum: r.representerSum,
          decompositionError: r.decompositionError ?? null,
          pointsConsidered: r.pointsConsidered,
          featureCache: cacheStats && a['feature-cache'] ? { dir: a['feature-cache'], ...cacheStats } : null,
          excitatory: pointJson('excitatory'),
          inhibitory: pointJson('inhibitory'),
        },
        [
          `wrote ${files.html} (${r.mode} mode${r.weights.kind === 'class' ? `, class ${r.weights.index}` : ''}, region of ${r.region.cells} cells, score ${r.regionScore.toFixed(5)})`,
          best ? `top representer point: ${best.id} cell (${best.row}, ${best.col}), α=${best.alpha.toPrecision(4)}, similarity ${best.similarity.toFixed(4)}, value ${best.representerValue.toPrecision(4)}` : 'no excitatory point',
          ...(r.decompositionError !== undefined ? [`Σ representer values ${r.representerSum.toFixed(6)} vs region score ${r.regionScore.toFixed(6)} (error ${r.decompositionError.toExponential(2)})`] : [r.note]),
          ...(cacheStats && a['feature-cache'] ? [`feature cache ${a['feature-cache']}: ${cacheStats.hits} read, ${cacheStats.extracted} extracted`] : []),
        ],
      );
    } finally {
      backbone?.dispose();
      prog.stop();
    }
  },
};
