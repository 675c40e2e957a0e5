/**
 * `uol evaluate --predictor P --dataset D --data-dir DIR [--caam] --out DIR`: the paper's protocol on a dataset — maps
 * under the dataset's eval transform, τ from val then test at that τ (CUB/ImageNet in wsolevaluation layout), or the
 * release's oracle τ on test (datasets without a val split, labelled as such). Writes results.json, results.md,
 * report.html (metrics, τ curves, best/worst images with overlays) and manifest.json, and stores the chosen τ in the
 * predictor for `uol localize`.
 */
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { UsageError } from '../../util/errors.js';
import { TOOL } from '../../version.js';
import type { EngineInfo } from '../../engine/backend.js';
import { loadBackboneFor } from '../../backbones/node/registry.js';
import { describeProtocol, evalProtocol, wholeProtocol } from '../../data/transforms.js';
import { checkInputSize } from '../../data/input-contract.js';
import { parseThresholds } from '../../localize/gray.js';
import { loadPredictor } from '../../rps/node/predictor-file.js';
import { describeRunProtocol, protocolRecord } from '../../data/protocol.js';
import { metricSummary, releaseSummary, runEvaluation } from '../../pipeline/evaluation-run.js';
import { openDatasetSpec } from '../../pipeline/dataset-spec.js';
import { hashFile, RunRecorder } from '../../report/manifest.js';
import type { ProgressCallback } from '../../util/progress.js';
import { classSourceFromArgs } from './classifier-args.js';
import { datasetSpec, protocolFromArgs, type ProtocolArgs } from './protocol-args.js';
import type { ArgsOf, SharedArgs } from './shared-options.js';
import type { PREDICTOR_MODE_OPTIONS } from './evaluate.js';
import type { ClassifierArgs } from './classifier-args.js';

/** Arguments of the predictor mode of `uol evaluate`. */
export interface EvaluatePredictorArgs
  extends SharedArgs<'predictor' | 'caam' | 'backbone' | 'downscale' | 'dataset' | 'data-dir' | 'metadata' | 'mask-root' | 'split' | 'batch-size' | 'skip-bad' | 'map-cache'>,
    ArgsOf<typeof PREDICTOR_MODE_OPTIONS>,
    ProtocolArgs,
    Omit<ClassifierArgs, 'batch-size' | 'skip-bad'> {}

/** Runs the predictor mode of `uol evaluate`; returns the JSON summary and text lines for the CLI to print. */
export async function runEvaluatePredictor(a: EvaluatePredictorArgs, engine: EngineInfo, onProgress: ProgressCallback): Promise<{ json: Record<string, unknown>; text: string[] }> {
  if (!a.predictor && !a.caam) throw new UsageError('uol evaluate: give --predictor FILE (or --caam) with --dataset, or --scoremaps with --metadata');
  const predictor = a.predictor ? loadPredictor(a.predictor) : undefined;
  const dataset = await openDatasetSpec(datasetSpec(a));
  const run = protocolFromArgs(a, dataset);
  const cls = await classSourceFromArgs(a, dataset, onProgress);
  // The ResNet stride is the fit's (the predictor's); CAAM takes the protocol's (the release: per dataset).
  const backbone = await loadBackboneFor(predictor?.backbone, a.backbone, a.downscale ?? (predictor ? undefined : run.downscale), onProgress).catch((e: unknown) => {
    cls?.dispose();
    throw e;
  });
  const outDir = path.resolve(a.out ?? `uol-evaluate-${a.dataset}-${backbone.identity.id}${a.caam ? '-caam' : ''}`);
  try {
    const recorder = new RunRecorder(engine);
    if (a.predictor) recorder.inputs.push(hashFile('predictor', a.predictor));
    if (a['whole-size']) checkInputSize(a['whole-size'], backbone.identity.input, '--whole-size');
    const meta: Record<string, string> = { tool: TOOL, dataset: `${a.dataset} ${a['data-dir']}`, backbone: backbone.identity.id, predictor: a.predictor ?? '(CAAM)', backend: engine.backend };
    if (cls) {
      meta.classifier = cls.describe;
      if (a.predictions) recorder.inputs.push(hashFile('predictions', a.predictions));
    }
    const r = await runEvaluation({
      backbone,
      predictor,
      predictorFile: a.predictor,
      caam: a.caam,
      dataset,
      outDir,
      run,
      testSplit: run.testSplit,
      valSplit: run.valSplit,
      thresholds: a.thresholds ? parseThresholds(a.thresholds) : undefined,
      limit: a.limit,
      batchSize: a['batch-size'],
      skipBad: a['skip-bad'],
      examples: a.examples,
      exportDir: a['export-scoremaps'] ? path.resolve(a['export-scoremaps']) : undefined,
      mapCacheDir: a['map-cache'] ? path.resolve(a['map-cache']) : undefined,
      protocol: a['whole-size'] ? wholeProtocol(a['whole-size']) : evalProtocol(run.eval.resize, run.eval.crop),
      classRanks: cls?.ranks,
      storeThreshold: a['store-threshold'],
      title: `uol evaluate — ${a.dataset} — ${backbone.identity.id}${a.caam ? ' (CAAM)' : ''}`,
      meta,
      onProgress,
    });
    const stored = r.storedThreshold;
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
