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
import { checkInputSize } from '../../data/input-contract.js';
import { evalProtocol, wholeProtocol, describeProtocol, type Protocol } from '../../data/transforms.js';
import { type Predictor } from '../../rps/predictor.js';
import { loadPredictor } from '../../rps/node/predictor-file.js';
import { localizeRecords, outputNames } from '../../pipeline/localize.js';
import { resolveInput } from '../../pipeline/input.js';
import { hashFile, RunRecorder } from '../../report/manifest.js';
import { boxesDocumentOf, boxesEntry, cocoFromEntries, encodeBoxesFile, encodeCocoFile, type BoxesFileEntry } from '../../report/boxes-file.js';
import { localizationReportHtml } from '../../report/run-report.js';
import type { ProgressCallback } from '../../util/progress.js';
import { loadBackboneFor } from '../../backbones/node/registry.js';
import { datasetSpec } from './protocol-args.js';
import { claimOutDir } from '../../util/run-owner.js';
import { notice } from '../context.js';
import { resolveThreshold } from '../../rps/threshold.js';
import type { SharedArgs } from './shared-options.js';

/** Arguments of the image path of `uol localize`. */
export interface LocalizeImagesArgs extends SharedArgs<'predictor' | 'caam' | 'backbone' | 'downscale' | 'dataset' | 'data-dir' | 'metadata' | 'split' | 'batch-size' | 'skip-bad' | 'threshold' | 'resizer'> {
  images?: string[];
  out: string;
  size?: string;
  'all-boxes': boolean;
  coco: boolean;
  overlays: boolean;
  maps: boolean;
  'class-wise': boolean;
}

/** Journal of finished images inside the output directory (removed when the run completes). */
export const JOURNAL_NAME = 'boxes.journal.jsonl';

/** Runs the image path; returns what the CLI prints. */
export async function runLocalizeImages(a: LocalizeImagesArgs, engine: EngineInfo, onProgress: ProgressCallback): Promise<{ json: Record<string, unknown>; text: string[] }> {
  if (!a.predictor && !a.caam) throw new UsageError('uol localize: give --predictor FILE (or --caam)');
  const predictor: Predictor | undefined = a.predictor ? loadPredictor(a.predictor) : undefined;
  const tau = resolveThreshold(predictor, a.threshold, '--threshold');
  const threshold = tau.value;
  const thresholdSource =
    tau.origin === 'given' ? '--threshold' : tau.origin === 'stored' ? `stored in the predictor (${tau.source})` : `${tau.source} (no τ stored: run \`uol evaluate\` on annotated data to choose one)`;
  const input = await resolveInput({ images: a.images?.length ? a.images : undefined, ...datasetSpec(a), split: a.split || undefined }, ['test', 'all']);
  for (const n of input.notes ?? []) notice(n);
  const names = outputNames(input.records.map((r) => r.id));
  if (names.renamed.length && (a.maps || a.overlays)) notice(`${names.renamed.length} inputs would share an output name; written as: ${names.renamed.slice(0, 4).join(', ')}${names.renamed.length > 4 ? ', …' : ''}`);
  const backbone = await loadBackboneFor(predictor?.backbone, a.backbone, a.downscale, onProgress);
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
        ...(a.resizer ? { resizer: a.resizer } : {}),
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
    const opened = Journal.open<BoxesFileEntry>(journalFile, 'uol-localize', fingerprint);
    if (hadJournal) claimOutDir(outDir, 'localize', fingerprint);
    const done = new Map(opened.done.map((e) => [e.id, e]));
    const todo = done.size ? input.records.filter((r) => !done.has(r.id)) : input.records;
    let s: Awaited<ReturnType<typeof localizeRecords>>;
    try {
      s = await localizeRecords({
        backbone,
        predictor,
        predictorFile: a.predictor,
        caam: a.caam,
        records: todo,
        names: names.names,
        protocol,
        ...(a.resizer ? { resizer: a.resizer } : {}),
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
      });
    } finally {
      opened.journal.close();
    }
    const images = input.records.flatMap((r) => done.get(r.id) ?? []);
    const resumed = opened.done.length;
    const doc = boxesDocumentOf(images, {
      tool: TOOL,
      backbone: backbone.identity.id,
      predictor: a.predictor ?? null,
      method: a.caam ? 'caam' : (predictor?.method.name ?? 'closed-form'),
      transform: describeProtocol(protocol),
      mapSize: s.size,
      threshold: { value: threshold, source: thresholdSource },
      skipped: s.skipped,
      warnings: s.warnings,
    });
    writeFileAtomicSync(path.join(outDir, 'boxes.json'), encodeBoxesFile(doc));
    recorder.outputs.push(path.join(outDir, 'boxes.json'));
    if (a.coco) {
      const coco = cocoFromEntries(images, TOOL, { allBoxes: a['all-boxes'], fileName: (e) => (e.file ? path.relative(outDir, e.file) : e.id) });
      writeFileAtomicSync(path.join(outDir, 'coco.json'), encodeCocoFile(coco));
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
