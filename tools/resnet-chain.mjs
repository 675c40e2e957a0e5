#!/usr/bin/env node
// ResNet-50's 53 convolutions at 224², in network order, through the native addon alone (no TF.js): every layer with
// its own random weights (packed as the engine packs them), each output feeding the next layer, the residual adds
// fused into the block's last 1×1 convolution as in the engine. Prints the chained time (best of 30 passes), the sum
// of the per-layer minima inside the chain, and the sum of the same layers each timed alone and warm (weights and
// activations in cache). The gap between the last two is what batch-1 inference loses to memory: 100 MB of weights
// and the activations leave the caches between layers. A developer tool behind README's performance notes, not a
// benchmark against a reference (for those: `uol bench --suite backbones`).
//
//   node tools/resnet-chain.mjs          ISA auto
//   ISA=1 V=1 node tools/resnet-chain.mjs   AVX2 (0 portable, 2 AVX-512); V=1 adds one line per layer
//   THREADS=1 ADDON=path/to/uol_blas.node node tools/resnet-chain.mjs
//   MODE=1 node tools/resnet-chain.mjs   the addon's setConvMode (1 direct only, 2 / 3 Winograd F(2×2) / F(4×4) wherever it applies)
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const addon = createRequire(import.meta.url)(process.env.ADDON ?? path.join(root, 'native/build/Release/uol_blas.node'));
addon.setIsa(Number(process.env.ISA ?? -1));
if (process.env.THREADS) addon.setThreads(Number(process.env.THREADS));
if (process.env.MODE) addon.setConvMode(Number(process.env.MODE));

// Layers in execution order. `role`: 'a' first 1×1 of a block (its input is the block input), 'b' the 3×3, 'down' the
// projection shortcut (reads the block input), 'c' the last 1×1 (adds the shortcut: the projection or the block input).
const layers = [{ role: 'stem', H: 224, C: 3, OC: 64, k: 7, s: 2 }, { role: 'pool' }];
let H = 56;
let C = 64;
for (const [width, blocks, stride] of [[64, 3, 1], [128, 4, 2], [256, 6, 2], [512, 3, 2]]) {
  for (let i = 0; i < blocks; i++) {
    const s = i === 0 ? stride : 1;
    layers.push({ role: 'a', H, C, OC: width, k: 1, s: 1 });
    layers.push({ role: 'b', H, C: width, OC: width, k: 3, s });
    if (i === 0) layers.push({ role: 'down', H, C, OC: 4 * width, k: 1, s });
    H /= s;
    layers.push({ role: 'c', H, C: width, OC: 4 * width, k: 1, s: 1 });
    C = 4 * width;
  }
}
const random = (n) => Float32Array.from({ length: n }, () => (Math.random() - 0.5) * 0.1);
for (const l of layers) {
  if (l.role === 'pool') continue;
  const pad = (l.k - 1) >> 1;
  l.OH = Math.floor((l.H + 2 * pad - l.k) / l.s) + 1;
  l.geom = [1, l.H, l.H, l.C, l.OH, l.OH, l.OC, l.k, l.k, l.s, l.s, 1, 1, pad, pad];
  const filter = random(l.k * l.k * l.C * l.OC);
  l.path = addon.convPath(...l.geom);
  l.kind = l.path === 'winograd' ? 2 : l.path === 'winograd4' ? 4 : 1;
  l.packed =
    l.kind === 2 ? addon.packWinogradFilter(filter, l.C, l.OC)
    : l.kind === 4 ? addon.packWinograd4Filter(filter, l.C, l.OC)
    : addon.packConvFilter(filter, l.k * l.k * l.C, l.OC);
  l.bias = random(l.OC);
  l.out = new Float32Array(l.OH * l.OH * l.OC);
}
const conv = (l, input, residual) =>
  addon.conv2d(input, null, l.out, ...l.geom, l.bias, 0, 0, 1, 1, 0, null, 0, 0, 0, l.packed, residual, l.kind);
const image = random(224 * 224 * 3);
const pooled = random(56 * 56 * 64); // the max pool's output (pooling is not timed here)
const now = () => Number(process.hrtime.bigint()) / 1e6;

/** One pass in network order; with `minima`, also keeps each layer's best time. */
function pass(minima) {
  let x = image;
  let blockIn = null;
  let shortcut = null;
  layers.forEach((l, i) => {
    if (l.role === 'pool') {
      x = pooled;
      return;
    }
    if (l.role === 'a') blockIn = x;
    const input = l.role === 'down' ? blockIn : x;
    const residual = l.role === 'c' ? (shortcut ?? blockIn) : null;
    const t0 = minima ? now() : 0;
    conv(l, input, residual);
    if (minima) minima[i] = Math.min(minima[i] ?? Infinity, now() - t0);
    if (l.role === 'down') shortcut = l.out;
    else x = l.out;
    if (l.role === 'c') shortcut = null;
  });
}
for (let i = 0; i < 5; i++) pass();
let chained = Infinity;
const minima = [];
for (let r = 0; r < 30; r++) {
  const t0 = now();
  pass(minima);
  chained = Math.min(chained, now() - t0);
}
const alone = layers.map((l) => {
  if (l.role === 'pool') return 0;
  const input = random(l.H * l.H * l.C);
  const residual = l.role === 'c' ? random(l.out.length) : null;
  for (let i = 0; i < 3; i++) conv(l, input, residual);
  let best = Infinity;
  for (let i = 0; i < 20; i++) {
    const t0 = now();
    conv(l, input, residual);
    best = Math.min(best, now() - t0);
  }
  return best;
});
const sum = (a) => a.reduce((s, t) => s + (t || 0), 0);
const info = addon.info();
console.log(
  `isa ${info.isa}, ${info.threads} threads: chained ${chained.toFixed(1)} ms (per-layer minima in the chain ` +
    `${sum(minima).toFixed(1)} ms); each layer alone, warm: ${sum(alone).toFixed(1)} ms`,
);
if (process.env.V) {
  layers.forEach((l, i) => {
    if (l.role === 'pool') return;
    const shape = `${l.H}² ${l.C}→${l.OC} k${l.k} s${l.s}`;
    console.log(`${l.role.padEnd(4)} ${shape.padEnd(24)} ${l.path.padEnd(13)} chained ${minima[i].toFixed(3)}  alone ${alone[i].toFixed(3)} ms`);
  });
}
