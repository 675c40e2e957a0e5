/**
 * `uol evaluate --predictor P --dataset D --data-dir DIR [--caam] --out DIR`: the paper's protocol on a dataset — maps
 * under the dataset's eval transform, τ from val then test at that τ (CUB/ImageNet in wsolevaluation layout), or the
 * release's oracle τ on test (datasets without a val split, labelled as such). Writes results.json, results.md,
 * report.html (metrics, τ curves, best/worst images with overlays) and manifest.json, and stores the chosen τ in the
 * predictor for `uol localize`.
 */
import * as path from 'node:path';
import { existsSync, mkdirSync } from 'node:fs';
import { UsageError } from '../../util/errors.js';
import { writeFileAtomicSync } from '../../util/fs.js';
import { TOOL } from '../../version.js';
import type { EngineInfo } from '../../engine/backend.js';
import { DEFAULT_BACKBONE, findPredictorBackbone, loadBackbone } from '../../backbones/node/registry.js';
import type { FeatureExtractor } from '../../backbones/types.js';
import { openDataset } from '../../data/datasets/index.js';
import type { Dataset, DatasetOptions } from '../../data/datasets/types.js';
import { describeProtocol, wholeProtocol, type Protocol } from '../../data/transforms.js';
import { checkInputSize } from '../../backbones/extract.js';
import type { BoxMetrics } from '../../evaluate/box-metrics.js';
import type { MaskMetrics } from '../../evaluate/mask-metrics.js';
import { parseThresholds } from '../../localize/gray.js';
import { type Predictor } from '../../rps/predictor.js';
import { loadPredictor, savePredictor } from '../../rps/node/predictor-file.js';
import { evaluateDataset, type EvaluateResult, type SplitResult } from '../../pipeline/evaluate.js';
import { pythonJsonDump, releaseBoxResult, releaseMaskResult } from '../../evaluate/release-results.js';
import { parseProtocolName, protocolRecord, resolveProtocol, describeRunProtocol, type RunProtocol } from '../../data/protocol.js';
import { evalProtocol } from '../../data/transforms.js';
import { localizeRecords } from '../../pipeline/localize.js';
import { hashFile, RunRecorder } from '../../report/manifest.js';
import { evaluationReportHtml } from '../../report/run-report.js';
import type { Tile } from '../../report/html.js';
import type { ProgressCallback } from '../../util/progress.js';
import type { ClassRankSource } from '../../classify/run.js';
import { classSourceFromArgs } from './classifier-args.js';

/** Arguments of the predictor mode of `uol evaluate`. */
export interface EvaluatePredictorArgs {
  predictor?: string;
  caam: boolean;
  backbone?: string;
  dataset?: string;
  'data-dir'?: string;
  metadata?: string;
  'mask-root'?: string;
  split?: string;
  'val-split'?: string;
  oracle: boolean;
  out?: string;
  'store-threshold': boolean;
  examples: number;
  limit?: number;
  'batch-size': number;
  'skip-bad': boolean;
  downscale?: 8 | 16 | 32;
  'export-scoremaps'?: string;
  'map-cache'?: string;
  thresholds?: string;
  'whole-size'?: number;
  /** Top-1/Top-5 Loc (src/cli/commands/classifier-args.ts). */
  'cls-network'?: string;
  'cls-weights'?: string[];
  predictions?: string;
  protocol?: string;
  'image-size'?: number;
  'crop-size'?: number;
}

/** Flat metric summary, the keys of `uol evaluate --json` (percentages). */
export function metricSummary(b: BoxMetrics | undefined, m?: MaskMetrics): Record<string, number> {
  const out: Record<string, number> = {};
  if (b) {
    Object.assign(out, { MaxBoxAcc: b.MaxBoxAcc, MaxBoxAccV2: b.MaxBoxAccV2, MaxBoxAccV2_release: b.MaxBoxAccV2_release });
    for (const [d, v] of Object.entries(b.IoU)) out[`IoU${d}`] = v;
    out.bestThreshold = b.bestThreshold;
    if (b.top1Loc !== undefined) out.top1Loc = b.top1Loc;
    if (b.top5Loc !== undefined) out.top5Loc = b.top5Loc;
  }
  if (m) {
    out.PxAP = m.PxAP;
    out.PIoU = m.PIoU;
  }
  return out;
}

/** Markdown table of a result. */
export function resultMarkdown(title: string, r: EvaluateResult): string {
  const splits = [...(r.val ? [r.val] : []), r.test];
  const keys = Object.keys(metricSummary(r.test.boxes, r.test.masks));
  const lines = [`# ${title}`, '', `Protocol: ${r.protocol}; transform ${describeProtocol(r.transform)}; τ = ${r.threshold.value.toFixed(2)} (${r.threshold.source}).`, ''];
  lines.push(`| metric | ${splits.map((s) => `${s.split} (${s.images})`).join(' | ')} |`, `|---|${splits.map(() => '---:').join('|')}|`);
  for (const k of keys) lines.push(`| ${k} | ${splits.map((s) => (metricSummary(s.boxes, s.masks)[k] ?? NaN).toFixed(2)).join(' | ')} |`);
  const rel = splits.map((s) => releaseSummary(s));
  if (rel.every((x) => x)) {
    lines.push('', "The authors' release's metrics (its resultval.json / resulttest.json keys: largest contour, raw box, one shared τ):", '');
    lines.push(`| metric | ${splits.map((s) => `${s.split} (${s.images})`).join(' | ')} |`, `|---|${splits.map(() => '---:').join('|')}|`);
    for (const k of Object.keys(rel[0]!)) lines.push(`| ${k} | ${rel.map((x) => (x![k] ?? NaN).toFixed(2)).join(' | ')} |`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Writes the release's own result files beside results.json: `resultval.json` (the split that picked τ) and
 * `resulttest.json` (the split read at it, or the one split of an oracle run), with validation.py's keys.
 * @returns the files written.
 */
export function writeReleaseResults(outDir: string, r: EvaluateResult): string[] {
  const out: string[] = [];
  const one = (name: string, s: SplitResult): void => {
    const doc = s.boxes ? releaseBoxResult(s.boxes) : s.masks ? releaseMaskResult(s.masks) : undefined;
    if (!doc) return;
    const f = path.join(outDir, name);
    writeFileAtomicSync(f, pythonJsonDump(doc as unknown as Record<string, number>));
    out.push(f);
  };
  if (r.val && r.protocol === 'val→test') one('resultval.json', r.val);
  one('resulttest.json', r.test);
  return out;
}

/** The release's keys for a split (resultval.json / resulttest.json content), for JSON output and tables. */
export function releaseSummary(s: SplitResult | undefined): Record<string, number> | undefined {
  if (!s) return undefined;
  if (s.boxes) return { ...releaseBoxResult(s.boxes) };
  if (s.masks) return { ...releaseMaskResult(s.masks) };
  return undefined;
}

/** Opens a dataset from the common flags. */
export async function datasetFromArgs(a: { dataset?: string; 'data-dir'?: string; metadata?: string; 'mask-root'?: string }): Promise<Dataset> {
  if (!a.dataset || !a['data-dir']) throw new UsageError('give --dataset D --data-dir DIR');
  const o: DatasetOptions = { dataDir: a['data-dir'] };
  if (a.metadata) o.metadata = a.metadata;
  if (a['mask-root']) o.maskRoot = a['mask-root'];
  return openDataset(a.dataset, o);
}

/** Resolves `--protocol` (default: release for the paper's datasets) with `--image-size`, `--crop-size`, … */
export function protocolFromArgs(a: { protocol?: string; 'image-size'?: number; 'crop-size'?: number; downscale?: 8 | 16 | 32; split?: string; 'val-split'?: string; oracle?: boolean }, ds: Dataset | undefined): RunProtocol {
  const o: Parameters<typeof resolveProtocol>[2] = {};
  if (a['image-size'] !== undefined) o.imageSize = a['image-size'];
  if (a['crop-size'] !== undefined) o.cropSize = a['crop-size'];
  if (a.downscale !== undefined) o.downscale = a.downscale;
  if (a.split !== undefined) o.split = a.split;
  if (a['val-split'] !== undefined) o.valSplit = a['val-split'];
  if (a.oracle) o.oracle = true;
  return resolveProtocol(a.protocol !== undefined ? parseProtocolName(a.protocol) : undefined, ds, o);
}

/** Loads the backbone a predictor was fitted with (or `--backbone`), at the predictor's stride. */
export async function backboneFor(p: Predictor | undefined, name: string | undefined, downscale: 8 | 16 | 32 | undefined, onProgress?: ProgressCallback): Promise<FeatureExtractor> {
  const o: Parameters<typeof loadBackbone>[1] = {};
  const stride = downscale ?? (p && [8, 16, 32].includes(p.backbone.stride) ? (p.backbone.stride as 8 | 16 | 32) : undefined);
  if (stride) o.downscale = stride;
  if (onProgress) o.onProgress = onProgress;
  return loadBackbone(name ?? (p ? findPredictorBackbone(p.backbone) : DEFAULT_BACKBONE), o);
}

/** Options of {@link runEvaluation}. */
export interface RunEvaluationOptions {
  backbone: FeatureExtractor;
  predictor?: Predictor;
  predictorFile?: string;
  caam: boolean;
  dataset: Dataset;
  outDir: string;
  testSplit?: string;
  valSplit?: string | false;
  thresholds?: ArrayLike<number>;
  limit?: number;
  batchSize: number;
  skipBad: boolean;
  examples: number;
  exportDir?: string;
  /** Map cache directory (see pipeline/map-cache.ts). */
  mapCacheDir?: string;
  /** Override the dataset's eval transform (e.g. whole image resized, as `uol localize IMAGES` does). */
  protocol?: Protocol;
  /** Class ranks for Top-1/Top-5 Loc (see evaluateDataset's `classRanks`). */
  classRanks?: ClassRankSource;
  /** The run protocol (filter, resampler, box sizes; recorded in results.json). */
  run?: RunProtocol;
  title: string;
  meta: Record<string, string>;
  onProgress?: ProgressCallback;
}

/** Evaluates and writes results.json/.md, report.html and the example overlays into `outDir`. */
export async function runEvaluation(o: RunEvaluationOptions): Promise<EvaluateResult> {
  mkdirSync(o.outDir, { recursive: true });
  const eo: Parameters<typeof evaluateDataset>[0] = { backbone: o.backbone, caam: o.caam, dataset: o.dataset, batchSize: o.batchSize, skipBad: o.skipBad };
  if (o.predictor) eo.predictor = o.predictor;
  if (o.predictorFile) eo.predictorFile = o.predictorFile;
  if (o.testSplit) eo.testSplit = o.testSplit;
  if (o.valSplit !== undefined) eo.valSplit = o.valSplit;
  if (o.thresholds) eo.thresholds = o.thresholds;
  if (o.limit) eo.limit = o.limit;
  if (o.exportDir) eo.exportDir = o.exportDir;
  if (o.mapCacheDir) eo.mapCacheDir = o.mapCacheDir;
  if (o.protocol) eo.protocol = o.protocol;
  if (o.classRanks) eo.classRanks = o.classRanks;
  if (o.run?.interpolation) eo.interpolation = o.run.interpolation;
  if (o.run) eo.resizer = o.run.resizer;
  if (o.run) eo.boxSizes = o.run.boxSizes;
  if (o.onProgress) eo.onProgress = o.onProgress;
  const r = await evaluateDataset(eo);
  // Overlays of the best and worst test images at the chosen τ.
  const n = Math.min(o.examples, Math.floor(r.ranked.length / 2));
  const pick = [...r.ranked.slice(0, n), ...r.ranked.slice(-n)];
  const byId = new Map(r.test.results.map((x) => [x.id, x]));
  const recs = (await o.dataset.records(r.test.split)).filter((x) => pick.some((p) => p.id === x.id));
  const tiles = new Map<string, Tile>();
  if (recs.length) {
    const lo: Parameters<typeof localizeRecords>[0] = { backbone: o.backbone, caam: o.caam, records: recs, protocol: r.transform, threshold: r.threshold.value, outDir: o.outDir, overlays: true };
    if (o.predictor) lo.predictor = o.predictor;
    if (o.run?.interpolation) lo.interpolation = o.run.interpolation;
    if (o.run) lo.resizer = o.run.resizer;
    if (o.run) lo.boxSizes = o.run.boxSizes;
    const s = await localizeRecords(lo);
    for (const x of s.results) {
      const iou = pick.find((p) => p.id === x.id)?.iou ?? 0;
      tiles.set(x.id, { src: x.overlayFile!, title: x.id, lines: [`IoU ${(iou * 100).toFixed(1)} %`, byId.get(x.id)?.box ? '' : 'no box above τ'].filter(Boolean) });
    }
  }
  const worst = r.ranked.slice(0, n).flatMap((p) => (tiles.has(p.id) ? [tiles.get(p.id)!] : []));
  const best = r.ranked.slice(-n).reverse().flatMap((p) => (tiles.has(p.id) ? [tiles.get(p.id)!] : []));
  const splits = [...(r.val ? [r.val] : []), r.test];
  const doc = {
    tool: TOOL,
    protocol: r.protocol,
    ...(o.run ? { runProtocol: protocolRecord(o.run) } : {}),
    transform: describeProtocol(r.transform),
    threshold: r.threshold,
    method: o.caam ? 'caam' : (o.predictor?.method.name ?? 'closed-form'),
    backbone: o.backbone.identity.id,
    splits: Object.fromEntries(splits.map((s) => [s.split, { images: s.images, skipped: s.skipped, ...metricSummary(s.boxes, s.masks), chosen: s.boxes?.chosen, release: s.boxes?.release, ...(s.boxes?.releaseProgress ? { releaseProgress: s.boxes.releaseProgress } : {}), PIoUThreshold: s.masks?.PIoUThreshold }])),
    curves: Object.fromEntries(splits.map((s) => [s.split, { ...(s.boxes ? { thresholds: s.boxes.thresholds, ...s.boxes.curves } : {}), ...(s.masks ? { masks: s.masks.curves } : {}) }])),
    perImage: r.test.boxes?.perImage,
  };
  writeFileAtomicSync(path.join(o.outDir, 'results.json'), JSON.stringify(doc, null, 1) + '\n');
  writeReleaseResults(o.outDir, r);
  writeFileAtomicSync(path.join(o.outDir, 'results.md'), resultMarkdown(o.title, r));
  const note =
    r.protocol === 'val→test'
      ? `τ chosen on ${r.val!.split} (MaxBoxAccV2, release variant), test read at that τ.`
      : `No val split: τ is picked on the test split itself, as the release does for this dataset — an oracle, optimistic by construction.`;
  writeFileAtomicSync(
    path.join(o.outDir, 'report.html'),
    evaluationReportHtml({
      title: o.title,
      meta: { ...o.meta, transform: describeProtocol(r.transform), protocol: r.protocol },
      protocolNote: note,
      splits: splits.map((s) => ({ name: s.split, images: s.images, ...(s.boxes ? { boxes: s.boxes } : {}), ...(s.masks ? { masks: s.masks } : {}) })),
      threshold: r.threshold.value,
      best,
      worst,
      skipped: [...(r.val?.skipped ?? []), ...r.test.skipped],
    }),
  );
  return r;
}

/** Runs the predictor mode of `uol evaluate`; returns the JSON summary and text lines for the CLI to print. */
export async function runEvaluatePredictor(a: EvaluatePredictorArgs, engine: EngineInfo, onProgress: ProgressCallback): Promise<{ json: Record<string, unknown>; text: string[] }> {
  if (!a.predictor && !a.caam) throw new UsageError('uol evaluate: give --predictor FILE (or --caam) with --dataset, or --scoremaps with --metadata');
  const predictor = a.predictor ? loadPredictor(a.predictor) : undefined;
  const dataset = await datasetFromArgs(a);
  const run = protocolFromArgs(a, dataset);
  const cls = await classSourceFromArgs(a, dataset, onProgress);
  // The ResNet stride is the fit's (the predictor's); CAAM takes the protocol's (the release: per dataset).
  const backbone = await backboneFor(predictor, a.backbone, a.downscale ?? (predictor ? undefined : run.downscale), onProgress).catch((e: unknown) => {
    cls?.dispose();
    throw e;
  });
  const outDir = path.resolve(a.out ?? `uol-evaluate-${a.dataset}-${backbone.identity.id}${a.caam ? '-caam' : ''}`);
  try {
    const recorder = new RunRecorder(engine);
    if (a.predictor) recorder.inputs.push(hashFile('predictor', a.predictor));
    const ro: RunEvaluationOptions = {
      backbone,
      caam: a.caam,
      dataset,
      outDir,
      batchSize: a['batch-size'],
      skipBad: a['skip-bad'],
      examples: a.examples,
      title: `uol evaluate — ${a.dataset} — ${backbone.identity.id}${a.caam ? ' (CAAM)' : ''}`,
      meta: { tool: TOOL, dataset: `${a.dataset} ${a['data-dir']}`, backbone: backbone.identity.id, predictor: a.predictor ?? '(CAAM)', backend: engine.backend },
      onProgress,
    };
    if (predictor) ro.predictor = predictor;
    if (a.predictor) ro.predictorFile = a.predictor;
    ro.run = run;
    ro.testSplit = run.testSplit;
    if (run.valSplit !== undefined) ro.valSplit = run.valSplit;
    if (a.thresholds) ro.thresholds = parseThresholds(a.thresholds);
    if (a.limit) ro.limit = a.limit;
    if (a['export-scoremaps']) ro.exportDir = path.resolve(a['export-scoremaps']);
    if (a['whole-size']) {
      checkInputSize(a['whole-size'], backbone.identity.input, '--whole-size');
      ro.protocol = wholeProtocol(a['whole-size']);
    } else ro.protocol = evalProtocol(run.eval.resize, run.eval.crop);
    if (a['map-cache']) ro.mapCacheDir = path.resolve(a['map-cache']);
    if (cls) {
      ro.classRanks = cls.ranks;
      ro.meta.classifier = cls.describe;
      if (a.predictions) recorder.inputs.push(hashFile('predictions', a.predictions));
    }
    const r = await runEvaluation(ro);
    let stored = false;
    if (predictor && a.predictor && a['store-threshold']) {
      predictor.threshold = r.threshold;
      savePredictor(predictor, a.predictor);
      stored = true;
    }
    const outputs = ['results.json', 'results.md', 'report.html'].map((f) => path.join(outDir, f));
    recorder.outputs.push(...outputs);
    recorder.outputs.push(...['resultval.json', 'resulttest.json'].map((f) => path.join(outDir, f)).filter((f) => existsSync(f)));
    recorder.write(outDir, { protocol: r.protocol, runProtocol: protocolRecord(run), threshold: r.threshold, test: metricSummary(r.test.boxes, r.test.masks), release: releaseSummary(r.test) });
    const m = metricSummary(r.test.boxes, r.test.masks);
    const cache = r.test.mapCache ? { reused: (r.val?.mapCache?.reused ?? 0) + r.test.mapCache.reused, computed: (r.val?.mapCache?.computed ?? 0) + r.test.mapCache.computed } : undefined;
    const rel = releaseSummary(r.test);
    const json = { ...m, release: rel, releaseVal: r.protocol === 'val→test' ? releaseSummary(r.val) : undefined, runProtocol: protocolRecord(run), protocol: r.protocol, threshold: r.threshold, split: r.test.split, images: r.test.images, val: r.val ? metricSummary(r.val.boxes, r.val.masks) : undefined, out: outDir, storedThreshold: stored, ...(cache ? { mapCache: cache } : {}) };
    const text = [
      `uol evaluate: ${a.dataset} ${r.test.split} (${r.test.images} images), ${backbone.identity.id}${a.caam ? ' CAAM' : ''}, ${describeProtocol(r.transform)}`,
      `protocol: ${describeRunProtocol(run)}`,
      `τ protocol: ${r.protocol}; τ = ${r.threshold.value.toFixed(2)}${stored ? ` (stored in ${a.predictor})` : ''}`,
      ...(rel ? ["the release's metrics (resulttest.json):", ...Object.entries(rel).map(([k, v]) => `  ${k.padEnd(20)} ${v.toFixed(2)}`)] : []),
      'wsolevaluation / uol metrics:',
      ...Object.entries(m).map(([k, v]) => `  ${k.padEnd(20)} ${v.toFixed(2)}`),
      ...(cache ? [`map cache ${a['map-cache']}: ${cache.reused} maps reused, ${cache.computed} computed`] : []),
      `report: ${path.join(outDir, 'report.html')}`,
    ];
    return { json, text };
  } finally {
    backbone.dispose();
    cls?.dispose();
  }
}
