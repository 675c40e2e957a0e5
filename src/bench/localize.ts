/**
 * Benchmark: the whole localize pipeline (localizeRecords: decode in a worker → preprocess → backbone → maps →
 * boxes → map files) on the sample photos in data/ (500–640 px JPEGs), repeated.
 *
 * - Per-stage breakdown (ms per image, from the pipeline's timing hooks), images/s end to end, peak RSS and tensors
 *   left, for the default embedded MobileNetV2 and ViT-S/16 (synthetic weights).
 * - A long run (1,000 images; 60 with --quick; env `UOL_BENCH_LONG_RUN=N` for another length) with the resource
 *   monitor sampling at every image: live tensors must stay flat and RSS bounded. The curve is written as CSV + SVG into the output directory and summarised as sparklines.
 *
 * The predictor is a random unit w* for the backbone (timing does not depend on its values).
 */
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_BACKBONE, loadBackbone } from '../backbones/node/registry.js';
import type { FeatureExtractor } from '../backbones/types.js';
import { packageRoot } from '../backbones/node/paths.js';
import { wholeProtocol } from '../data/transforms.js';
import type { DatasetRecord } from '../data/datasets/types.js';
import { localizeRecords } from '../pipeline/localize.js';
import { PREDICTOR_FORMAT, PREDICTOR_VERSION, type Predictor } from '../rps/predictor.js';
import { writeFileAtomicSync } from '../util/fs.js';
import { StageTotals, type PipelineStage } from '../util/timing.js';
import { TOOL } from '../version.js';
import { backboneCases } from './backbones.js';
import { bucketMeans, samplesCsv, samplesSvg, sparkline } from './curve.js';
import { ResourceMonitor } from './monitor.js';
import type { BenchResult, BenchSuite } from './types.js';
import { settings } from '../util/settings.js';

const MB = 1024 * 1024;
const STAGES: PipelineStage[] = ['decode', 'wait', 'preprocess', 'backbone', 'map', 'boxes', 'write'];

/** The sample photos shipped in data/. */
function samplePhotos(): string[] {
  const dir = path.join(packageRoot(), 'data');
  return readdirSync(dir).filter((f) => /\.jpe?g$/i.test(f)).sort().map((f) => path.join(dir, f));
}

function records(files: string[], n: number): DatasetRecord[] {
  return Array.from({ length: n }, (_, i) => ({ id: `img${String(i).padStart(5, '0')}`, file: files[i % files.length]! }));
}

/** A predictor with a random unit w* for `fe` (seeded; timing does not depend on the values). */
function randomPredictor(fe: FeatureExtractor): Predictor {
  const C = fe.identity.channels;
  const w = tf.tidy(() => {
    const v = tf.randomNormal([C], 0, 1, 'float32', 11);
    return tf.div(v, tf.norm(v)).dataSync() as Float32Array;
  });
  return {
    format: PREDICTOR_FORMAT,
    version: PREDICTOR_VERSION,
    backbone: fe.identity,
    method: { name: 'closed-form' },
    classwise: false,
    classes: [],
    weights: Float32Array.from(w),
    statistics: [],
    created: { tool: TOOL, source: 'uol bench (random w*)' },
  };
}

interface PipelineCase {
  name: string;
  quick: boolean;
  make: () => Promise<FeatureExtractor>;
}

function pipelineCases(): PipelineCase[] {
  const vit = backboneCases().find((c) => c.name.startsWith('ViT-S/16@224'))!;
  return [
    { name: `${DEFAULT_BACKBONE}@224`, quick: true, make: () => loadBackbone(DEFAULT_BACKBONE) },
    { name: 'ViT-S/16@224 (synthetic weights)', quick: false, make: vit.make },
  ];
}

export const localizeSuite: BenchSuite = {
  name: 'localize',
  description: 'whole localize pipeline: images/s with a per-stage breakdown; 1,000-image run with RSS/tensor curve',
  async run(opts) {
    const out: BenchResult[] = [];
    const files = samplePhotos();
    const work = mkdtempSync(path.join(os.tmpdir(), 'uol-bench-localize-'));
    try {
      // 1. Per-stage breakdown.
      const n = opts.quick ? 16 : 96;
      for (const c of pipelineCases()) {
        const name = `pipeline ${c.name}, ${n} photos, batch 1, maps written`;
        if ((opts.quick && !c.quick) || (opts.filter && !name.includes(opts.filter))) continue;
        const fe = await c.make();
        try {
          const predictor = randomPredictor(fe);
          const base = { backbone: fe, predictor, protocol: wholeProtocol(224), threshold: 0.5, saveMaps: true, outDir: path.join(work, 'maps-run') };
          await localizeRecords({ ...base, records: records(files, 4) }); // warm-up (worker start, kernel set-up, packing)
          const tensors0 = tf.memory().numTensors;
          const totals = new StageTotals();
          const mon = new ResourceMonitor().start(100);
          const t0 = performance.now();
          await localizeRecords({ ...base, records: records(files, n), onTiming: totals.callback, onMap: () => void mon.sample() });
          const seconds = (performance.now() - t0) / 1000;
          const sum = mon.stop();
          const details: Record<string, number | string> = {};
          for (const s of STAGES) details[`${s} ms/img`] = totals.perImage(s);
          details['peak RSS MB'] = sum.peakRss / MB;
          details['tensors left'] = tf.memory().numTensors - tensors0;
          const rows = STAGES.map((s) => `| ${s} | ${totals.perImage(s).toFixed(2)} |`).join('\n');
          out.push({
            suite: 'localize',
            case: name,
            metric: 'img/s',
            value: n / seconds,
            details,
            markdown: `Per-stage time (ms per image; decode runs in a worker thread, overlapping the main thread — \`wait\` is the part that was not hidden):\n\n| stage | ms/img |\n|---|---:|\n${rows}\n| **wall clock** | **${((seconds * 1000) / n).toFixed(2)}** |\n`,
          });
        } finally {
          fe.dispose();
        }
        opts.onProgress?.({ stage: 'bench localize', done: out.length, detail: name });
      }

      // 2. Long run with the resource monitor.
      const long = settings().bench.longRun ?? (opts.quick ? 60 : 1000);
      const name = `${long}-image run (${DEFAULT_BACKBONE}@224): tensors and RSS per image`;
      if (!opts.filter || name.includes(opts.filter)) {
        const fe = await loadBackbone(DEFAULT_BACKBONE);
        try {
          const predictor = randomPredictor(fe);
          const tensorsBefore = tf.memory().numTensors;
          const mon = new ResourceMonitor();
          mon.sample();
          mon.start(250);
          let done = 0;
          const t0 = performance.now();
          await localizeRecords({
            backbone: fe, predictor, protocol: wholeProtocol(224), threshold: 0.5, records: records(files, long),
            // As `uol localize` runs it: results go to the journal, not into a growing array.
            collectResults: settings().bench.collect,
            onMap: () => {
              mon.sample(++done);
              if (done % 50 === 0) opts.onProgress?.({ stage: 'bench localize (long run)', done, total: long, unit: 'img' });
            },
          });
          const seconds = (performance.now() - t0) / 1000;
          const sum = mon.stop();
          const items = mon.samples.filter((s) => s.item !== undefined);
          const rss = items.map((s) => s.rss / MB);
          const tensors = items.map((s) => s.numTensors);
          const files2: string[] = [];
          if (opts.outDir) {
            writeFileAtomicSync(path.join(opts.outDir, 'localize-long-run.csv'), samplesCsv(mon.samples));
            const svg = samplesSvg(mon.samples, `uol localize, ${long} images (${DEFAULT_BACKBONE}), ${new Date().toISOString().slice(0, 10)}`);
            writeFileAtomicSync(path.join(opts.outDir, 'localize-long-run.svg'), svg);
            writeFileAtomicSync(path.join(opts.outDir, 'localize-long-run.png'), await sharp(Buffer.from(svg)).png().toBuffer());
            files2.push('localize-long-run.csv', 'localize-long-run.svg', 'localize-long-run.png');
          }
          const rssMin = Math.min(...rss);
          const rssMax = Math.max(...rss);
          const tMin = Math.min(...tensors);
          const tMax = Math.max(...tensors);
          const buckets = 40;
          const md = [
            `Sampled after every image (${items.length} samples). Buckets of ${Math.ceil(items.length / buckets)} images, left to right:`,
            '',
            `- RSS ${rssMin.toFixed(0)}–${rssMax.toFixed(0)} MB: \`${sparkline(bucketMeans(rss, buckets), 0, rssMax * 1.15)}\` (scale 0–${(rssMax * 1.15).toFixed(0)} MB)`,
            `- RSS zoomed to its own range (${rssMin.toFixed(0)}–${rssMax.toFixed(0)} MB): \`${sparkline(bucketMeans(rss, buckets))}\``,
            `- live tensors ${tMin}–${tMax}: \`${sparkline(bucketMeans(tensors, buckets), 0, Math.max(tMax, 1) * 1.15)}\` (scale 0–${(Math.max(tMax, 1) * 1.15).toFixed(0)})`,
            `- RSS slope over the second half: ${((sum.rssSlopePerItem ?? 0) / 1024).toFixed(2)} KB/image`,
            files2.length ? `- curve: ${files2.map((f) => `[${f}](${f})`).join(', ')}` : '',
            '',
          ].join('\n');
          out.push({
            suite: 'localize',
            case: name,
            metric: 'img/s',
            value: long / seconds,
            details: {
              'tensors before run': tensorsBefore,
              'tensors after run': tf.memory().numTensors,
              'tensors first': sum.tensorsFirst,
              'tensors last': sum.tensorsLast,
              'tensors max': sum.tensorsMax,
              'tensors flat': sum.tensorsFlat ? 'yes' : 'no',
              'RSS min MB': rssMin,
              'RSS max MB': rssMax,
              'RSS first MB': sum.firstRss / MB,
              'RSS last MB': sum.lastRss / MB,
              'RSS slope KB/img (2nd half)': (sum.rssSlopePerItem ?? 0) / 1024,
              ...(sum.peakWasmHeap !== undefined ? { 'wasm heap MB': sum.peakWasmHeap / MB } : {}),
            },
            markdown: md,
            files: files2,
          });
        } finally {
          fe.dispose();
        }
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    return out;
  },
};
