/**
 * Ablation across backbones (the paper's tables): for each backbone, fit the predictor on the base dataset's training
 * split (cached, resumable), evaluate RPS and optionally CAAM on the target dataset with the paper's protocol (cached),
 * and tabulate. Each finished step is written atomically to the cache directory, so an interrupted ablation resumes
 * where it stopped and a finished one is re-tabulated instantly.
 */
import * as path from 'node:path';
import { existsSync, mkdirSync } from 'node:fs';
import { writeFileAtomicSync } from '../util/fs.js';
import type { ProgressCallback } from '../util/progress.js';
import type { FeatureExtractor, Interpolation } from '../backbones/types.js';
import type { Resizer } from '../data/image-io.js';
import type { Dataset, DatasetRecord } from '../data/datasets/types.js';
import { type Predictor } from '../rps/predictor.js';
import { loadPredictor, savePredictor } from '../rps/node/predictor-file.js';
import { fitOnRecords } from './fit-run.js';
import { safeName } from './localize.js';
import { hashListing } from '../report/manifest.js';
import { readJsonBounded } from '../util/safe-read.js';

/** One backbone of an ablation. */
export interface AblationBackbone {
  /** Name as given (registry name or directory). */
  name: string;
  /** Loads it (at the ablation's downscale). */
  load(): Promise<FeatureExtractor>;
}

/** Metrics of one (backbone, method) cell, percentages. */
export type AblationMetrics = Record<string, number | string>;

/** One row of the table. */
export interface AblationRow {
  backbone: string;
  method: 'RPS' | 'CAAM';
  protocol: string;
  metrics: AblationMetrics;
  /** True when read from the cache. */
  cached: boolean;
}

/** Evaluates one method with a loaded backbone; returns flat metrics and the protocol label. */
export type AblationEvaluator = (backbone: FeatureExtractor, predictor: Predictor | undefined, outDir: string) => Promise<{ metrics: AblationMetrics; protocol: string }>;

/** Options of {@link runAblation}. */
export interface AblationOptions {
  backbones: AblationBackbone[];
  /** Training records of the base dataset (fit). */
  fitRecords: readonly DatasetRecord[];
  fitDescription: string;
  fitDataset?: Dataset;
  classwise?: boolean;
  caam?: boolean;
  size?: number;
  /** Fit resize filter instead of the backbone's (the release protocol: bilinear). */
  interpolation?: Interpolation;
  /** Fit resampler (`pil`: the release protocol). */
  resizer?: Resizer;
  batchSize?: number;
  skipBad?: boolean;
  /** Cache directory (one sub-directory per backbone). */
  cacheDir: string;
  evaluate: AblationEvaluator;
  tool: string;
  onProgress?: ProgressCallback;
  /** Called when a row is done (for live printing). */
  onRow?: (r: AblationRow) => void;
}

function readJson<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return readJsonBounded(file) as T;
  } catch {
    return undefined; // a torn file cannot exist (atomic writes), but a foreign one is simply recomputed
  }
}

/** Runs (or resumes) an ablation and returns its rows in backbone order, RPS before CAAM. */
export async function runAblation(o: AblationOptions): Promise<AblationRow[]> {
  const rows: AblationRow[] = [];
  const files = o.fitRecords.flatMap((r) => (r.file ? [r.file] : []));
  const listing = hashListing('fit', process.cwd(), files).sha256;
  for (const b of o.backbones) {
    const dir = path.join(o.cacheDir, safeName(b.name));
    mkdirSync(dir, { recursive: true });
    const methods: ('RPS' | 'CAAM')[] = o.caam ? ['RPS', 'CAAM'] : ['RPS'];
    const pending = methods.filter((m) => !readJson(path.join(dir, m.toLowerCase(), 'cell.json')));
    let backbone: FeatureExtractor | undefined;
    try {
      let predictor: Predictor | undefined;
      const predFile = path.join(dir, 'predictor.json');
      if (pending.includes('RPS')) {
        backbone = await b.load();
        if (existsSync(predFile)) predictor = loadPredictor(predFile);
        else {
          const fo: Parameters<typeof fitOnRecords>[0] = {
            backbone,
            records: o.fitRecords,
            size: o.size ?? 224,
            batchSize: o.batchSize ?? 1,
            skipBad: !!o.skipBad,
            classwise: !!o.classwise,
            sourceDescription: o.fitDescription,
            listingHash: listing,
            checkpointFile: path.join(dir, 'fit.ckpt.json'),
            tool: o.tool,
          };
          if (o.interpolation) fo.interpolation = o.interpolation;
          if (o.resizer) fo.resizer = o.resizer;
          if (o.onProgress) fo.onProgress = (e) => o.onProgress!({ ...e, stage: `fit ${b.name}` });
          if (o.fitDataset?.classNames) fo.classNames = o.fitDataset.classNames;
          predictor = (await fitOnRecords(fo)).predictor;
          savePredictor(predictor, predFile);
        }
      }
      for (const m of methods) {
        const cellFile = path.join(dir, m.toLowerCase(), 'cell.json');
        const cached = readJson<{ metrics: AblationMetrics; protocol: string }>(cellFile);
        let row: AblationRow;
        if (cached) row = { backbone: b.name, method: m, protocol: cached.protocol, metrics: cached.metrics, cached: true };
        else {
          backbone ??= await b.load();
          const r = await o.evaluate(backbone, m === 'RPS' ? predictor : undefined, path.join(dir, m.toLowerCase()));
          writeFileAtomicSync(cellFile, JSON.stringify(r, null, 1) + '\n');
          row = { backbone: b.name, method: m, protocol: r.protocol, metrics: r.metrics, cached: false };
        }
        rows.push(row);
        o.onRow?.(row);
      }
    } finally {
      backbone?.dispose();
    }
  }
  return rows;
}

/**
 * Columns of the table, in order (those present in any row): first the release's metrics under its own names
 * (validation.py: largest contour, raw boxes, one shared τ — resulttest.json's keys), then the wsolevaluation block,
 * prefixed `wsol.` (MaxBoxAcc = GT-known Loc; MaxBoxAccV2 over every contour with a τ per δ).
 */
export const ABLATION_COLUMNS = [
  'MaxBoxAccV2',
  'IOU30',
  'IOU50',
  'IOU70',
  'Top-1',
  'Top-5',
  'BestThreshold',
  'PxAP',
  'p-IOU',
  'wsol.MaxBoxAcc',
  'wsol.MaxBoxAccV2',
  'wsol.IoU30',
  'wsol.IoU50',
  'wsol.IoU70',
  'wsol.top1Loc',
  'wsol.top5Loc',
  'wsol.PxAP',
  'wsol.PIoU',
];

/** What the two column groups mean (a note for tables). */
export const ABLATION_COLUMNS_NOTE =
  "Columns without prefix: the authors' release's metrics as its resulttest.json names them (largest contour, raw box, (IOU70+IOU50+IOU30)/3 at one shared τ = BestThreshold; Top-1/Top-5 0 without a classifier). `wsol.` columns: wsolevaluation (MaxBoxAcc = GT-known Loc at δ=50; MaxBoxAccV2 over every contour with a τ per δ).";

/** The table as rows of cells (header first). */
export function ablationTable(rows: AblationRow[]): (string | number | undefined)[][] {
  const cols = ABLATION_COLUMNS.filter((c) => rows.some((r) => r.metrics[c] !== undefined));
  return [['backbone', 'method', ...cols], ...rows.map((r) => [r.backbone, r.method, ...cols.map((c) => r.metrics[c] as number | undefined)])];
}

/** Markdown of the table. */
export function ablationMarkdown(title: string, rows: AblationRow[], notes: string[]): string {
  const t = ablationTable(rows);
  const fmt = (v: string | number | undefined) => (v === undefined ? '' : typeof v === 'number' ? v.toFixed(2) : v);
  const lines = [`# ${title}`, '', ...notes.map((n) => `${n}`), '', `| ${t[0]!.join(' | ')} |`, `|${t[0]!.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`];
  for (const r of t.slice(1)) lines.push(`| ${r.map(fmt).join(' | ')} |`);
  return lines.join('\n') + '\n';
}

/** CSV of the table (RFC 4180 quoting). */
export function ablationCsv(rows: AblationRow[]): string {
  const t = ablationTable(rows);
  const q = (v: string | number | undefined) => {
    const s = v === undefined ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return t.map((r) => r.map(q).join(',')).join('\n') + '\n';
}
