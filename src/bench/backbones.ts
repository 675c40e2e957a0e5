/**
 * Benchmark: feature-extraction images/s of the paper's backbones — ViT-S/16 and ViT-S/8 at 224 and 448, ResNet-50 at
 * 224 and 448, VGG16-BN (the localization variant) at 224, the embedded MobileNetV2 — on the active backend (wasm
 * with the native kernels when they are built), against PyTorch on the same architecture, input size and batch
 * (tools/bench_torch.py under Debian's /usr/bin/python3: random weights, `torch.set_num_threads(2)`,
 * OPENBLAS_CORETYPE set), timed in the same run.
 *
 * Protocol, for a fair ratio on a shared, noisy machine: per case, rounds alternate between our backbone and torch's
 * (a pause between sides lets spinning BLAS/OpenMP threads of the other side go to sleep); each round times a few
 * forward passes after warm-up and keeps their median; each side's figure is its best round. Plain-wasm rows (native
 * kernels removed) are added for the 224 cases in full mode, for context. Peak RSS during a case and tensors left after
 * it are reported with each row (RSS is the process's, so a case's figure includes what earlier cases left in the wasm
 * heap: compare one backbone across builds with `--filter` runs).
 *
 * Native configurations: on the 224 B=1 cases every configuration of native-configs.ts is timed in the same rounds (the
 * ISA level the CPU picks, forced AVX2 and portable C, the OpenBLAS comparison build when built), one row each; the
 * default row adds its ratio to the OpenBLAS build.
 *
 * A second, tuned PyTorch is timed in the same rounds: the same 2 threads with `OMP_WAIT_POLICY=PASSIVE`. Debian's
 * torch runs OpenMP and OpenBLAS thread pools side by side, and their busy-waiting makes the default configuration
 * collapse (3–10× slower) whenever the machine has any other load, while on an idle machine the busy-waiting default is
 * faster for convolutions. `ratio vs best torch` compares with the faster of the two in every case — PyTorch at its
 * best here. (`UOL_BENCH_TORCH_TUNED=0` skips the tuned one; `UOL_BENCH_TORCH_THREADS` sets the threads of both.)
 */
import * as tf from '@tensorflow/tfjs-core';
import { FAMILIES, resolvePreset, type BuildOptions } from '../backbones/archs.js';
import { buildBackbone, prepareWeights, type SourceTensor } from '../backbones/node/convert.js';
import { DEFAULT_BACKBONE, loadBackbone } from '../backbones/node/registry.js';
import { syntheticSpecFor, syntheticWeights } from '../backbones/synthetic.js';
import { runExtractor, type FeatureExtractor } from '../backbones/types.js';
import { nativeStatus, restoreNativeKernels, uninstallNativeKernels } from '../engine/native.js';
import type { BenchResult, BenchSuite } from './types.js';
import { nativeConfigs } from './native-configs.js';
import { TorchServer, type TorchModelRequest } from './torch.js';
import { settings } from '../util/settings.js';

/** One benchmark case. */
export interface BackboneCase {
  /** Row name, e.g. `ViT-S/16@224 B=1`. */
  name: string;
  size: number;
  batch: number;
  /** In `--quick` runs. */
  quick: boolean;
  /** The same model in tools/bench_torch.py. */
  torch: Omit<TorchModelRequest, 'iters' | 'size' | 'batch'>;
  make: () => Promise<FeatureExtractor>;
}

async function synthetic(arch: string, patch: number | undefined, opts: BuildOptions = {}): Promise<FeatureExtractor> {
  const preset = resolvePreset(arch, patch ? { patch, posGrid: 224 / patch } : undefined);
  const fam = FAMILIES[preset.family]!;
  const expected = fam.expected(preset.config).filter((e) => !e.unused);
  const w = syntheticWeights(syntheticSpecFor(expected));
  const src = new Map<string, SourceTensor>([...w].map(([k, v]) => [k, { shape: v.shape, dtype: 'float32', read: async () => v.data }]));
  const prep = await prepareWeights(arch, src, { where: `synthetic ${arch}`, ...(patch ? { patch } : {}) });
  return buildBackbone(prep.family, arch, prep.config, new Map(prep.weights.map((x) => [x.name, x])), { id: `synthetic-${arch}${patch ? `/${patch}` : ''}` }, opts);
}

/** Every case, in run order. */
export function backboneCases(): BackboneCase[] {
  const vit16 = (): Promise<FeatureExtractor> => synthetic('vit_small', 16);
  const vit8 = (): Promise<FeatureExtractor> => synthetic('vit_small', 8);
  const r50 = (): Promise<FeatureExtractor> => synthetic('resnet50', undefined);
  return [
    { name: 'ViT-S/16@224 B=1', size: 224, batch: 1, quick: true, torch: { name: 'vit_small16' }, make: vit16 },
    { name: 'ViT-S/16@224 B=8', size: 224, batch: 8, quick: false, torch: { name: 'vit_small16' }, make: vit16 },
    { name: 'ViT-S/16@448 B=1', size: 448, batch: 1, quick: false, torch: { name: 'vit_small16' }, make: vit16 },
    { name: 'ViT-S/8@224 B=1', size: 224, batch: 1, quick: false, torch: { name: 'vit_small8' }, make: vit8 },
    { name: 'ViT-S/8@448 B=1', size: 448, batch: 1, quick: false, torch: { name: 'vit_small8' }, make: vit8 },
    { name: 'ResNet-50@224 B=1', size: 224, batch: 1, quick: true, torch: { name: 'resnet50', stride: 32 }, make: r50 },
    { name: 'ResNet-50@448 B=1', size: 448, batch: 1, quick: false, torch: { name: 'resnet50', stride: 32 }, make: r50 },
    { name: 'VGG16-BN(loc)@224 B=1', size: 224, batch: 1, quick: false, torch: { name: 'vgg16_bn_loc' }, make: () => synthetic('vgg16_bn', undefined) },
    { name: `MobileNetV2 (${DEFAULT_BACKBONE})@224 B=1`, size: 224, batch: 1, quick: true, torch: { name: 'mobilenet_v2' }, make: () => loadBackbone(DEFAULT_BACKBONE) },
  ];
}

/** Environment holding PyTorch to AVX2: oneDNN's ISA cap (both spellings) and ATen's CPU capability. */
export const TORCH_AVX2_ENV: Record<string, string> = { DNNL_MAX_CPU_ISA: 'AVX2', ONEDNN_MAX_CPU_ISA: 'AVX2', ATEN_CPU_CAPABILITY: 'avx2' };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Milliseconds per forward pass (features downloaded), `iters` times; samples RSS into `peak`. */
async function timeOurs(fe: FeatureExtractor, x: tf.Tensor4D, iters: number, peak: { rss: number }): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    const y = await runExtractor(fe, x);
    await y.data();
    y.dispose();
    ms.push(performance.now() - t0);
    peak.rss = Math.max(peak.rss, process.memoryUsage.rss());
  }
  return ms;
}

const MB = 1024 * 1024;

/** One timed configuration of our side. */
interface Run {
  id: string;
  label: string;
  apply?: () => void;
}

export const backbonesSuite: BenchSuite = {
  name: 'backbones',
  description: 'feature extraction images/s (ViT-S/16, S/8, ResNet-50, VGG16-BN, MobileNetV2) vs PyTorch (2 threads), same run, interleaved',
  async run(opts) {
    const out: BenchResult[] = [];
    const cases = backboneCases().filter((c) => (!opts.quick || c.quick) && (!opts.filter || c.name.includes(opts.filter)));
    const rounds = opts.quick ? 1 : 4;
    const torchThreads = settings().bench.torchThreads ?? 2;
    const torch = new TorchServer();
    let torchSkip = opts.noReference ? '--no-reference' : await torch.start(torchThreads);
    const tuned = new TorchServer();
    let tunedSkip = opts.noReference || !settings().bench.torchTuned ? 'skipped' : await tuned.start(torchThreads, { OMP_WAIT_POLICY: 'PASSIVE' });
    const before = nativeStatus();
    const backend = tf.getBackend();
    const ours = backend === 'wasm' ? (before?.enabled ? 'wasm+native' : 'wasm') : backend;
    // Native configurations (ISA levels, the OpenBLAS build): all of them on the 224 B=1 cases, the default elsewhere.
    const skipped: string[] = [];
    const configs = backend === 'wasm' ? nativeConfigs(before, undefined, skipped) : [];
    const runs: Run[] = configs.length ? configs.map((c) => ({ id: c.id, label: c.label, apply: c.apply })) : [{ id: 'auto', label: ours }];
    // Our forced-AVX2 row is also compared with PyTorch held to AVX2 (oneDNN and ATen), what an AVX2-only CPU runs.
    const torchAvx2 = new TorchServer();
    let avx2Skip = opts.noReference || !runs.some((r) => r.id === 'avx2') ? 'skipped' : await torchAvx2.start(torchThreads, TORCH_AVX2_ENV);
    try {
      for (const c of cases) {
        const tensors0 = tf.memory().numTensors;
        const fe = await c.make();
        const x = tf.randomNormal([c.batch, c.size, c.size, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
        const mine = runs.filter((r) => r.id === 'auto' || (c.size === 224 && c.batch === 1)).map((r) => ({ ...r, ms: [] as number[], iters: 1, peak: { rss: process.memoryUsage.rss() } }));
        const torchMs: number[] = [];
        const tunedMs: number[] = [];
        const avx2Ms: number[] = [];
        const timeAvx2 = !avx2Skip && mine.some((r) => r.id === 'avx2');
        let plainMs: number | undefined;
        try {
          // Warm-up per configuration: kernel set-up, filter packing, XNNPACK operator caches.
          for (const r of mine) {
            r.apply?.();
            const warm = await timeOurs(fe, x, 1, r.peak);
            r.iters = opts.quick ? 1 : Math.max(2, Math.min(10, Math.ceil(1200 / warm[0]!)));
          }
          for (let round = 0; round < rounds; round++) {
            // The configurations take turns at running first: the first one after PyTorch's timing shares the CPU
            // with its OpenMP threads still spinning down, which a fixed order would always charge to the same row.
            for (let k = 0; k < mine.length; k++) {
              const r = mine[(k + round) % mine.length]!;
              r.apply?.();
              r.ms.push(median(await timeOurs(fe, x, r.iters, r.peak)));
            }
            opts.onProgress?.({ stage: 'bench backbones', done: round + 1, total: rounds, detail: `${c.name} · ours` });
            const iters = mine[0]!.iters;
            for (const [server, sink, skip] of [[torch, torchMs, torchSkip], [tuned, tunedMs, tunedSkip], [torchAvx2, avx2Ms, timeAvx2 ? undefined : 'skipped']] as const) {
              if (skip) continue;
              await sleep(150);
              const t = await server.model({ ...c.torch, size: c.size, batch: c.batch, iters, warmup: 2 });
              if (typeof t !== 'string') sink.push(t.ms_median);
              else if (server === torch) torchSkip = t;
              else if (server === tuned) tunedSkip = t;
              else avx2Skip = t;
              await sleep(150);
            }
          }
          if (configs.length) restoreNativeKernels(before);
          // Plain wasm for context (224, B=1, full mode): the same model with the native kernels removed.
          if (!opts.quick && backend === 'wasm' && before?.enabled && c.size === 224 && c.batch === 1) {
            uninstallNativeKernels();
            try {
              await timeOurs(fe, x, 1, { rss: 0 });
              plainMs = median(await timeOurs(fe, x, 2, { rss: 0 }));
            } finally {
              restoreNativeKernels(before);
            }
          }
        } finally {
          if (configs.length) restoreNativeKernels(before);
          x.dispose();
          fe.dispose();
        }
        const tb = torchMs.length ? Math.min(...torchMs) : undefined;
        const tt = tunedMs.length ? Math.min(...tunedMs) : undefined;
        const openblasBest = mine.find((r) => r.id === 'openblas')?.ms;
        for (const run of mine) {
          const best = Math.min(...run.ms);
          const r: BenchResult = {
            suite: 'backbones',
            case: `${c.name} · ${run.label}`,
            metric: 'img/s',
            value: (1000 * c.batch) / best,
            details: {
              'ms/batch': best,
              'rounds ms': run.ms.map((v) => v.toFixed(1)).join(' '),
              'peak RSS MB': run.peak.rss / MB,
              'tensors left': tf.memory().numTensors - tensors0,
            },
          };
          if (tb !== undefined) {
            r.reference = { name: `PyTorch ${torch.env?.torch ?? ''} (${torchThreads} thr)`, value: (1000 * c.batch) / tb };
            r.speedup = tb / best;
            r.details!['torch ms/batch'] = tb;
            r.details!['torch rounds ms'] = torchMs.map((v) => v.toFixed(1)).join(' ');
          } else if (torchSkip) r.details!.reference = `skipped: ${torchSkip}`;
          if (tt !== undefined) {
            r.details!['torch tuned img/s'] = (1000 * c.batch) / tt;
            r.details!['ratio vs tuned'] = tt / best;
            r.details!['torch tuned rounds ms'] = tunedMs.map((v) => v.toFixed(1)).join(' ');
            if (tb !== undefined) r.details!['ratio vs best torch'] = Math.min(tt, tb) / best;
          }
          if (run.id === 'auto' && openblasBest?.length) r.details!['ratio vs OpenBLAS build'] = Math.min(...openblasBest) / best;
          if (run.id === 'avx2' && avx2Ms.length) {
            const ta = Math.min(...avx2Ms);
            r.details!['torch avx2 img/s'] = (1000 * c.batch) / ta;
            r.details!['ratio vs torch avx2'] = ta / best;
            r.details!['torch avx2 rounds ms'] = avx2Ms.map((v) => v.toFixed(1)).join(' ');
          }
          out.push(r);
        }
        if (plainMs !== undefined) {
          const p: BenchResult = { suite: 'backbones', case: `${c.name} · wasm (no native kernels)`, metric: 'img/s', value: (1000 * c.batch) / plainMs, details: { 'ms/batch': plainMs } };
          if (tb !== undefined) {
            p.reference = { name: `PyTorch ${torch.env?.torch ?? ''} (${torchThreads} thr)`, value: (1000 * c.batch) / tb };
            p.speedup = tb / plainMs;
          }
          out.push(p);
        }
      }
    } finally {
      await torch.close();
      await tuned.close();
      await torchAvx2.close();
    }
    if (skipped.length && out.length) {
      const last = out[out.length - 1]!;
      last.markdown = `${last.markdown ? `${last.markdown}\n\n` : ''}Configurations not timed: ${skipped.join('; ')}.\n`;
    }
    return out;
  },
};
