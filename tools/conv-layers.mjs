#!/usr/bin/env node
// Times the native addon's conv2d alone on every convolution of ResNet-50 at 224² (or SHAPES), at one ISA level and
// conv mode, and sums them weighted by how often each layer occurs: the per-layer figures behind the kernel choices in
// native/src/compute.c (Winograd variant, K blocking). A developer tool, not a benchmark against a reference — for
// those, `uol bench --suite matmul` and `--suite backbones`.
//
//   node tools/conv-layers.mjs                     ISA auto, conv mode auto
//   ISA=1 MODES=1,2,3 node tools/conv-layers.mjs   AVX2; direct, Winograd F(2×2), F(4×4) side by side
//   FLUSH=1 node tools/conv-layers.mjs             evict the caches (64 MB written) before every call, as in a network
//
// ISA: -1 auto, 0 portable, 1 AVX2, 2 AVX-512. MODES: setConvMode values (-1 auto, 0 im2col, 1 direct, 2 F(2×2),
// 3 F(4×4)). SHAPES: name:H,W,C,OC,k[,stride[,count]];… ADDON: the .node file (default native/build/Release).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const addon = createRequire(import.meta.url)(process.env.ADDON ?? path.join(root, 'native/build/Release/uol_blas.node'));
addon.setIsa(Number(process.env.ISA ?? -1));
const RESNET50 = [
  'stem:224,224,3,64,7,2,1', 'l1.1x1a:56,56,64,64,1,1,1', 'l1.1x1b:56,56,256,64,1,1,2', 'l1.3x3:56,56,64,64,3,1,3',
  'l1.1x1c:56,56,64,256,1,1,4', 'l2.1x1a:56,56,256,128,1,1,1', 'l2.3x3s2:56,56,128,128,3,2,1', 'l2.down:56,56,256,512,1,2,1',
  'l2.1x1b:28,28,512,128,1,1,3', 'l2.3x3:28,28,128,128,3,1,3', 'l2.1x1c:28,28,128,512,1,1,4', 'l3.1x1a:28,28,512,256,1,1,1',
  'l3.3x3s2:28,28,256,256,3,2,1', 'l3.down:28,28,512,1024,1,2,1', 'l3.1x1b:14,14,1024,256,1,1,5', 'l3.3x3:14,14,256,256,3,1,5',
  'l3.1x1c:14,14,256,1024,1,1,6', 'l4.1x1a:14,14,1024,512,1,1,1', 'l4.3x3s2:14,14,512,512,3,2,1', 'l4.down:14,14,1024,2048,1,2,1',
  'l4.1x1b:7,7,2048,512,1,1,2', 'l4.3x3:7,7,512,512,3,1,2', 'l4.1x1c:7,7,512,2048,1,1,3',
];
const shapes = process.env.SHAPES ? process.env.SHAPES.split(';') : RESNET50;
const modes = (process.env.MODES ?? '-1').split(',').map(Number);
const flush = new Float32Array(process.env.FLUSH ? 16 * 1024 * 1024 : 1);
const total = new Map();
console.log(`isa ${addon.info().isa}, threads ${addon.info().threads}${process.env.FLUSH ? ', caches evicted before each call' : ''}`);
for (const s of shapes) {
  const [name, dims] = s.split(':');
  const [H, W, C, OC, k, st = 1, count = 1] = dims.split(',').map(Number);
  const pad = (k - 1) / 2;
  const OH = Math.floor((H + 2 * pad - k) / st) + 1, OW = Math.floor((W + 2 * pad - k) / st) + 1;
  const x = new Float32Array(H * W * C).map(() => Math.random() - 0.5);
  const f = new Float32Array(k * k * C * OC).map(() => Math.random() - 0.5);
  const out = new Float32Array(OH * OW * OC);
  const bias = new Float32Array(OC);
  const geom = [1, H, W, C, OH, OW, OC, k, k, st, st, 1, 1, pad, pad];
  const flops = 2 * OH * OW * C * OC * k * k;
  const row = [name.padEnd(10)];
  for (const m of modes) {
    addon.setConvMode(m);
    const p = addon.convPath(...geom);
    const kind = p === 'winograd' ? 2 : p === 'winograd4' ? 4 : 1;
    const packed = kind === 2 ? addon.packWinogradFilter(f, C, OC) : kind === 4 ? addon.packWinograd4Filter(f, C, OC) : addon.packConvFilter(f, k * k * C, OC);
    const run = () => addon.conv2d(x, f, out, ...geom, bias, 0, 0, 1, 1, 0, null, 0, 0, 0, packed, null, kind);
    for (let i = 0; i < 3; i++) run();
    let best = Infinity;
    for (let r = 0; r < 5; r++) {
      const n = Math.max(1, Math.round(2e8 / flops));
      let sum = 0;
      for (let i = 0; i < n; i++) {
        if (process.env.FLUSH) flush.fill(i);
        const t0 = process.hrtime.bigint();
        run();
        sum += Number(process.hrtime.bigint() - t0) / 1e6;
      }
      best = Math.min(best, sum / n);
    }
    row.push(`${p} ${best.toFixed(2)} ms ${(flops / best / 1e6).toFixed(0)} GFLOP/s ×${count}`);
    total.set(m, (total.get(m) ?? 0) + best * count);
  }
  console.log(row.join(' | '));
}
addon.setConvMode(-1);
console.log(`total ms (layers × their counts): ${[...total].map(([m, t]) => `mode ${m}: ${t.toFixed(1)}`).join(', ')}`);
