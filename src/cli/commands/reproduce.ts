/**
 * `uol reproduce --list [--filter STR]`: every experiment the authors' release can run (dataset × --loc_network ×
 * options) with the main.py command it corresponds to. `uol reproduce NAME --data-dir D --weights-dir W --out O`: runs
 * it with uol under the release protocol and writes the release's own result files (resultval.json / resulttest.json,
 * same keys) beside uol's reports. See docs/reproduce.md.
 */
import type { Argv, CommandModule } from 'yargs';
import * as path from 'node:path';
import { UsageError } from '../../util/errors.js';
import { readFileSync } from 'node:fs';
import { selectionOptions, type SelectionArgs } from './protocol-args.js';
import { sharedDecls, withShared, type SharedArgs } from './shared-options.js';
import { emit, progressFor, startEngine, type GlobalArgs } from '../context.js';
import { listExperiments, parseExperimentName, type ReleaseExperiment } from '../../reproduce/experiments.js';
import type { runReleaseExperiment as RunReleaseExperiment } from '../../reproduce/run.js';
import { describeRunProtocol } from '../../data/protocol.js';

interface ReproduceArgs extends GlobalArgs, SharedArgs<'data-dir' | 'metadata' | 'batch-size' | 'map-cache' | 'models-dir' | 'seed' | 'image-size' | 'crop-size'>, SelectionArgs {
  name?: string;
  list: boolean;
  filter?: string;
  'cifar-dir'?: string;
  'weights-dir'?: string;
  out?: string;
}

function listLine(e: ReleaseExperiment): string {
  const notes = [e.releaseCrashes ? `release: ${e.releaseCrashes}` : '', e.uolMissing ? `uol: ${e.uolMissing}` : ''].filter(Boolean);
  return `${e.name.padEnd(34)} ${e.mainPy}${notes.length ? `   [${notes.join(' | ')}]` : ''}`;
}

export const reproduceCommand: CommandModule<GlobalArgs, ReproduceArgs> = {
  command: 'reproduce [name]',
  describe: "run an experiment of the authors' release (UOLwRPS main.py) under its protocol; --list shows them all",
  builder: (y: Argv<GlobalArgs>) =>
    selectionOptions(withShared(y, { 'image-size': "override main.py --image_size (default the experiment's: 480 fine-grained, 256 ImageNet)", 'crop-size': 'override main.py --crop_size (default 448 / 224)', 'data-dir': "main.py --data_dir: holds CUB/, ILSVRC/, OpenImages/, stanfordCar/, AIRCRAFT/, stanfordDogs/", metadata: "the release's datasets/metadata (wsolevaluation metadata with CUB/, ILSVRC/, OpenImages/); default DATA_DIR/metadata", 'models-dir': 'cache of converted models (default OUT/models)', 'map-cache': 'keep every map here (<split>/<id>.npy, as uol evaluate --map-cache): a killed run resumes', seed: 'seed of the training order when no --train-list is given', 'batch-size': "uol's images per forward pass" }))
      .positional('name', { type: 'string', describe: 'experiment, e.g. cub-mocov1, aircraft-vgg-caam, cub-dinovit-sr0.5, cub-mocov1-ds16 (see --list)' })
      .options(sharedDecls({ list: 'list every experiment with its main.py command', filter: '--list: only names containing STR' }))
      .option('cifar-dir', { type: 'string', describe: 'folder of the CIFAR binary versions for -base-cifar* (default DATA_DIR)' })
      .option('weights-dir', { type: 'string', describe: 'folder with the checkpoint files main.py loads (moco_v1_200ep_pretrain.pth.tar, dino_deitsmall8_pretrain.pth, vgg16_bn-6c64b313.pth, …)' })
      .option('out', { type: 'string', describe: 'output folder (resultval.json, resulttest.json, results.json, report.html, param.npy, predictor.json)' }) as Argv<ReproduceArgs>,
  handler: async (a) => {
    const { runReleaseExperiment } = await import('../../reproduce/run.js');
    if (a.list) {
      const all = listExperiments().filter((e) => !a.filter || e.name.includes(a.filter.toLowerCase()));
      emit(
        a,
        { experiments: all.map((e) => ({ name: e.name, release: e.mainPy, releaseFiles: e.releaseFiles, releaseCrashes: e.releaseCrashes ?? null, uolMissing: e.uolMissing ?? null, uol: `uol reproduce ${e.name} --data-dir D --weights-dir W --out O` })) },
        [`${all.length} experiments (name grammar: <dataset>-<network>[-ds8|16|32][-classwise][-caam][-sr<r>][-base-<set>]); run one with: uol reproduce NAME --data-dir D --weights-dir W --out O`, ...all.map(listLine)],
      );
      return;
    }
    if (!a.name) throw new UsageError('uol reproduce: give an experiment NAME (see uol reproduce --list) or --list');
    const e = parseExperimentName(a.name);
    if (!a['data-dir']) throw new UsageError(`uol reproduce ${a.name}: give --data-dir (main.py's --data_dir)`);
    if (!a['weights-dir']) throw new UsageError(`uol reproduce ${a.name}: give --weights-dir (the folder with ${e.network.loads})`);
    const outDir = path.resolve(a.out ?? `uol-reproduce-${e.name}`);
    await startEngine(a);
    const prog = progressFor(a);
    try {
      const o: Parameters<typeof RunReleaseExperiment>[0] = { experiment: e, dataDir: a['data-dir'], weightsDir: a['weights-dir'], outDir, seed: a.seed, batchSize: a['batch-size'], onProgress: prog.callback };
      if (a.metadata) o.metadataDir = a.metadata;
      if (a['cifar-dir']) o.cifarDir = a['cifar-dir'];
      if (a['models-dir']) o.modelsDir = a['models-dir'];
      if (a['image-size'] !== undefined) o.imageSize = a['image-size'];
      if (a['crop-size'] !== undefined) o.cropSize = a['crop-size'];
      if (a['train-list']) o.trainList = a['train-list'];
      if (a['map-cache']) o.mapCacheDir = path.resolve(a['map-cache']);
      if (a['release-batch-size'] !== undefined) o.releaseBatchSize = a['release-batch-size'];
      const r = await runReleaseExperiment(o);
      prog.stop();
      const read = (f: string): Record<string, number> => JSON.parse(readFileSync(f, 'utf8')) as Record<string, number>;
      const rel = Object.fromEntries(r.files.filter((f) => /result(val|test)\.json$/.test(f)).map((f) => [path.basename(f, '.json'), read(f)]));
      emit(a, { experiment: e.name, release: e.mainPy, out: outDir, protocol: describeRunProtocol(r.protocol), fitImages: r.fitImages, ...rel, files: r.files }, [
        `uol reproduce ${e.name} (release: ${e.mainPy})`,
        `protocol: ${describeRunProtocol(r.protocol)}`,
        ...Object.entries(rel).map(([k, v]) => `${k}.json: ${Object.entries(v).map(([m, x]) => `${m} ${m === 'BestThreshold' ? x.toFixed(2) : x.toFixed(3)}`).join(', ')}`),
        `out: ${outDir}`,
      ]);
    } finally {
      prog.stop();
    }
  },
};
