/**
 * An evaluation run (`uol evaluate --predictor`, `uol ablate`, `uol reproduce`): {@link evaluateDataset} on a dataset,
 * then the run's files in one folder — results.json (metrics, curves, per-image results), results.md, the release's
 * resultval.json / resulttest.json, report.html with overlays of the best and worst test images at the chosen τ — and,
 * when asked, the chosen τ stored back into the predictor file for `localize`.
 */
import * as path from 'node:path';
import { mkdirSync } from 'node:fs';
import { writeFileAtomicSync } from '../util/fs.js';
import { TOOL } from '../version.js';
import type { FeatureExtractor } from '../backbones/types.js';
import type { Dataset } from '../data/datasets/types.js';
import { describeProtocol, type Protocol } from '../data/transforms.js';
import { protocolRecord, type RunProtocol } from '../data/protocol.js';
import type { BoxMetrics } from '../evaluate/box-metrics.js';
import type { MaskMetrics } from '../evaluate/mask-metrics.js';
import { pythonJsonDump, releaseBoxResult, releaseMaskResult } from '../evaluate/release-results.js';
import type { Predictor } from '../rps/predictor.js';
import { savePredictor } from '../rps/node/predictor-file.js';
import { evaluationReportHtml } from '../report/run-report.js';
import type { Tile } from '../report/html.js';
import type { ProgressCallback } from '../util/progress.js';
import { evaluateDataset, type EvaluateOptions, type EvaluateResult, type SplitResult } from './evaluate.js';
import { localizeRecords } from './localize.js';

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

/** Options of {@link runEvaluation}: those of {@link evaluateDataset} plus the run's files. */
export interface RunEvaluationOptions {
  backbone: FeatureExtractor;
  predictor?: Predictor | undefined;
  /** The predictor's file (named in errors; with `storeThreshold`, where the chosen τ is stored). */
  predictorFile?: string | undefined;
  caam: boolean;
  dataset: Dataset;
  outDir: string;
  testSplit?: string | undefined;
  valSplit?: string | false | undefined;
  thresholds?: ArrayLike<number> | undefined;
  limit?: number | undefined;
  batchSize: number;
  skipBad: boolean;
  /** Best and worst test images shown with overlays in report.html (each). */
  examples: number;
  exportDir?: string | undefined;
  /** Map cache directory (see pipeline/map-cache.ts). */
  mapCacheDir?: string | undefined;
  /** Override the dataset's eval transform (e.g. whole image resized, as `uol localize IMAGES` does). */
  protocol?: Protocol | undefined;
  /** Class ranks for Top-1/Top-5 Loc (see evaluateDataset's `classRanks`). */
  classRanks?: EvaluateOptions['classRanks'] | undefined;
  /** The run protocol (filter, resampler, box sizes; recorded in results.json). */
  run?: RunProtocol | undefined;
  /** Store the chosen τ in the predictor and save it to `predictorFile` (for `localize`). */
  storeThreshold?: boolean;
  title: string;
  meta: Record<string, string>;
  onProgress?: ProgressCallback | undefined;
}

/** Result of {@link runEvaluation}. */
export interface EvaluationRun extends EvaluateResult {
  /** True when the chosen τ was stored in the predictor file. */
  storedThreshold: boolean;
}

/** Evaluates and writes results.json/.md, report.html and the example overlays into `outDir`. */
export async function runEvaluation(o: RunEvaluationOptions): Promise<EvaluationRun> {
  mkdirSync(o.outDir, { recursive: true });
  // The run protocol's decode settings; without one, each step's defaults.
  const run = { interpolation: o.run?.interpolation, resizer: o.run?.resizer, boxSizes: o.run?.boxSizes };
  const r = await evaluateDataset({
    backbone: o.backbone,
    predictor: o.predictor,
    predictorFile: o.predictorFile,
    caam: o.caam,
    dataset: o.dataset,
    testSplit: o.testSplit || undefined,
    valSplit: o.valSplit,
    thresholds: o.thresholds,
    limit: o.limit || undefined,
    batchSize: o.batchSize,
    skipBad: o.skipBad,
    exportDir: o.exportDir,
    mapCacheDir: o.mapCacheDir,
    protocol: o.protocol,
    classRanks: o.classRanks,
    onProgress: o.onProgress,
    ...run,
  });
  // Overlays of the best and worst test images at the chosen τ.
  const n = Math.min(o.examples, Math.floor(r.ranked.length / 2));
  const pick = [...r.ranked.slice(0, n), ...r.ranked.slice(-n)];
  const recs = (await o.dataset.records(r.test.split)).filter((x) => pick.some((p) => p.id === x.id));
  const tiles = new Map<string, Tile>();
  if (recs.length) {
    const s = await localizeRecords({ backbone: o.backbone, predictor: o.predictor, caam: o.caam, records: recs, protocol: r.transform, threshold: r.threshold.value, outDir: o.outDir, overlays: true, ...run });
    for (const x of s.results) {
      const iou = pick.find((p) => p.id === x.id)?.iou ?? 0;
      tiles.set(x.id, { src: x.overlayFile!, title: x.id, lines: [`IoU ${(iou * 100).toFixed(1)} %`, x.box ? '' : 'no box above τ'].filter(Boolean) });
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
  let storedThreshold = false;
  if (o.storeThreshold && o.predictor && o.predictorFile) {
    o.predictor.threshold = r.threshold;
    savePredictor(o.predictor, o.predictorFile);
    storedThreshold = true;
  }
  return { ...r, storedThreshold };
}
