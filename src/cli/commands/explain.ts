/**
 * `uol explain`: the training patches with the largest representer values for a test image's foreground (or a given
 * region), as a self-contained HTML page plus explain.json (rps/explain.ts, report/explain-html.ts).
 * This module handles the bring-your-own-features path (`--features TEST.npy`); the image path goes through
 * `explainImage(extractor, …)` once a backbone is given.
 */
import type { Argv, CommandModule } from 'yargs';
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../../util/errors.js';
import { readNpy } from '../../io/npy.js';
import { readImageRGB } from '../../data/image-io.js';
import { readImageMap } from '../../io/image-map.js';
import { loadPredictor } from '../../rps/predictor.js';
import { featureDirSource } from '../../rps/point-source.js';
import { explain, type ExplainOptions, type RegionSpec } from '../../rps/explain.js';
import { writeExplanation } from '../../report/explain-html.js';
import { emit, progressFor, startEngine, type GlobalArgs } from '../context.js';

interface ExplainArgs extends GlobalArgs {
  image?: string;
  predictor: string;
  features?: string;
  out: string;
  top: number;
  region: 'pixel' | 'box';
  box?: string;
  at?: string;
  threshold?: number;
  'train-features'?: string;
  'train-images'?: string;
  context: number;
}

function parseNumbers(s: string, n: number, flag: string): number[] {
  const parts = s.split(',').map((x) => Number(x.trim()));
  if (parts.length !== n || parts.some((x) => !Number.isFinite(x))) throw new UsageError(`${flag} "${s}": expected ${n} comma-separated numbers`);
  return parts;
}

export const explainCommand: CommandModule<GlobalArgs, ExplainArgs> = {
  command: 'explain [image]',
  describe: 'show the training patches with the largest representer values for a test image (HTML + JSON)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('image', { type: 'string', describe: 'the test image (crops and panels are drawn from it)' })
      .option('predictor', { type: 'string', demandOption: true, describe: 'predictor file from `uol fit`' })
      .option('features', { type: 'string', describe: 'the test image\'s feature map, .npy float32 [h,w,C] (computed on the whole image, no crop)' })
      .option('out', { type: 'string', demandOption: true, describe: 'output directory (index.html, explain.json, PNGs)' })
      .option('top', { type: 'number', default: 8, describe: 'training patches per side' })
      .option('region', { choices: ['pixel', 'box'] as const, default: 'pixel' as const, describe: 'pixel: the foreground cells (map ≥ τ); box: cells inside --box, or inside the foreground bounding box' })
      .option('box', { type: 'string', describe: 'x0,y0,x1,y1 in test-image pixels (with --region box)' })
      .option('at', { type: 'string', describe: 'x,y: explain the single cell at this test-image pixel' })
      .option('threshold', { type: 'number', describe: 'τ for foreground cells (default: the predictor\'s, else 0.5)' })
      .option('train-features', { type: 'string', describe: 'the training feature directory of the fit: exact mode (streams every training point)' })
      .option('train-images', { type: 'string', describe: 'directory of <stem>.<jpg|png|…> or CSV "stem,file": training images for the crops' })
      .option('context', { type: 'number', default: 1, describe: 'cells of context around each training patch crop' }) as Argv<ExplainArgs>,
  handler: async (a) => {
    if (!a.image) throw new UsageError('uol explain: give the test IMAGE');
    // INTEGRATION POINT (--backbone): with a backbone, skip --features and call
    // `explainImage(await loadBackbone(name), a.image, { predictor, region, top, training })` (rps/explain.ts), with
    // `training = extractorSource(extractor, trainImageFiles)` (or a feature-cache dir) for the exact mode.
    if (!a.features) throw new UsageError('uol explain: give --features TEST.npy (the test image\'s feature map); the --backbone path arrives with the backbones');
    if (!Number.isInteger(a.top) || a.top < 1) throw new UsageError(`--top ${a.top}: expected an integer ≥ 1`);
    if (!Number.isInteger(a.context) || a.context < 0) throw new UsageError(`--context ${a.context}: expected an integer ≥ 0`);
    if (a.threshold !== undefined && !(a.threshold >= 0 && a.threshold <= 1)) throw new UsageError(`--threshold ${a.threshold}: expected a number in [0,1]`);
    if (a.box && a.region !== 'box') throw new UsageError('--box needs --region box');
    let st;
    try {
      st = statSync(a.out);
    } catch {
      st = undefined;
    }
    if (st && !st.isDirectory()) throw new UsageError(`--out ${a.out}: exists and is not a directory`);
    let region: RegionSpec;
    if (a.at) {
      const [x, y] = parseNumbers(a.at, 2, '--at') as [number, number];
      region = { kind: 'at', x, y };
    } else if (a.region === 'box') {
      region = { kind: 'box' };
      if (a.box) region.box = parseNumbers(a.box, 4, '--box') as [number, number, number, number];
      if (a.threshold !== undefined) region.threshold = a.threshold;
    } else {
      region = { kind: 'pixel' };
      if (a.threshold !== undefined) region.threshold = a.threshold;
    }
    const predictor = loadPredictor(a.predictor);
    const image = await readImageRGB(a.image);
    const npy = await readNpy(a.features);
    if (npy.dtype !== 'float32' || npy.shape.length !== 3) {
      throw new UsageError(`${a.features}: test features must be float32 [h,w,C], got ${npy.dtype} [${npy.shape.join(',')}]`);
    }
    const images = a['train-images'] ? readImageMap(a['train-images']) : undefined;
    await startEngine(a);
    const prog = progressFor(a);
    try {
      const eo: ExplainOptions = {
        predictor,
        predictorFile: a.predictor,
        test: { id: path.basename(a.image).replace(/\.[^.]+$/, ''), features: { shape: npy.shape as [number, number, number], data: npy.data as Float32Array }, imageSize: [image.height, image.width] },
        region,
        top: a.top,
        onProgress: prog.callback,
      };
      if (a['train-features']) eo.training = featureDirSource(a['train-features'], images ? { images } : {});
      const r = await explain(eo);
      const files = await writeExplanation(a.out, r, {
        testImage: image,
        testFile: path.resolve(a.image),
        predictor,
        predictorFile: a.predictor,
        imageFor: (id) => images?.get(id),
        context: a.context,
      });
      const best = r.excitatory[0];
      emit(
        a,
        {
          out: a.out,
          html: files.html,
          json: files.json,
          mode: r.mode,
          region: { kind: r.region.kind, cells: r.region.cells, bounds: r.region.bounds },
          regionScore: r.regionScore,
          representerSum: r.representerSum,
          decompositionError: r.decompositionError ?? null,
          pointsConsidered: r.pointsConsidered,
          excitatory: files.points.filter((p) => p.side === 'excitatory').map((p) => ({ id: p.id, row: p.row, col: p.col, alpha: p.alpha, similarity: p.similarity, representerValue: p.representerValue, cellBox: p.cellBox ?? null })),
          inhibitory: files.points.filter((p) => p.side === 'inhibitory').map((p) => ({ id: p.id, row: p.row, col: p.col, alpha: p.alpha, similarity: p.similarity, representerValue: p.representerValue, cellBox: p.cellBox ?? null })),
        },
        [
          `wrote ${files.html} (${r.mode} mode, region of ${r.region.cells} cells, score ${r.regionScore.toFixed(5)})`,
          best ? `top representer point: ${best.id} cell (${best.row}, ${best.col}), α=${best.alpha.toPrecision(4)}, similarity ${best.similarity.toFixed(4)}, value ${best.representerValue.toPrecision(4)}` : 'no excitatory point',
          ...(r.decompositionError !== undefined ? [`Σ representer values ${r.representerSum.toFixed(6)} vs region score ${r.regionScore.toFixed(6)} (error ${r.decompositionError.toExponential(2)})`] : [r.note]),
        ],
      );
    } finally {
      prog.stop();
    }
  },
};
