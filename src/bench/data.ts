/**
 * Benchmark: image decode + resize throughput (sharp, jimp, PIL as the reference) on ~500×375 JPEGs on one core, and
 * the loader's overlap of decoding with compute.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { readImageResized, type Codec } from '../data/image-io.js';
import { loadBatches } from '../data/loader.js';
import { trainProtocol } from '../data/transforms.js';
import type { DatasetRecord } from '../data/datasets/types.js';
import type { InputContract } from '../backbones/types.js';
import type { BenchResult, BenchSuite } from './types.js';

const CONTRACT: InputContract = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], interpolation: 'bilinear', sizeMultiple: 1, minSize: 1, defaultSize: 224 };

/** ~500×375 JPEG q90 copies of the sample photos in data/ (the ImageNet/CUB typical size). */
async function makeJpegs(dir: string): Promise<string[]> {
  const src = readdirSync('data').filter((f) => f.endsWith('.jpg')).sort();
  const out: string[] = [];
  for (const f of src) {
    const file = path.join(dir, f);
    await sharp(path.join('data', f)).resize(500, 375, { fit: 'fill' }).jpeg({ quality: 90 }).toFile(file);
    out.push(file);
  }
  return out;
}

async function timeCodec(files: string[], codec: Codec, reps: number): Promise<number> {
  for (const f of files) await readImageResized(f, 224, 224, 'bilinear', { codec }); // warm-up
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) for (const f of files) await readImageResized(f, 224, 224, 'bilinear', { codec });
  return (reps * files.length) / ((performance.now() - t0) / 1000);
}

function pilReference(files: string[], reps: number): number | undefined {
  const py = `
import sys, time
from PIL import Image
files = sys.argv[2:]
reps = int(sys.argv[1])
for f in files: Image.open(f).convert('RGB').resize((224, 224), Image.BILINEAR)
t = time.perf_counter()
for _ in range(reps):
    for f in files:
        Image.open(f).convert('RGB').resize((224, 224), Image.BILINEAR)
print(reps * len(files) / (time.perf_counter() - t))
`;
  const r = spawnSync('/usr/bin/python3', ['-c', py, String(reps), ...files], { encoding: 'utf8', timeout: 300_000 });
  const v = Number(r.stdout.trim());
  return r.status === 0 && Number.isFinite(v) ? v : undefined;
}

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* synthetic compute: blocks the main thread as a wasm forward pass does */
  }
}

async function loaderRun(records: DatasetRecord[], batchSize: number, computeMs: number, concurrency: number): Promise<{ seconds: number; waitMs: number }> {
  const t0 = performance.now();
  const l = loadBatches({ records, protocol: trainProtocol(224), contract: CONTRACT, batchSize, concurrency, prefetch: 2 });
  for await (const b of l) {
    if (computeMs > 0) busy(computeMs);
    b.input.dispose();
  }
  return { seconds: (performance.now() - t0) / 1000, waitMs: l.stats.waitMs };
}

export const dataSuite: BenchSuite = {
  name: 'data',
  description: 'decode + Resize((224,224)) images/s (sharp, jimp; PIL reference) on 500×375 JPEGs, one core; loader overlap with compute',
  async run(opts) {
    const out: BenchResult[] = [];
    const dir = mkdtempSync(path.join(os.tmpdir(), 'uol-bench-data-'));
    const prevConcurrency = sharp.concurrency();
    try {
      const files = await makeJpegs(dir);
      const reps = opts.quick ? 3 : 15;
      sharp.concurrency(1);
      const ref = opts.noReference ? undefined : pilReference(files, reps);
      for (const codec of ['sharp', 'jimp'] as Codec[]) {
        const name = `${codec} decode+resize 500x375→224 (1 core)`;
        if (opts.filter && !name.includes(opts.filter)) continue;
        const v = await timeCodec(files, codec, codec === 'jimp' ? Math.max(1, Math.floor(reps / 3)) : reps);
        const r: BenchResult = { suite: 'data', case: name, metric: 'images/s', value: v, details: { images: files.length, resize: codec === 'sharp' ? 'libvips linear' : 'PIL-exact JS' } };
        if (ref) {
          r.reference = { name: 'PIL 9.4 open+convert+resize', value: ref };
          r.speedup = v / ref;
        }
        out.push(r);
        opts.onProgress?.({ stage: 'bench', done: out.length, detail: name });
      }
      sharp.concurrency(prevConcurrency);
      const n = opts.quick ? 48 : 192;
      const records: DatasetRecord[] = Array.from({ length: n }, (_, i) => ({ id: String(i), file: files[i % files.length]! }));
      const batch = 8;
      const conc = Math.max(4, 2 * os.cpus().length);
      let decodeOnly: { seconds: number; waitMs: number } | undefined;
      for (const ratio of [1, 3]) {
        const name = `loader overlap (sharp, batch 8, 224, compute = ${ratio}× decode)`;
        if (opts.filter && !name.includes(opts.filter)) continue;
        if (!decodeOnly) {
          await loaderRun(records.slice(0, 16), batch, 0, conc); // warm-up (worker start, caches)
          decodeOnly = await loaderRun(records, batch, 0, conc);
        }
        // A synthetic compute step per batch that blocks the main thread like a wasm forward pass.
        const computeMs = (ratio * decodeOnly.seconds * 1000) / (n / batch);
        const computeOnly = (computeMs * (n / batch)) / 1000;
        const both = await loaderRun(records, batch, computeMs, conc);
        out.push({
          suite: 'data',
          case: name,
          metric: 'decode hidden (0..1)',
          // Share of the decode-only time that did not add to the wall time when running with compute.
          value: (decodeOnly.seconds + computeOnly - both.seconds) / decodeOnly.seconds,
          details: {
            images: n,
            'decode only s': decodeOnly.seconds,
            'compute only s': computeOnly,
            'both s': both.seconds,
            'sum s': decodeOnly.seconds + computeOnly,
            'consumer wait ms': both.waitMs,
            'compute ms/batch': computeMs,
          },
        });
        opts.onProgress?.({ stage: 'bench', done: out.length, detail: name });
      }
    } finally {
      sharp.concurrency(prevConcurrency);
      rmSync(dir, { recursive: true, force: true });
    }
    return out;
  },
};
