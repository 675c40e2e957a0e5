/**
 * Runs one release experiment with uol under the release protocol: convert the network's checkpoint, fit w* on the
 * (base) dataset's training split the way validation.py does, evaluate the way main.py does (τ on val → test for
 * CUB/ImageNet; oracle on test, or on val for Aircraft), and write the release's own result files
 * (`resultval.json` / `resulttest.json`, same keys) beside uol's reports (results.json/.md, report.html), the w*
 * (`param.npy`, [K,C] float32 as the release's parameter cache), the training ids that entered it (`train_ids.txt`)
 * and `experiment.json` (the main.py command).
 */
import * as path from 'node:path';
import { mkdirSync } from 'node:fs';
import { UsageError } from '../util/errors.js';
import { writeFileAtomicSync } from '../util/fs.js';
import type { ProgressCallback } from '../util/progress.js';
import { loadBackbone } from '../backbones/node/registry.js';
import { openDataset } from '../data/datasets/index.js';
import type { Dataset, DatasetOptions } from '../data/datasets/types.js';
import { describeRunProtocol, protocolRecord, RELEASE_DATASETS, resolveProtocol, type ReleaseDataset, type RunProtocol } from '../data/protocol.js';
import { selectFitRecords } from '../data/fit-selection.js';
import { evalProtocol } from '../data/transforms.js';
import { writeNpySync } from '../io/npy.js';
import { type Predictor } from '../rps/predictor.js';
import { savePredictor } from '../rps/node/predictor-file.js';
import { fitOnRecords } from '../pipeline/fit-run.js';
import { hashListing } from '../report/manifest.js';
import type { EvaluateResult } from '../pipeline/evaluate.js';
import { runEvaluation } from '../cli/commands/evaluate-predictor.js';
import type { ReleaseEvalDataset, ReleaseExperiment } from './experiments.js';
import { resolveReleaseBackbone } from './weights.js';

/** Where the release's data lives (main.py `--data_dir` and its metadata). */
export interface ReleaseDataLayout {
  /** main.py's `--data_dir`: CUB/, ILSVRC/, OpenImages/, stanfordCar/, AIRCRAFT/, stanfordDogs/ inside. */
  dataDir: string;
  /** wsolevaluation metadata root with CUB/, ILSVRC/, OpenImages/ (the release's `datasets/metadata`); default `<dataDir>/metadata`. */
  metadataDir?: string;
  /** Folder of the CIFAR binary versions (cifar-10-batches-bin/, cifar-100-binary/); default `dataDir`. */
  cifarDir?: string;
}

/** The uol dataset (format and options) holding a release dataset in the release's layout. */
export function releaseLayout(d: ReleaseDataset | ReleaseEvalDataset, l: ReleaseDataLayout): { format: string; options: DatasetOptions } {
  const meta = l.metadataDir ?? path.join(l.dataDir, 'metadata');
  const cifar = l.cifarDir ?? l.dataDir;
  switch (d) {
    case 'CUB':
      return { format: 'wsol', options: { dataDir: path.join(l.dataDir, 'CUB'), metadata: path.join(meta, 'CUB') } };
    case 'IMAGENET':
      return { format: 'wsol', options: { dataDir: path.join(l.dataDir, 'ILSVRC'), metadata: path.join(meta, 'ILSVRC') } };
    case 'OPENIMAGES':
      return { format: 'wsol', options: { dataDir: path.join(l.dataDir, 'OpenImages'), metadata: path.join(meta, 'OpenImages'), maskRoot: path.join(l.dataDir, 'OpenImages') } };
    case 'CUBSEG':
      return { format: 'cub', options: { dataDir: path.join(l.dataDir, 'CUB_200_2011') } };
    case 'CARS':
      return { format: 'cars', options: { dataDir: path.join(l.dataDir, 'stanfordCar') } };
    case 'AIRCRAFT':
      return { format: 'aircraft', options: { dataDir: path.join(l.dataDir, 'AIRCRAFT') } };
    case 'DOGS':
      return { format: 'dogs', options: { dataDir: path.join(l.dataDir, 'stanfordDogs') } };
    case 'CIFAR10':
      return { format: 'cifar10', options: { dataDir: cifar } };
    case 'CIFAR100':
      return { format: 'cifar100', options: { dataDir: cifar } };
    case 'CIFAR100C':
      return { format: 'cifar100c', options: { dataDir: cifar } };
  }
}

/** Options of {@link runReleaseExperiment}. */
export interface RunReleaseExperimentOptions extends ReleaseDataLayout {
  experiment: ReleaseExperiment;
  /** Folder with the checkpoint files main.py loads. */
  weightsDir: string;
  /** Output folder. */
  outDir: string;
  /** Converted models cache (default `<outDir>/models`). */
  modelsDir?: string;
  /** Override main.py's `--image_size` / `--crop_size` of the experiment. */
  imageSize?: number;
  cropSize?: number;
  /** Fit on exactly these training ids in this order (the release's DataLoader order). */
  trainList?: string;
  /** main.py's `--batch_size` (default 64): the class-wise quota loop stops at its batch boundaries. */
  releaseBatchSize?: number;
  /** Seed of the training order/subset when no `trainList` is given. */
  seed?: number;
  /** uol's batch size (default 1). */
  batchSize?: number;
  /** Keep every map (`<dir>/<split>/<encodeURIComponent(id)>.npy`, float32 [crop,crop]) as `uol evaluate --map-cache`. */
  mapCacheDir?: string;
  onProgress?: ProgressCallback;
}

/** What {@link runReleaseExperiment} produced. */
export interface ReleaseExperimentResult {
  protocol: RunProtocol;
  evaluation: EvaluateResult;
  /** Files written (release results, param.npy, predictor, experiment.json). */
  files: string[];
  /** Training images that entered w* (0 for CAAM). */
  fitImages: number;
}

async function open(d: ReleaseDataset | ReleaseEvalDataset, l: ReleaseDataLayout): Promise<Dataset> {
  const { format, options } = releaseLayout(d, l);
  return openDataset(format, options);
}

/** w* as the release caches it: [K, C] float32, K = 1, or the class count with --classwise (NaN rows: no image). */
function paramArray(p: Predictor, nclass: number): { data: Float32Array; shape: number[] } {
  const C = p.weights.length;
  if (!p.classwise || !p.perClassWeights) return { data: Float32Array.from(p.weights), shape: [1, C] };
  const data = new Float32Array(nclass * C).fill(NaN);
  p.classes.forEach((c, row) => {
    if (c.index >= 0 && c.index < nclass) data.set(p.perClassWeights!.subarray(row * C, (row + 1) * C), c.index * C);
  });
  return { data, shape: [nclass, C] };
}

/**
 * Runs the experiment. Library code: reports progress through the callback and returns what it wrote.
 * @throws UsageError for data or checkpoints missing from the release's layout, or an experiment uol cannot run.
 */
export async function runReleaseExperiment(o: RunReleaseExperimentOptions): Promise<ReleaseExperimentResult> {
  const e = o.experiment;
  if (e.uolMissing) throw new UsageError(`${e.name}: ${e.uolMissing}`);
  mkdirSync(o.outDir, { recursive: true });
  const evalDs = await open(e.dataset, o);
  const ro: Parameters<typeof resolveProtocol>[2] = { downscale: e.resnetDownscale, imageSize: o.imageSize ?? e.imageSize, cropSize: o.cropSize ?? e.cropSize };
  const run = resolveProtocol('release', evalDs, ro);
  const modelDir = await resolveReleaseBackbone({ network: e.network.name, weightsDir: o.weightsDir, modelsDir: o.modelsDir ?? path.join(o.outDir, 'models'), ...(o.onProgress ? { onProgress: o.onProgress } : {}) });
  const backbone = await loadBackbone(modelDir, { downscale: e.resnetDownscale });
  const files: string[] = [];
  try {
    let predictor: Predictor | undefined;
    let fitImages = 0;
    if (!e.caam) {
      const baseName: ReleaseDataset = e.baseDataset ?? (e.dataset === 'CUBSEG' ? 'CUB' : e.dataset);
      const baseDs = e.baseDataset ? await open(e.baseDataset, o) : evalDs;
      const all = await baseDs.records('train');
      const sel: Parameters<typeof selectFitRecords>[1] = { samplingRatio: e.samplingRatio, seed: o.seed ?? 0, classwise: e.classwise, release: true };
      if (o.trainList) sel.trainList = o.trainList;
      if (o.releaseBatchSize) sel.releaseBatchSize = o.releaseBatchSize;
      const nclass = RELEASE_DATASETS[baseName].nclass || baseDs.classNames?.length;
      if (nclass) sel.nclass = nclass;
      const records = selectFitRecords(all, sel);
      fitImages = records.length;
      const fo: Parameters<typeof fitOnRecords>[0] = {
        backbone,
        records,
        size: run.fitSize,
        batchSize: o.batchSize ?? 1,
        classwise: e.classwise,
        sourceDescription: `${baseDs.format}:train ${records.length} of ${all.length} images (${e.name}), Resize((${run.fitSize},${run.fitSize})) bilinear PIL; protocol release`,
        listingHash: hashListing('fit', process.cwd(), records.flatMap((r) => (r.file ? [r.file] : []))).sha256,
        resizer: run.resizer,
        tool: 'uol reproduce',
      };
      if (run.interpolation) fo.interpolation = run.interpolation;
      if (baseDs.classNames) fo.classNames = baseDs.classNames;
      if (o.onProgress) fo.onProgress = (p) => o.onProgress!({ ...p, stage: `fit ${e.network.name}` });
      predictor = (await fitOnRecords(fo)).predictor;
      const pf = path.join(o.outDir, 'predictor.json');
      savePredictor(predictor, pf);
      const pa = paramArray(predictor, nclass ?? 0);
      const npy = path.join(o.outDir, 'param.npy');
      writeNpySync(npy, pa.data, pa.shape);
      const ids = path.join(o.outDir, 'train_ids.txt');
      writeFileAtomicSync(ids, records.map((r) => `${r.id}\n`).join(''));
      files.push(pf, npy, ids);
    }
    const ev: Parameters<typeof runEvaluation>[0] = {
      backbone,
      caam: e.caam,
      dataset: evalDs,
      outDir: o.outDir,
      testSplit: run.testSplit,
      batchSize: o.batchSize ?? 1,
      skipBad: false,
      examples: 4,
      protocol: evalProtocol(run.eval.resize, run.eval.crop),
      run,
      title: `uol reproduce ${e.name}`,
      meta: { experiment: e.name, release: e.mainPy, protocol: describeRunProtocol(run) },
    };
    if (run.valSplit !== undefined) ev.valSplit = run.valSplit;
    if (predictor) ev.predictor = predictor;
    if (o.mapCacheDir) ev.mapCacheDir = o.mapCacheDir;
    if (o.onProgress) ev.onProgress = o.onProgress;
    const evaluation = await runEvaluation(ev);
    for (const f of ['resultval.json', 'resulttest.json']) if (f !== 'resultval.json' || evaluation.protocol === 'val→test') files.push(path.join(o.outDir, f));
    const expFile = path.join(o.outDir, 'experiment.json');
    writeFileAtomicSync(expFile, JSON.stringify({ name: e.name, release: e.mainPy, releaseCrashes: e.releaseCrashes ?? null, protocol: protocolRecord(run), fitImages, network: e.network }, null, 1) + '\n');
    files.push(expFile);
    return { protocol: run, evaluation, files, fitImages };
  } finally {
    backbone.dispose();
  }
}
