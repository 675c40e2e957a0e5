/**
 * `uol localize` on images: `--predictor P (IMAGES... | --dataset D --data-dir DIR) --out DIR`. Images given directly
 * are resized whole (no crop) to S×S, so maps and boxes cover the whole photo; a dataset uses its eval transform.
 * Writes boxes.json (per image: box in original image coordinates, score, threshold), maps/<id>.npy, optional
 * COCO pseudo-labels (--coco), overlays/<id>.png (--overlays), report.html and manifest.json.
 *
 * Long runs: every finished image is appended to `<out>/boxes.journal.jsonl` at once; killed and rerun with the same
 * arguments, the run skips the images already done and ends with the same boxes.json as an uninterrupted run. The
 * journal is removed when the final files are written.
 */
import * as path from 'node:path';
import { existsSync, mkdirSync } from 'node:fs';
import { UsageError } from '../../util/errors.js';
import { sha256Hex, writeFileAtomicSync } from '../../util/fs.js';
import { Journal } from '../../util/journal.js';
import { TOOL } from '../../version.js';
import type { EngineInfo } from '../../engine/backend.js';
import { checkInputSize } from '../../backbones/extract.js';
import { evalProtocol, wholeProtocol, describeProtocol, type Protocol } from '../../data/transforms.js';
import { type Predictor } from '../../rps/predictor.js';
import { loadPredictor } from '../../rps/node/predictor-file.js';
import { localizeRecords, outputNames, type ImageResult } from '../../pipeline/localize.js';
import { resolveInput } from '../../pipeline/input.js';
import { hashFile, RunRecorder } from '../../report/manifest.js';
import { toCoco } from '../../report/coco.js';
import { localizationReportHtml } from '../../report/run-report.js';
import type { ProgressCallback } from '../../util/progress.js';
import { backboneFor } from './evaluate-predictor.js';
import { claimOutDir } from '../../util/run-owner.js';
import { notice } from '../context.js';
import { resolveThreshold } from '../../rps/threshold.js';

/** Arguments of the image path of `uol localize`. */
export interface LocalizeImagesArgs {
  images?: string[];
  predictor?: string;
  caam: boolean;
  backbone?: string;
  dataset?: string;
  'data-dir'?: string;
  metadata?: string;
  split?: string;
  out: string;
  size?: string;
  threshold?: number;
  'all-boxes': boolean;
  coco: boolean;
  overlays: boolean;
  maps: boolean;
  'batch-size': number;
  'skip-bad': boolean;
  downscale?: 8 | 16 | 32;
  'class-wise': boolean;
}

/** Journal of finished images inside the output directory (removed when the run completes). */
export const JOURNAL_NAME = 'boxes.journal.jsonl';

/** One image of boxes.json (and one line of the journal). */
interface BoxesEntry {
  id: string;
  file?: string;
  width: number;
  height: number;
  threshold: number;
  /** [x0,y0,x1,y1] in original pixels (continuous edges), or null. */
  box: [number, number, number, number] | null;
  score: number | null;
  inputBox: [number, number, number, number] | null;
  allBoxes?: { box: [number, number, number, number]; score: number; inputBox: [number, number, number, number] }[];
  map?: string;
  overlay?: string;
  class?: number;
}

function boxesEntry(r: ImageResult): BoxesEntry {
  const e: BoxesEntry = { id: r.id, ...(r.file !== undefined ? { file: r.file } : {}), width: r.width, height: r.height, threshold: r.threshold, box: r.box?.box ?? null, score: r.box?.score ?? null, inputBox: r.box?.inputBox ?? null };
  if (r.allBoxes) e.allBoxes = r.allBoxes.map((b) => ({ box: b.box, score: b.score, inputBox: b.inputBox }));
  if (r.mapFile) e.map = r.mapFile;
  if (r.overlayFile) e.overlay = r.overlayFile;
  if (r.classUsed !== undefined) e.class = r.classUsed;
  return e;
}

/** Runs the image path; returns what the CLI prints. */
export async function runLocalizeImages(a: LocalizeImagesArgs, engine: EngineInfo, onProgress: ProgressCallback): Promise<{ json: Record<string, unknown>; text: string[] }> {
  if (!a.predictor && !a.caam) throw new UsageError('uol localize: give --predictor FILE (or --caam)');
  const predictor: Predictor | undefined = a.predictor ? loadPredictor(a.predictor) : undefined;
  const tau = resolveThreshold(predictor, a.threshold, '--threshold');
  const threshold = tau.value;
  const thresholdSource =
    tau.origin === 'given' ? '--threshold' : tau.origin === 'stored' ? `stored in the predictor (${tau.source})` : `${tau.source} (no τ stored: run \`uol evaluate\` on annotated data to choose one)`;
  const spec: Parameters<typeof resolveInput>[0] = {};
  if (a.images?.length) spec.images = a.images;
  if (a.dataset) spec.dataset = a.dataset;
  if (a['data-dir']) spec.dataDir = a['data-dir'];
  if (a.metadata) spec.metadata = a.metadata;
  if (a.split) spec.split = a.split;
  const input = await resolveInput(spec, ['test', 'all']);
  for (const n of input.notes ?? []) notice(n);
  const names = outputNames(input.records.map((r) => r.id));
  if (names.renamed.length && (a.maps || a.overlays)) notice(`${names.renamed.length} inputs would share an output name; written as: ${names.renamed.slice(0, 4).join(', ')}${names.renamed.length > 4 ? ', …' : ''}`);
  const backbone = await backboneFor(predictor, a.backbone, a.downscale, onProgress);
  try {
    let protocol: Protocol;
    if (input.dataset && !a.size) protocol = evalProtocol(input.dataset.evalProtocol.resize, input.dataset.evalProtocol.crop);
    else {
      const m = /^\s*(\d+)\s*(?:[,x]\s*(\d+))?\s*$/.exec(a.size ?? String(backbone.identity.input.defaultSize));
      if (!m || (m[2] !== undefined && m[2] !== m[1])) throw new UsageError(`--size "${a.size}": expected S (images are resized whole to S×S)`);
      const s = Number(m[1]);
      checkInputSize(s, backbone.identity.input);
      protocol = wholeProtocol(s);
    }
    const outDir = path.resolve(a.out);
    mkdirSync(outDir, { recursive: true });
    const recorder = new RunRecorder(engine);
    recorder.inputs.push(input.listing);
    const predictorHash = a.predictor ? hashFile('predictor', a.predictor) : undefined;
    if (predictorHash) recorder.inputs.push(predictorHash);
    // Finished images go to a journal as they complete; a rerun with the same arguments resumes from it (util/journal.ts).
    const fingerprint = sha256Hex(
      JSON.stringify({
        tool: TOOL,
        predictor: predictorHash?.sha256 ?? null,
        caam: a.caam,
        backbone: backbone.identity.id,
        downscale: backbone.identity.stride,
        transform: describeProtocol(protocol),
        threshold,
        allBoxes: a['all-boxes'],
        classWise: a['class-wise'],
        maps: a.maps,
        overlays: a.overlays,
        listing: input.listing.sha256,
      }),
    );
    const journalFile = path.join(outDir, JOURNAL_NAME);
    // Refused before anything is written when the directory holds another run (an unfinished one is its journal's to judge).
    const hadJournal = existsSync(journalFile);
    if (!hadJournal) claimOutDir(outDir, 'localize', fingerprint, ['boxes.json', 'maps', 'overlays', 'coco.json']);
    const opened = Journal.open<BoxesEntry>(journalFile, 'uol-localize', fingerprint);
    if (hadJournal) claimOutDir(outDir, 'localize', fingerprint);
    const done = new Map(opened.done.map((e) => [e.id, e]));
    const todo = done.size ? input.records.filter((r) => !done.has(r.id)) : input.records;
    const lo: Parameters<typeof localizeRecords>[0] = {
      backbone,
      caam: a.caam,
      records: todo,
      names: names.names,
      protocol,
      threshold,
      allBoxes: a['all-boxes'],
      useLabels: a['class-wise'],
      batchSize: a['batch-size'],
      skipBad: a['skip-bad'],
      outDir,
      saveMaps: a.maps,
      overlays: a.overlays,
      collectResults: false,
      onResult: (r) => {
        const e = boxesEntry(r);
        opened.journal.append(e);
        done.set(e.id, e);
      },
      onProgress,
    };
    if (predictor) lo.predictor = predictor;
    if (a.predictor) lo.predictorFile = a.predictor;
    let s: Awaited<ReturnType<typeof localizeRecords>>;
    try {
      s = await localizeRecords(lo);
    } finally {
      opened.journal.close();
    }
    const images = input.records.flatMap((r) => done.get(r.id) ?? []);
    const resumed = opened.done.length;
    const doc = {
      tool: TOOL,
      backbone: backbone.identity.id,
      predictor: a.predictor ?? null,
      method: a.caam ? 'caam' : (predictor?.method.name ?? 'closed-form'),
      transform: describeProtocol(protocol),
      mapSize: s.size,
      threshold: { value: threshold, source: thresholdSource },
      boxConvention: 'box: [x0,y0,x1,y1] in original image pixels, continuous edges (x1,y1 exclusive); inputBox: cv2.boundingRect [x,y,x+w,y+h] in the map frame',
      images,
      skipped: s.skipped,
      warnings: s.warnings,
    };
    writeFileAtomicSync(path.join(outDir, 'boxes.json'), JSON.stringify(doc, null, 1) + '\n');
    recorder.outputs.push(path.join(outDir, 'boxes.json'));
    if (a.coco) {
      const coco = toCoco(
        images.map((e) => ({
          fileName: e.file ? path.relative(outDir, e.file) : e.id,
          width: e.width,
          height: e.height,
          boxes: a['all-boxes'] ? (e.allBoxes ?? []).map((b) => ({ box: b.box, score: b.score })) : e.box ? [{ box: e.box, score: e.score! }] : [],
        })),
        TOOL,
      );
      writeFileAtomicSync(path.join(outDir, 'coco.json'), JSON.stringify(coco) + '\n');
      recorder.outputs.push(path.join(outDir, 'coco.json'));
    }
    const tiles = images.filter((e) => e.overlay).map((e) => ({ src: e.overlay!, title: e.id, lines: [e.box ? `box ${e.box.map((v) => Math.round(v)).join(', ')} · score ${e.score!.toFixed(2)}` : 'no box above τ'] }));
    if (tiles.length) {
      writeFileAtomicSync(
        path.join(outDir, 'report.html'),
        localizationReportHtml(`uol localize — ${backbone.identity.id}`, { tool: TOOL, backbone: backbone.identity.id, predictor: a.predictor ?? '(CAAM)', transform: describeProtocol(protocol), backend: engine.backend }, tiles, [`τ = ${threshold.toFixed(2)}: ${thresholdSource}.`]),
      );
      recorder.outputs.push(path.join(outDir, 'report.html'));
    }
    opened.journal.remove();
    const withBox = images.filter((e) => e.box).length;
    recorder.write(outDir, { images: images.length, skipped: s.skipped.length, withBox, threshold, resumed });
    const json = { out: outDir, images: images.length, withBox, skipped: s.skipped.length, resumed, threshold, thresholdSource, boxes: path.join(outDir, 'boxes.json') };
    const text = [
      ...(resumed ? [`resumed an interrupted run: ${resumed} images were already done (${JOURNAL_NAME})${opened.repaired ? '; a torn last line was dropped' : ''}`] : []),
      `localized ${images.length} images (${withBox} with a box) at τ = ${threshold.toFixed(2)} (${thresholdSource})`,
      `boxes: ${path.join(outDir, 'boxes.json')}${a.coco ? `, COCO: ${path.join(outDir, 'coco.json')}` : ''}${tiles.length ? `, report: ${path.join(outDir, 'report.html')}` : ''}`,
      ...(s.skipped.length ? [`skipped ${s.skipped.length} unreadable images (listed in boxes.json)`] : []),
    ];
    return { json, text };
  } finally {
    backbone.dispose();
  }
}
