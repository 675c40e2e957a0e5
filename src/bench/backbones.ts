/**
 * Benchmark: backbone forward passes (B = 1) on the active backend with synthetic full-size weights, per attention
 * implementation for ViTs (per-head 2-D matmuls vs batched 3-D matmuls), plus the embedded default. Reference: the
 * same architectures in PyTorch (tools/bench_backbones.py under /usr/bin/python3, 1 thread, since wasm here is
 * single-threaded), timed in the same run when Python and torch are available.
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { FAMILIES, resolvePreset, type BuildOptions } from '../backbones/archs.js';
import { buildBackbone, prepareWeights, type SourceTensor } from '../backbones/convert.js';
import { packageRoot } from '../backbones/paths.js';
import { DEFAULT_BACKBONE, loadBackbone } from '../backbones/registry.js';
import { syntheticSpecFor, syntheticWeights } from '../backbones/synthetic.js';
import type { FeatureExtractor } from '../backbones/types.js';
import type { BenchResult, BenchSuite } from './types.js';

interface Case {
  name: string;
  /** Key of the PyTorch reference (tools/bench_backbones.py), if any. */
  ref?: string;
  size: number;
  make: () => Promise<FeatureExtractor>;
}

async function synthetic(arch: string, patch: number | undefined, opts: BuildOptions): Promise<FeatureExtractor> {
  const preset = resolvePreset(arch, patch ? { patch, posGrid: 224 / patch } : undefined);
  const fam = FAMILIES[preset.family]!;
  const expected = fam.expected(preset.config).filter((e) => !e.unused);
  const w = syntheticWeights(syntheticSpecFor(expected));
  const src = new Map<string, SourceTensor>([...w].map(([k, v]) => [k, { shape: v.shape, dtype: 'float32', read: async () => v.data }]));
  const prep = await prepareWeights(arch, src, { where: `synthetic ${arch}`, ...(patch ? { patch } : {}) });
  return buildBackbone(prep.family, arch, prep.config, new Map(prep.weights.map((x) => [x.name, x])), { id: `synthetic-${arch}${patch ? `/${patch}` : ''}` }, opts);
}

const CASES: Case[] = [
  { name: 'ViT-S/16@224 per-head', ref: 'vits16', size: 224, make: () => synthetic('vit_small', 16, { attention: 'per-head' }) },
  { name: 'ViT-S/16@224 batched', ref: 'vits16', size: 224, make: () => synthetic('vit_small', 16, { attention: 'batched' }) },
  { name: 'ViT-S/8@224 per-head', ref: 'vits8', size: 224, make: () => synthetic('vit_small', 8, { attention: 'per-head' }) },
  { name: 'ViT-S/8@224 batched', ref: 'vits8', size: 224, make: () => synthetic('vit_small', 8, { attention: 'batched' }) },
  { name: 'ViT-B/16@224 per-head', ref: 'vitb16', size: 224, make: () => synthetic('vit_base', 16, { attention: 'per-head' }) },
  { name: 'DINOv2-S/14@224 per-head', ref: 'dinov2s14', size: 224, make: () => synthetic('dinov2_small', undefined, { attention: 'per-head' }) },
  { name: 'ResNet-50@224 ds32', ref: 'resnet50_ds32', size: 224, make: () => synthetic('resnet50', undefined, { downscale: 32 }) },
  { name: 'ResNet-50@224 ds16', ref: 'resnet50_ds16', size: 224, make: () => synthetic('resnet50', undefined, { downscale: 16 }) },
  { name: 'VGG16-BN@224 loc', ref: 'vgg16bn', size: 224, make: () => synthetic('vgg16_bn', undefined, {}) },
  { name: `${DEFAULT_BACKBONE}@224`, size: 224, make: () => loadBackbone(DEFAULT_BACKBONE) },
];

/** PyTorch timings (ms per image) of the reference script, or a reason why there are none. */
function torchReference(names: string[], reps: number): { ms: Record<string, number> } | { reason: string } {
  const script = path.join(packageRoot(), 'tools', 'bench_backbones.py');
  if (!existsSync(script)) return { reason: 'tools/bench_backbones.py not present (installed package)' };
  if (!existsSync('/usr/bin/python3')) return { reason: '/usr/bin/python3 not found' };
  const r = spawnSync('/usr/bin/python3', [script, String(reps), ...names], {
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_CORETYPE: process.env.OPENBLAS_CORETYPE ?? 'SKYLAKEX' },
    timeout: 30 * 60_000,
  });
  if (r.status !== 0) return { reason: `PyTorch reference failed: ${(r.stderr || r.error?.message || '').split('\n').filter(Boolean).pop() ?? 'unknown error'}` };
  return { ms: JSON.parse(r.stdout) as Record<string, number> };
}

export const backbonesSuite: BenchSuite = {
  name: 'backbones',
  description: 'backbone forward passes (B=1), ViT attention per-head vs batched, vs PyTorch (1 thread)',
  async run(opts) {
    const out: BenchResult[] = [];
    const cases = CASES.filter((c) => !opts.filter || c.name.includes(opts.filter));
    const reps = opts.quick ? 2 : 5;
    const refNames = [...new Set(cases.map((c) => c.ref).filter((r): r is string => !!r))];
    const ref = opts.noReference || refNames.length === 0 ? { reason: 'skipped' } : torchReference(refNames, reps);
    for (const c of cases) {
      const fe = await c.make();
      const x = tf.randomNormal([1, c.size, c.size, 3]) as tf.Tensor4D;
      try {
        tf.dispose(fe.extract(x)); // warm-up (kernel set-up, XNNPACK packing)
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < reps; i++) {
          const y = fe.extract(x);
          await y.data();
          y.dispose();
        }
        const ms = Number(process.hrtime.bigint() - t0) / 1e6 / reps;
        const r: BenchResult = { suite: 'backbones', case: c.name, metric: 'img/s', value: 1000 / ms, details: { msPerImage: ms, reps } };
        if (c.ref && 'ms' in ref && ref.ms[c.ref] !== undefined) {
          const t = ref.ms[c.ref]!;
          r.reference = { name: 'PyTorch 1 thread', value: 1000 / t };
          r.speedup = t / ms;
        } else if ('reason' in ref && c.ref) r.details!.reference = ref.reason;
        out.push(r);
      } finally {
        x.dispose();
        fe.dispose();
      }
      opts.onProgress?.({ stage: 'bench', done: out.length, total: cases.length, detail: c.name });
    }
    return out;
  },
};
