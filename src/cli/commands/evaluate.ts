/**
 * `uol evaluate --scoremaps DIR --metadata DIR [--mask-root DIR] [--thresholds a:b:step] [--json]`: the wsolevaluation
 * protocol on saved score maps. Maps are `<scoremaps>/<image_id>.npy` (the id exactly as listed, `.npy` appended),
 * float32/float64 `[H, W]` in [0, 1] at the size the ground truth is expressed in: the original image size from
 * image_sizes.txt, or N×N with `--resize N` (wsolevaluation resizes the GT boxes and masks to 224×224).
 * Box metadata → MaxBoxAcc, MaxBoxAccV2 (+ the release's variant), Top-1/Top-5 Loc with `--predictions`;
 * mask metadata (OpenImages) → PxAP and PIoU.
 */
import type { Argv, CommandModule, Options } from 'yargs';
import * as path from 'node:path';
import type { BoxMetrics, BoxThresholdChoice } from '../../evaluate/box-metrics.js';
import type { MaskMetrics } from '../../evaluate/mask-metrics.js';
import type { WsolMetadata } from '../../evaluate/node/wsol-metadata.js';
import { npArange, parseThresholds, type GrayPrecision, type ScoreMap } from '../../localize/gray.js';
import type { BoxEngine } from '../../localize/boxes.js';
import type { CornerBox } from '../../util/box.js';
import { inFile, UsageError } from '../../util/errors.js';
import { writeFileAtomicSync } from '../../util/fs.js';
import { sharedDecls, withShared } from './shared-options.js';
import { emit, progressFor, startEngine, type GlobalArgs } from '../context.js';
import type { EvaluatePredictorArgs } from './evaluate-predictor.js';
import { predictedRank, readPredictions } from '../../classify/ranks.js';
import { classifierOptions } from './classifier-args.js';
import { readJsonBounded } from '../../util/safe-read.js';
import { protocolOptions } from './protocol-args.js';

/**
 * Options of the predictor mode of `uol evaluate` (beside the shared, protocol and classifier ones), declared once:
 * the builder adds them and {@link EvaluatePredictorArgs} takes its types from them.
 */
export const PREDICTOR_MODE_OPTIONS = {
  'val-split': { type: 'string', describe: "split that picks τ (default the protocol's: val for CUB/ImageNet when present; oracle otherwise under release)" },
  oracle: { type: 'boolean', default: false, describe: "pick τ on the test split even when a val split exists (the release's protocol for Cars/Aircraft/Dogs)" },
  out: { type: 'string', describe: 'run directory for results.json/.md, report.html, manifest.json' },
  'store-threshold': { type: 'boolean', default: true, describe: 'store the chosen τ in the predictor for `uol localize` (--no-store-threshold to keep it unchanged)' },
  examples: { type: 'number', default: 8, describe: 'best and worst images shown with overlays in the report' },
  limit: { type: 'number', describe: 'only the first N images of each split (quick looks)' },
  'whole-size': { type: 'number', describe: 'resize whole images to S×S instead of the dataset\'s Resize→CenterCrop (as `uol localize IMAGES` does)' },
  'export-scoremaps': { type: 'string', describe: 'also write the test maps and matching wsolevaluation metadata here (for `uol evaluate --scoremaps`)' },
  thresholds: { type: 'string', describe: 'τ grid start:stop:step (np.arange) or a comma list; default 0.01:1:0.01 for boxes, 0:1:0.01 for masks' },
} as const satisfies Record<string, Options>;

interface EvaluateArgs extends GlobalArgs, EvaluatePredictorArgs {
  scoremaps?: string;
  metadata?: string;
  'iou-thresholds': string;
  resize?: number;
  predictions?: string;
  'thresholds-from'?: string;
  gray: GrayPrecision;
  engine: BoxEngine;
  'per-image'?: string;
}

/** Parses `--iou-thresholds 30,50,70`. */
function parseDeltas(s: string): number[] {
  const v = s.split(',').map((x) => Number(x.trim()));
  if (!v.length || v.some((d) => !Number.isInteger(d) || d < 1 || d > 100)) {
    throw new UsageError(`--iou-thresholds "${s}": expected comma-separated integer percentages in 1…100, e.g. 30,50,70`);
  }
  return v;
}

/**
 * Reads `--predictions FILE` (src/classify/ranks.ts: `image_id,score_0,…` class scores, or `image_id,top1,…,top5`
 * top-k classes, or headerless top-k rows) and returns the 1-based rank of each image's true class (release tie rule).
 */
function readRanks(file: string, meta: WsolMetadata): Map<string, number> {
  if (!meta.classLabels) throw new UsageError(`--predictions needs ${path.join(meta.dir, 'class_labels.txt')}`);
  const p = readPredictions(file);
  const ranks = new Map<string, number>();
  for (const [id, e] of p.byId) {
    const truth = meta.classLabels.get(id);
    if (truth === undefined) throw new UsageError(`${file}:${e.line}: image id "${id}" has no class label in ${path.join(meta.dir, 'class_labels.txt')}`);
    ranks.set(id, predictedRank(p, id, truth));
  }
  return ranks;
}

/** Reads a 2-D score map and checks its size. */
async function readMap(file: string, want: [number, number] | undefined, why: string): Promise<{ map: ScoreMap; h: number; w: number }> {
  const { readNpy } = await import('../../io/npy.js');
  const a = await readNpy(file);
  if (a.dtype === 'uint8') throw new UsageError(`${file}: score maps must be float32 or float64 in [0, 1], not uint8`);
  if (a.shape.length !== 2) throw new UsageError(`${file}: score map has shape [${a.shape.join(', ')}], expected [H, W]`);
  const [h, w] = a.shape as [number, number];
  if (want && (h !== want[0] || w !== want[1])) {
    throw new UsageError(`${file}: score map is ${h}×${w} (H×W), expected ${want[0]}×${want[1]} (${why})`);
  }
  return { map: a.data as ScoreMap, h, w };
}

function fmt(v: number | undefined): string {
  return v === undefined ? '—' : v.toFixed(2);
}

/** `uol evaluate`: WSOL metrics of saved score maps against wsolevaluation metadata. */
export const evaluateCommand: CommandModule<GlobalArgs, EvaluateArgs> = {
  command: 'evaluate',
  describe: 'WSOL metrics (MaxBoxAcc, MaxBoxAccV2, PxAP, …) of saved score maps against wsolevaluation metadata',
  builder: (y: Argv<GlobalArgs>) =>
    protocolOptions(
      classifierOptions(
        withShared(y, {
          metadata: 'wsolevaluation metadata directory (image_ids.txt, localization.txt, …): with --scoremaps, or for --dataset wsol',
          predictor: 'full-protocol mode: predictor file from `uol fit` (the chosen τ is stored back into it)',
          caam: 'full-protocol mode: evaluate the CAAM baseline (no predictor)',
          backbone: true,
          dataset: 'full-protocol mode: dataset format',
          'data-dir': "folder holding the format's top files (the image root for wsol)",
          split: "split evaluated (default the protocol's: test; the release's Aircraft: val)",
          'batch-size': true,
          'skip-bad': 'skip unreadable images (listed in the report) instead of stopping',
          'map-cache': 'keep every map here as it is computed and reuse those found: a killed run resumes, another τ grid costs no backbone pass',
          'mask-root': 'directory the mask paths of localization.txt are relative to (mask metadata)',
        }),
      ),
      { downscaleDefault: "the predictor's; for --caam the protocol's", evalSizes: true },
    )
      .options(PREDICTOR_MODE_OPTIONS)
      .option('scoremaps', { type: 'string', describe: 'saved maps mode: directory of <image_id>.npy score maps, float [H,W] in [0,1]' })
      .option('iou-thresholds', { type: 'string', default: '30,50,70', describe: 'IoU thresholds δ in percent' })
      .option('resize', { type: 'number', describe: 'maps are N×N: resize GT boxes (resize_bbox) and masks (nearest) from image_sizes.txt, as wsolevaluation (224)' })
      .options(sharedDecls({ predictions: 'Top-1/Top-5 Loc from a CSV: "image_id,score_0,…,score_{K-1}" class scores, or "image_id,top1,…,top5" classes (docs/classifiers.md)' }))
      .option('thresholds-from', { type: 'string', describe: 'JSON of a previous `uol evaluate --json` (e.g. on val): read metrics at its chosen τ' })
      .option('gray', { choices: ['auto', 'float32', 'float64'] as const, default: 'auto' as GrayPrecision, describe: 'precision of 255·map (auto: the .npy dtype, as numpy)' })
      .option('engine', { choices: ['sweep', 'trace'] as const, default: 'sweep' as BoxEngine, describe: 'one-pass threshold sweep, or OpenCV border following per τ (same results)' })
      .option('per-image', { type: 'string', describe: 'write per-image results (box, IoU at the chosen τ) as JSON to this file' }) as Argv<EvaluateArgs>,
  handler: async (a) => {
    const { BoxEvaluator } = await import('../../evaluate/box-metrics.js');
    const { MaskEvaluator } = await import('../../evaluate/mask-metrics.js');
    const { loadGtMask } = await import('../../evaluate/node/gt-masks.js');
    const { readWsolMetadata, resizeBox } = await import('../../evaluate/node/wsol-metadata.js');
    const { runEvaluatePredictor } = await import('./evaluate-predictor.js');
    if (a.predictor || a.caam || a.dataset) {
      if (a.scoremaps) throw new UsageError('give either --scoremaps (saved maps) or --predictor/--caam with --dataset (full protocol), not both');
      const engine = await startEngine(a);
      const prog = progressFor(a);
      try {
        const r = await runEvaluatePredictor(a, engine, prog.callback);
        prog.stop();
        emit(a, r.json, r.text);
      } finally {
        prog.stop();
      }
      return;
    }
    if (a['cls-network']) throw new UsageError('--cls-network runs on images: use it with --predictor/--caam --dataset (saved maps take --predictions CSV)');
    if (!a.scoremaps || !a.metadata) throw new UsageError('uol evaluate: give --scoremaps DIR --metadata DIR, or --predictor FILE --dataset D --data-dir DIR');
    const scoremaps = a.scoremaps;
    const metadataDir = a.metadata;
    const meta = readWsolMetadata(metadataDir);
    const idsFile = path.join(metadataDir, 'image_ids.txt');
    const locFile = path.join(metadataDir, 'localization.txt');
    if (!meta.boxes && !meta.masks) throw new UsageError(`${locFile}: not found or empty (no ground truth to evaluate against)`);
    if (a.resize !== undefined && !(Number.isInteger(a.resize) && a.resize > 0)) throw new UsageError(`--resize ${a.resize}: expected a positive integer`);
    const deltas = parseDeltas(a['iou-thresholds']);
    const prog = progressFor(a);
    const total = meta.imageIds.length;
    const mapFile = (id: string): string => path.join(scoremaps, `${id}.npy`);
    try {
      if (meta.boxes) {
        const taus = a.thresholds ? parseThresholds(a.thresholds) : npArange(0.01, 1, 0.01);
        let chosen: BoxThresholdChoice | undefined;
        if (a['thresholds-from']) chosen = readChosen(a['thresholds-from']);
        const ranks = a.predictions ? readRanks(a.predictions, meta) : undefined;
        const ev = new BoxEvaluator({ thresholds: taus, iouThresholds: deltas, engine: a.engine, precision: a.gray, keepPerImage: true });
        for (let k = 0; k < total; k++) {
          const id = meta.imageIds[k]!;
          const gt = meta.boxes.get(id);
          if (!gt) throw new UsageError(`${locFile}: no box for image "${id}" (listed in ${idsFile})`);
          const size = meta.imageSizes?.get(id);
          if (!size) throw new UsageError(`${path.join(metadataDir, 'image_sizes.txt')}: no size for image "${id}" (needed to check the map size${a.resize ? ' and resize the boxes' : ''})`);
          const want: [number, number] = a.resize ? [a.resize, a.resize] : [size.height, size.width];
          const why = a.resize ? `--resize ${a.resize}` : `image size ${size.width}×${size.height} in image_sizes.txt`;
          const file = mapFile(id);
          const { map, h, w } = await readMap(file, want, why);
          const boxes: CornerBox[] = a.resize ? gt.map((b) => resizeBox(b, size.width, size.height, a.resize!, a.resize!)) : gt;
          let rank: number | undefined;
          if (ranks) {
            rank = ranks.get(id);
            if (rank === undefined) throw new UsageError(`${a.predictions}: no prediction for image "${id}"`);
          }
          try {
            ev.accumulate({ map, height: h, width: w, gtBoxes: boxes, id, ...(rank !== undefined ? { classRank: rank } : {}) });
          } catch (e) {
            throw inFile(file, e);
          }
          prog.callback({ stage: 'evaluate', done: k + 1, total, unit: 'img' });
        }
        const r = ev.compute(chosen ? { chosen } : {});
        if (a['per-image']) writeFileAtomicSync(a['per-image'], JSON.stringify(r.perImage, null, 1) + '\n');
        emit(a, boxJson(r, a), boxText(r, meta, a));
      } else {
        if (!a['mask-root']) throw new UsageError(`${locFile} lists masks: give --mask-root DIR (the directory its mask paths are relative to)`);
        const ev = new MaskEvaluator({ thresholds: a.thresholds ? parseThresholds(a.thresholds) : npArange(0, 1, 0.01) });
        for (let k = 0; k < total; k++) {
          const id = meta.imageIds[k]!;
          const entry = meta.masks!.get(id);
          if (!entry) throw new UsageError(`${locFile}: no mask for image "${id}" (listed in ${idsFile})`);
          const size = meta.imageSizes?.get(id);
          const want: [number, number] | undefined = a.resize ? [a.resize, a.resize] : size ? [size.height, size.width] : undefined;
          const file = mapFile(id);
          const { map, h, w } = await readMap(file, want, a.resize ? `--resize ${a.resize}` : 'image size in image_sizes.txt');
          const mask = await loadGtMask(a['mask-root'], entry.maskPaths, entry.ignorePath, w, h);
          try {
            ev.accumulate({ map, height: h, width: w, mask, id });
          } catch (e) {
            throw inFile(file, e);
          }
          prog.callback({ stage: 'evaluate', done: k + 1, total, unit: 'img' });
        }
        const r = ev.compute();
        emit(a, maskJson(r), maskText(r, meta));
      }
    } finally {
      prog.stop();
    }
  },
};

/** Reads the `chosen` thresholds of a previous `uol evaluate --json` output. */
function readChosen(file: string): BoxThresholdChoice {
  const j = readJsonBounded(file, 'evaluate output');
  const c = (j as { chosen?: BoxThresholdChoice }).chosen;
  if (!c || typeof c.maxBoxAcc !== 'number' || typeof c.release !== 'number' || typeof c.maxBoxAccV2 !== 'object') {
    throw new UsageError(`${file}: no "chosen" thresholds (expected the --json output of uol evaluate on box metadata)`);
  }
  return c;
}

function boxJson(r: BoxMetrics, a: EvaluateArgs): Record<string, unknown> {
  const out: Record<string, unknown> = {
    images: r.images,
    MaxBoxAcc: r.MaxBoxAcc,
    MaxBoxAccV2: r.MaxBoxAccV2,
    MaxBoxAccV2_release: r.MaxBoxAccV2_release,
  };
  for (const d of r.iouThresholds) out[`IoU${d}`] = r.IoU[String(d)];
  out.bestThreshold = r.bestThreshold;
  if (r.top1Loc !== undefined) {
    out.top1Loc = r.top1Loc;
    out.top5Loc = r.top5Loc;
  }
  out.release = r.release;
  if (r.releaseProgress) out.releaseProgress = r.releaseProgress;
  out.chosen = r.chosen;
  out.thresholds = a.thresholds ?? '0.01:1:0.01';
  out.iouThresholds = r.iouThresholds;
  out.curves = { thresholds: r.thresholds, ...r.curves };
  return out;
}

function boxText(r: BoxMetrics, meta: WsolMetadata, a: EvaluateArgs): string[] {
  const t = (v: number): string => String(Number(v.toFixed(6)));
  const lines = [
    `uol evaluate: ${r.images} images (${meta.dir}), ${r.thresholds.length} thresholds (${a.thresholds ?? '0.01:1:0.01'}), IoU ${r.iouThresholds.join('/')}`,
    '',
    'metric                         value   τ',
    `MaxBoxAcc (GT-known Loc)       ${fmt(r.MaxBoxAcc).padStart(6)}   ${t(r.chosen.maxBoxAcc)}`,
    `MaxBoxAccV2 (wsolevaluation)   ${fmt(r.MaxBoxAccV2).padStart(6)}   per δ`,
  ];
  for (const d of r.iouThresholds) lines.push(`  IoU ≥ ${d / 100}`.padEnd(31) + `${fmt(r.IoU[String(d)]).padStart(6)}   ${t(r.chosen.maxBoxAccV2[String(d)]!)}`);
  lines.push(`MaxBoxAccV2 (authors' release) ${fmt(r.MaxBoxAccV2_release).padStart(6)}   ${t(r.bestThreshold)} (bestThreshold)`);
  if (r.top1Loc !== undefined) {
    lines.push(`Top-1 Loc                      ${fmt(r.top1Loc).padStart(6)}   ${t(r.chosen.maxBoxAcc)}`);
    lines.push(`Top-5 Loc                      ${fmt(r.top5Loc).padStart(6)}   ${t(r.chosen.maxBoxAcc)}`);
    const how = a['thresholds-from'] ? `at ${t(r.chosen.release)}` : 'max over τ';
    lines.push(`Top-1 Loc (authors' release)   ${fmt(r.release.top1Loc).padStart(6)}   ${how} (progress line: ${fmt(r.releaseProgress?.top1Loc)} at ${t(r.releaseProgress?.threshold ?? NaN)})`);
    lines.push(`Top-5 Loc (authors' release)   ${fmt(r.release.top5Loc).padStart(6)}   ${how} (progress line: ${fmt(r.releaseProgress?.top5Loc)})`);
  }
  return lines;
}

function maskJson(r: MaskMetrics): Record<string, unknown> {
  return { images: r.images, PxAP: r.PxAP, PIoU: r.PIoU, PIoUThreshold: r.PIoUThreshold, positives: r.positives, negatives: r.negatives, curves: r.curves };
}

function maskText(r: MaskMetrics, meta: WsolMetadata): string[] {
  return [
    `uol evaluate: ${r.images} images (${meta.dir}), ${r.positives} foreground / ${r.negatives} background pixels (ignore excluded)`,
    '',
    `PxAP   ${fmt(r.PxAP).padStart(6)}`,
    `PIoU   ${fmt(r.PIoU).padStart(6)}   at score ≥ ${r.PIoUThreshold}`,
  ];
}
