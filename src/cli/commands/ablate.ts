/**
 * `uol ablate --backbones a,b,c [--caam] --dataset D --data-dir DIR [--base-dataset B --base-data-dir DIR2] --out DIR`:
 * the paper-style table (rows: backbone × RPS/CAAM; columns: metrics) as Markdown, CSV and HTML. Per-backbone results
 * are cached under DIR/cache, so an interrupted ablation resumes and a finished one re-tabulates instantly.
 */
import type { Argv, CommandModule } from 'yargs';
import * as path from 'node:path';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { UsageError } from '../../util/errors.js';
import { writeFileAtomicSync } from '../../util/fs.js';
import { TOOL } from '../../version.js';
import type { AblationBackbone } from '../../pipeline/ablate.js';
import { datasetSpec, protocolFromArgs, protocolOptions, selectionOptions, type ProtocolArgs, type SelectionArgs } from './protocol-args.js';
import { sha256FileSync } from '../../util/fs.js';
import { sharedDecls, withShared, type SharedArgs } from './shared-options.js';
import { emit, progressFor, startEngine, type GlobalArgs } from '../context.js';
import { readTextBounded } from '../../util/safe-read.js';

interface AblateArgs extends GlobalArgs, SharedArgs<'caam' | 'downscale' | 'metadata' | 'mask-root' | 'split' | 'batch-size' | 'skip-bad' | 'seed' | 'sampling-ratio' | 'base-dataset' | 'classwise'>, ProtocolArgs, SelectionArgs {
  'map-cache': boolean;
  backbones: string;
  dataset: string;
  'data-dir': string;
  'base-data-dir'?: string;
  'base-metadata'?: string;
  'fit-split'?: string;
  oracle: boolean;
  size: number;
  limit?: number;
  out: string;
}

export const ablateCommand: CommandModule<GlobalArgs, AblateArgs> = {
  command: 'ablate',
  describe: 'paper-style table across backbones (RPS vs CAAM), cached per backbone and resumable',
  builder: (y: Argv<GlobalArgs>) =>
    selectionOptions(protocolOptions(withShared(y, { 'sampling-ratio': 'fit on a seeded subset of floor(N·r) training images', caam: 'also evaluate the CAAM baseline per backbone', dataset: { describe: 'evaluation dataset format', demandOption: true }, 'data-dir': { describe: "evaluation dataset folder (the format's top files)", demandOption: true }, metadata: 'wsol: metadata folder of the evaluation dataset', 'mask-root': 'wsol: OpenImages mask root', split: 'test split (default test)', seed: true, 'batch-size': true, 'skip-bad': 'skip unreadable images' }), { downscaleDefault: "the protocol's: release 16 for ImageNet, 32 for the fine-grained sets", evalSizes: true }))
      .option('backbones', { type: 'string', demandOption: true, describe: 'comma-separated backbone names or converted-model directories' })
      .options(sharedDecls({ 'base-dataset': 'fit on another dataset (zero-shot transfer, e.g. cifar10); default the evaluation dataset' }))
      .option('base-data-dir', { type: 'string', describe: 'folder of the base dataset' })
      .option('base-metadata', { type: 'string', describe: 'wsol: metadata folder of the base dataset' })
      .option('fit-split', { type: 'string', describe: 'split to fit on (default train)' })
      .option('oracle', { type: 'boolean', default: false, describe: 'pick τ on test even when a val split exists' })
      .options(sharedDecls({ classwise: 'class-wise w* (ground-truth class at inference)' }))
      .option('size', { type: 'number', default: 224, describe: 'fit input side (training images resized whole)' })
      .option('limit', { type: 'number', describe: 'only the first N images of each evaluation split (quick looks)' })
      .option('map-cache', { type: 'boolean', default: false, describe: "keep each cell's maps in its cache folder (as `uol evaluate --map-cache`): an evaluation killed midway resumes there; costs H·W·4 bytes per image" })
      .option('out', { type: 'string', default: 'uol-ablate', describe: 'run directory (table files, cache/)' }) as Argv<AblateArgs>,
  handler: async (a) => {
    const { loadBackbone } = await import('../../backbones/node/registry.js');
    const { releaseQuota, selectFitRecords } = await import('../../data/fit-selection.js');
    const { describeRunProtocol, protocolRecord, RELEASE_DATASETS, resolveProtocol } = await import('../../data/protocol.js');
    const { evalProtocol } = await import('../../data/transforms.js');
    const { resolveInput } = await import('../../pipeline/input.js');
    const { ABLATION_COLUMNS_NOTE, ablationCsv, ablationMarkdown, ablationTable, runAblation } = await import('../../pipeline/ablate.js');
    const { RunRecorder } = await import('../../report/manifest.js');
    const { ablationReportHtml } = await import('../../report/run-report.js');
    const { metricSummary, releaseSummary, runEvaluation } = await import('../../pipeline/evaluation-run.js');
    const { openDatasetSpec } = await import('../../pipeline/dataset-spec.js');
    const names = a.backbones.split(',').map((s) => s.trim()).filter(Boolean);
    if (!names.length) throw new UsageError('--backbones: give at least one backbone');
    if (new Set(names).size !== names.length) throw new UsageError(`--backbones "${a.backbones}": a backbone is listed twice`);
    if (a['base-dataset'] && !a['base-data-dir']) throw new UsageError('--base-dataset needs --base-data-dir');
    const engine = await startEngine(a);
    const evalDs = await openDatasetSpec(datasetSpec(a));
    const fitSpec: Parameters<typeof resolveInput>[0] = { dataset: a['base-dataset'] ?? a.dataset, dataDir: a['base-data-dir'] ?? a['data-dir'] };
    const baseMeta = a['base-dataset'] ? a['base-metadata'] : a.metadata;
    if (baseMeta) fitSpec.metadata = baseMeta;
    if (a['fit-split']) fitSpec.split = a['fit-split'];
    const fitInput = await resolveInput(fitSpec, ['train']);
    const run = protocolFromArgs(a, evalDs);
    const fitRun = fitInput.dataset ? resolveProtocol(run.name, fitInput.dataset) : undefined;
    const sel: Parameters<typeof selectFitRecords>[1] = { samplingRatio: a['sampling-ratio'], seed: a.seed, classwise: a.classwise, release: releaseQuota(run, a.protocol, a['sampling-ratio']) };
    if (a['train-list']) sel.trainList = a['train-list'];
    if (a['release-batch-size'] !== undefined) sel.releaseBatchSize = a['release-batch-size'];
    const nclass = (fitRun?.dataset ? RELEASE_DATASETS[fitRun.dataset].nclass : 0) || fitInput.classNames?.length;
    if (nclass) sel.nclass = nclass;
    const fitRecords = selectFitRecords(fitInput.records, sel);
    const outDir = path.resolve(a.out);
    mkdirSync(outDir, { recursive: true });
    // The cache is only valid for the same fit and evaluation settings.
    const key = {
      fit: fitInput.description,
      listing: fitInput.listing.sha256,
      n: fitRecords.length,
      classwise: a.classwise,
      size: a.size,
      samplingRatio: a['sampling-ratio'],
      seed: a.seed,
      downscale: a.downscale ?? null,
      eval: `${a.dataset} ${path.resolve(a['data-dir'])}`,
      split: a.split ?? 'test',
      oracle: a.oracle,
      limit: a.limit ?? null,
      ...(run.name === 'release' || a.protocol ? { protocol: describeRunProtocol(run), trainList: a['train-list'] ? sha256FileSync(a['train-list']) : null } : {}),
    };
    const keyFile = path.join(outDir, 'ablation-key.json');
    if (existsSync(keyFile)) {
      const old = readTextBounded(keyFile, 'jsonBytes', 'ablation key');
      if (old !== JSON.stringify(key, null, 1) + '\n') throw new UsageError(`${keyFile}: this run directory holds an ablation with other settings; use another --out (or delete it)`);
    } else writeFileAtomicSync(keyFile, JSON.stringify(key, null, 1) + '\n');
    const prog = progressFor(a);
    const recorder = new RunRecorder(engine);
    recorder.inputs.push(fitInput.listing);
    const backbones: AblationBackbone[] = names.map((name) => ({
      name,
      load: () => loadBackbone(name, run.downscale ? { downscale: run.downscale, onProgress: prog.callback } : { onProgress: prog.callback }),
    }));
    try {
      const rows = await runAblation({
        backbones,
        fitRecords,
        fitDescription: `${fitInput.description}, Resize((${a.size},${a.size}))${run.interpolation ? ` ${run.interpolation}` : ''}${run.resizer === 'pil' ? ' PIL' : ''}; protocol ${run.name}`,
        ...(run.interpolation ? { interpolation: run.interpolation } : {}),
        resizer: run.resizer,
        ...(fitInput.dataset ? { fitDataset: fitInput.dataset } : {}),
        classwise: a.classwise,
        caam: a.caam,
        size: a.size,
        batchSize: a['batch-size'],
        skipBad: a['skip-bad'],
        cacheDir: path.join(outDir, 'cache'),
        tool: TOOL,
        onProgress: prog.callback,
        evaluate: async (backbone, predictor, cellDir) => {
          const r = await runEvaluation({
            backbone,
            predictor,
            caam: !predictor,
            dataset: evalDs,
            outDir: cellDir,
            run,
            protocol: evalProtocol(run.eval.resize, run.eval.crop),
            testSplit: run.testSplit,
            valSplit: run.valSplit,
            limit: a.limit,
            mapCacheDir: a['map-cache'] ? path.join(cellDir, 'maps') : undefined,
            batchSize: a['batch-size'],
            skipBad: a['skip-bad'],
            examples: 4,
            title: `${a.dataset} — ${backbone.identity.id} — ${predictor ? 'RPS' : 'CAAM'}`,
            meta: { tool: TOOL, backend: engine.backend },
            onProgress: prog.callback,
          });
          const wsol = Object.fromEntries(Object.entries(metricSummary(r.test.boxes, r.test.masks)).map(([k, v]) => [`wsol.${k}`, v]));
          return { metrics: { ...(releaseSummary(r.test) ?? {}), ...wsol }, protocol: r.protocol };
        },
      });
      const title = `uol ablate — ${a.dataset}${a['base-dataset'] ? ` (fit on ${a['base-dataset']})` : ''}`;
      const protocols = [...new Set(rows.map((r) => r.protocol))];
      const notes = [
        `Fit: ${fitInput.description}${a['sampling-ratio'] < 1 ? `, sampled ${fitRecords.length}` : ''}, images resized to ${a.size}×${a.size}${a.classwise ? ', class-wise w*' : ''}.`,
        `Evaluation: ${a.dataset} ${run.testSplit}; τ protocol: ${protocols.join(', ')}${protocols.some((p) => p.startsWith('oracle')) ? ' (oracle: τ picked on the test split itself, as the release does for this dataset)' : ''}. Percentages.`,
        `Protocol: ${describeRunProtocol(run)}.`,
        ABLATION_COLUMNS_NOTE,
      ];
      writeFileAtomicSync(path.join(outDir, 'ablation.md'), ablationMarkdown(title, rows, notes));
      writeFileAtomicSync(path.join(outDir, 'ablation.csv'), ablationCsv(rows));
      writeFileAtomicSync(path.join(outDir, 'report.html'), ablationReportHtml(title, { tool: TOOL, backend: engine.backend }, ablationTable(rows), notes));
      recorder.outputs.push(...['ablation.md', 'ablation.csv', 'report.html'].map((f) => path.join(outDir, f)));
      recorder.write(outDir, { rows: rows.length, cached: rows.filter((r) => r.cached).length, protocol: protocolRecord(run) });
      prog.stop();
      emit(a, { out: outDir, rows }, readFileSync(path.join(outDir, 'ablation.md'), 'utf8').trimEnd().split('\n'));
    } finally {
      prog.stop();
    }
  },
};
