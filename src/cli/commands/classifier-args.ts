/**
 * The classifier options shared by `uol evaluate` (Top-1/Top-5 Loc) and `uol fit --classwise` (the classifier's
 * argmax as the class): `--cls-network NAME --cls-weights FILE…|DIR` or `--predictions CSV`.
 */
import type { Argv } from 'yargs';
import { UsageError } from '../../util/errors.js';
import type { Dataset, DatasetRecord } from '../../data/datasets/types.js';
import { sha256FileSync } from '../../util/fs.js';
import type { ProgressCallback } from '../../util/progress.js';
// Only light modules at the top (the CLI declares options without loading models); the rest is imported when used.
import { CLASSIFIER_NAMES } from '../../classify/names.js';
import type { ClassRankSource } from '../../classify/run.js';
import type { Classifier } from '../../classify/types.js';
import type { SharedArgs } from './shared-options.js';

/** Parsed classifier options. */
export interface ClassifierArgs extends SharedArgs<'predictions'> {
  'cls-network'?: string;
  'cls-weights'?: string[];
  'batch-size'?: number;
  'skip-bad'?: boolean;
}

/** Adds `--cls-network` and `--cls-weights` (`--predictions` is a shared option, src/cli/commands/shared-options.ts, each command with its own help). */
export function classifierOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option('cls-network', {
      type: 'string',
      describe: `classifier for Top-1/Top-5 Loc: ${CLASSIFIER_NAMES.join(', ')} (or the release's ResNet50, ViT)`,
    })
    .option('cls-weights', {
      type: 'string',
      array: true,
      describe: "the classifier's checkpoint file(s) as the release loads them (dino_vits8_linear: backbone .pth, then the linear-head .pth), or one folder from `uol convert-classifier`",
    }) as Argv<T>;
}

/** A loaded classifier or predictions, ready to rank; `dispose` releases the classifier. */
export interface ClassSource {
  ranks: ClassRankSource;
  classifier?: Classifier;
  describe: string;
  dispose(): void;
}

/**
 * Builds the rank source from the options, or undefined when neither `--cls-network` nor `--predictions` is given.
 * @throws UsageError for both at once, `--cls-weights` missing, or a bad file.
 */
export async function classSourceFromArgs(a: ClassifierArgs, dataset: Dataset, onProgress?: ProgressCallback): Promise<ClassSource | undefined> {
  if (a['cls-network'] && a.predictions) throw new UsageError('give either --cls-network (run a classifier) or --predictions CSV (its saved scores), not both');
  if (a['cls-weights']?.length && !a['cls-network']) throw new UsageError('--cls-weights needs --cls-network NAME');
  if (!a.predictions && !a['cls-network']) return undefined;
  const { readPredictions } = await import('../../classify/ranks.js');
  const { classifierDatasetOf, classifierRankSource, predictionsRankSource } = await import('../../classify/run.js');
  const { loadClassifier, resolveClassifierName } = await import('../../classify/registry.js');
  if (a.predictions) {
    const p = readPredictions(a.predictions);
    return { ranks: predictionsRankSource(p), describe: `predictions ${a.predictions} (${p.kind === 'scores' ? `${p.columns} class scores` : `top-${p.columns} classes`})`, dispose: () => undefined };
  }
  if (!a['cls-network']) return undefined;
  const kind = classifierDatasetOf(dataset);
  const name = resolveClassifierName(a['cls-network'], kind);
  if (!a['cls-weights']?.length) throw new UsageError(`--cls-network ${a['cls-network']}: give its weights with --cls-weights FILE… (or a converted folder)`);
  const classifier = await loadClassifier(name, a['cls-weights']);
  const o: Parameters<typeof classifierRankSource>[2] = { batchSize: a['batch-size'] ?? 1, skipBad: !!a['skip-bad'] };
  if (onProgress) o.onProgress = onProgress;
  return { ranks: classifierRankSource(classifier, kind, o), classifier, describe: `classifier ${name} (${classifier.identity.classSpace} classes, ${kind} transform)`, dispose: () => classifier.dispose() };
}

/**
 * Class-wise fits with a classifier (the release's `load_param` with `--cls_network`): every training record gets the
 * classifier's predicted class (argmax; or the top class of `--predictions`) as its label. Returns undefined when
 * neither option is given.
 * @returns the relabelled records and a tag for the resume fingerprint.
 * @throws UsageError without `--classwise`, or for a record without a prediction.
 */
export async function classwiseRelabel(a: ClassifierArgs & { classwise: boolean }, records: readonly DatasetRecord[], dataset: Dataset | undefined, onProgress?: ProgressCallback): Promise<{ records: DatasetRecord[]; tag: string; describe: string } | undefined> {
  if (!a['cls-network'] && !a.predictions) return undefined;
  if (!a.classwise) throw new UsageError(`${a['cls-network'] ? '--cls-network' : '--predictions'} in uol fit sets the classes of a class-wise fit: add --classwise`);
  if (a['cls-network'] && a.predictions) throw new UsageError('give either --cls-network (run a classifier) or --predictions CSV (its saved scores), not both');
  const { readPredictions } = await import('../../classify/ranks.js');
  const { classifierDatasetOf, predictedClasses } = await import('../../classify/run.js');
  const { loadClassifier, resolveClassifierName } = await import('../../classify/registry.js');
  let classes: Map<string, number>;
  let tag: string;
  let describe: string;
  if (a.predictions) {
    const p = readPredictions(a.predictions);
    classes = await predictedClasses({ predictions: p }, records);
    tag = `predictions:${sha256FileSync(a.predictions)}`;
    describe = `classes from ${a.predictions}`;
  } else {
    if (!a['cls-weights']?.length) throw new UsageError(`--cls-network ${a['cls-network']}: give its weights with --cls-weights FILE… (or a converted folder)`);
    const kind = dataset ? classifierDatasetOf(dataset) : 'imagenet';
    const name = resolveClassifierName(a['cls-network']!, kind);
    const classifier = await loadClassifier(name, a['cls-weights']);
    try {
      const src: Parameters<typeof predictedClasses>[0] = { classifier, dataset: kind, batchSize: a['batch-size'] ?? 1 };
      if (onProgress) src.onProgress = onProgress;
      classes = await predictedClasses(src, records);
      tag = `classifier:${name}:${classifier.identity.weightsSha256 ?? ''}`;
      describe = `classes predicted by ${name} (${kind} transform)`;
    } finally {
      classifier.dispose();
    }
  }
  return { records: records.map((r) => ({ ...r, label: classes.get(r.id)! })), tag, describe };
}
