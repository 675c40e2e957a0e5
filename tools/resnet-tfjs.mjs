#!/usr/bin/env node
// ResNet-50 at 224², batch 1, through TF.js on the wasm backend with the native kernels (the path `uol` runs), for the
// figures behind README's performance notes on this path. Needs `npm run build` (imports dist/). Prints:
//  1. whole-network time with the UolBottleneck kernel (one native kernel per block) and without it (the block's
//     convolutions as separate TF.js ops), alternating in one process: best, 25th percentile and median of N passes;
//  2. in the bottleneck-kernel configuration, the time spent between kernels (TF.js's op overhead at batch 1);
//  3. MaxPool on ResNet's stem-pool shape (112×112×64, 3×3 stride 2 pad 1), native vs the plain wasm kernel.
// A developer tool, not a benchmark against a reference (for that: `uol bench --suite backbones`).
//
//   npm run build && node tools/resnet-tfjs.mjs        ISA auto
//   UOL_ISA=avx2 N=60 node tools/resnet-tfjs.mjs       forced AVX2, 60 alternations
import * as tf from '@tensorflow/tfjs-core';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

const dist = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'dist');
const { initEngine } = await import(path.join(dist, 'engine/backend.js'));
const { installNativeKernels, nativeStatus, withoutNativeKernels } = await import(path.join(dist, 'engine/native.js'));
const { backboneCases } = await import(path.join(dist, 'bench/backbones.js'));
const { runExtractor } = await import(path.join(dist, 'backbones/types.js'));

await initEngine({ backend: 'wasm' });
installNativeKernels('wasm', 'auto', { isa: process.env.UOL_ISA ?? 'auto' });
const status = nativeStatus();
if (!status?.enabled) throw new Error(`native kernels unavailable: ${status?.reason}`);
const c = backboneCases().find((k) => k.name === 'ResNet-50@224 B=1');
const fe = await c.make();
const x = tf.randomUniform([1, 224, 224, 3]);
const pass = async () => {
  const t0 = performance.now();
  const y = await runExtractor(fe, x);
  await y.data();
  y.dispose();
  return performance.now() - t0;
};
const stats = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return `best ${s[0].toFixed(1)}, p25 ${s[s.length >> 2].toFixed(1)}, median ${s[s.length >> 1].toFixed(1)} ms`;
};

// 1. Bottleneck kernel on/off, alternating (who goes first alternates too).
const block = tf.getKernel('UolBottleneck', 'wasm');
const times = { block: [], ops: [] };
for (let r = 0; r < Number(process.env.N ?? 40); r++) {
  for (const mode of r % 2 ? ['block', 'ops'] : ['ops', 'block']) {
    if (mode === 'ops') tf.unregisterKernel('UolBottleneck', 'wasm');
    await pass(); // one warm-up pass per switch
    times[mode].push(await pass());
    if (mode === 'ops') tf.registerKernel(block);
  }
}
console.log(`isa ${status.library?.isa}: one kernel per bottleneck block: ${stats(times.block)}`);
console.log(`isa ${status.library?.isa}: the blocks' convolutions as TF.js ops: ${stats(times.ops)}`);

// 2. Time between kernels (stamps around every kernel the network runs).
let stamps = [];
const wrapped = ['FusedConv2D', 'UolBottleneck', 'MaxPool'].map((name) => {
  const k = tf.getKernel(name, 'wasm');
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...k, kernelFunc: (args) => { const t0 = performance.now(); const out = k.kernelFunc(args); stamps.push([t0, performance.now()]); return out; } });
  return k;
});
let best = { ms: Infinity };
for (let r = 0; r < 20; r++) {
  stamps = [];
  const ms = await pass();
  if (ms < best.ms) best = { ms, stamps };
}
const gaps = best.stamps.slice(1).map((s, i) => s[0] - best.stamps[i][1]).sort((a, b) => a - b);
const inside = best.stamps.reduce((q, s) => q + s[1] - s[0], 0);
console.log(
  `best pass ${best.ms.toFixed(1)} ms: ${best.stamps.length} kernels, ${inside.toFixed(1)} ms inside them; between them ` +
    `${gaps.reduce((p, q) => p + q, 0).toFixed(2)} ms in all, median ${(1000 * gaps[gaps.length >> 1]).toFixed(0)} µs`,
);
for (const k of wrapped) {
  tf.unregisterKernel(k.kernelName, 'wasm');
  tf.registerKernel(k);
}

// 3. MaxPool on the stem-pool shape.
const p = tf.randomUniform([1, 112, 112, 64], -1, 1);
const time = (fn) => {
  for (let i = 0; i < 20; i++) fn();
  let b = Infinity;
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    fn();
    b = Math.min(b, performance.now() - t0);
  }
  return `${(1000 * b).toFixed(0)} µs`;
};
const pool = () => tf.maxPool(p, 3, 2, 1).dispose();
console.log(`MaxPool 112×112×64, 3×3/2: native ${time(pool)}, plain wasm ${withoutNativeKernels(() => time(pool))}`);
tf.dispose([x, p]);
fe.dispose?.();
