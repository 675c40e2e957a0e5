// The matmul benchmark suite's plumbing, the PyTorch reference runner's failure path, and the resource monitor.
// (No timing assertions: performance is measured by `uol bench`, not by tests.)
import { resetSettings } from '../src/util/settings.js';
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ResourceMonitor, summarize, type ResourceSample } from '../src/bench/monitor.js';
import { runTorch } from '../src/bench/torch.js';
import { matmulCases } from '../src/bench/matmul.js';
import { nativeConfigs } from '../src/bench/native-configs.js';
import { nativeStatus } from '../src/engine/native.js';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';
import { expectNoLeak } from './helpers/leak.js';

describe('bench: matmul suite', () => {
  it('covers the ViT-S Linear and attention shapes with correct FLOP counts', () => {
    const cases = matmulCases();
    const qkv = cases.find((c) => c.name.startsWith('vit.qkv [197,384]@[384,1152]'))!;
    expect(qkv.flops).to.equal(2 * 197 * 384 * 1152);
    const qk = cases.find((c) => c.name.startsWith('vit.q@kT'))!;
    expect(qk.flops).to.equal(2 * 6 * 197 * 197 * 64);
    expect(qk.op).to.include({ kind: 'matmul', transB: true });
    const av = cases.find((c) => c.name.startsWith('vit.attn@v'))!;
    expect(av.flops).to.equal(2 * 6 * 197 * 64 * 197);
    const stem = cases.find((c) => c.name.startsWith('r50.conv1'))!;
    expect(stem.flops).to.equal(2 * 112 * 112 * 64 * 7 * 7 * 3);
    expect(cases.some((c) => c.name.startsWith('vit.fc1 [197,384]@[384,1536]'))).to.equal(true);
  });

  it('uol bench --suite matmul writes JSON + Markdown rows for wasm (and wasm+native when built), leak-free', async () => {
    const out = tmpDir();
    const r = await expectNoLeak(() => runCli(['bench', '--suite', 'matmul', '--quick', '--filter', 'vit.q@kT', '--no-reference', '--out', out, '--json']), 'bench');
    expect(r.code, r.stderr).to.equal(0);
    const j = JSON.parse(readFileSync(path.join(out, 'bench.json'), 'utf8')) as { results: { case: string; metric: string; value: number; details: Record<string, unknown> }[] };
    const labels = j.results.map((x) => x.case.split(' · ')[1]);
    expect(labels).to.include(tf.getBackend() === 'wasm' ? 'wasm' : tf.getBackend());
    if (nativeStatus()?.enabled) expect(labels).to.include('wasm+native');
    // Every lower ISA level the CPU can be forced to is timed next to the default.
    if (nativeStatus()?.library?.isaDetected === 'avx512') expect(labels).to.include.members(['wasm+native avx2', 'wasm+native portable']);
    for (const x of j.results) {
      expect(x.metric).to.equal('GFLOP/s');
      expect(x.value).to.be.above(0);
      expect(x.details.reference).to.equal('skipped: --no-reference');
    }
    expect(readFileSync(path.join(out, 'bench.md'), 'utf8')).to.match(/\| matmul \| vit\.q@kT/);
    // The native kernels that were installed before the bench are installed after it.
    expect(nativeStatus()?.enabled ?? false).to.equal(!!nativeStatus()?.kernels.length);
  });

  it('a comparison build that exists but cannot run (built from an older source) is left out, with the reason', function () {
    const status = nativeStatus();
    if (!status?.enabled || status.library?.blas === 'openblas') this.skip();
    const dir = tmpDir();
    const stale = path.join(dir, 'stale-addon.cjs');
    writeFileSync(stale, 'module.exports = { matmul() {} };\n');
    const prev = process.env.UOL_BENCH_OPENBLAS_ADDON;
    process.env.UOL_BENCH_OPENBLAS_ADDON = stale;
    resetSettings();
    try {
      const skipped: string[] = [];
      const ids = nativeConfigs(status, undefined, skipped).map((c) => c.id);
      expect(ids).to.include('auto').and.not.include('openblas');
      expect(skipped).to.have.length(1);
      expect(skipped[0]).to.match(/^wasm\+native OpenBLAS: .*stale-addon\.cjs was built from an older source \(no linear, .*maxPool/);
    } finally {
      if (prev === undefined) delete process.env.UOL_BENCH_OPENBLAS_ADDON;
      else process.env.UOL_BENCH_OPENBLAS_ADDON = prev;
      resetSettings();
    }
  });

  it('the PyTorch reference is skipped with a reason when its Python is missing', async () => {
    const prev = process.env.UOL_TORCH_PYTHON;
    process.env.UOL_TORCH_PYTHON = '/nonexistent/python3';
    resetSettings();
    try {
      const r = await runTorch(['ops']);
      expect(r.ok).to.equal(false);
      if (!r.ok) expect(r.reason).to.match(/\/nonexistent\/python3 not found/);
    } finally {
      if (prev === undefined) delete process.env.UOL_TORCH_PYTHON;
      else process.env.UOL_TORCH_PYTHON = prev;
      resetSettings();
    }
  });
});

describe('bench: resource monitor', () => {
  const sample = (item: number, rss: number, numTensors: number): ResourceSample => ({ t: item, item, rss, heapUsed: 0, external: 0, numTensors, numBytes: 0 });

  it('summarize: peak, flat tensors and a zero RSS slope for a bounded run', () => {
    const s = summarize([sample(0, 100, 5), sample(1, 180, 5), sample(2, 150, 5), sample(3, 150, 5), sample(4, 150, 5), sample(5, 150, 5)]);
    expect(s.peakRss).to.equal(180);
    expect(s.tensorsFlat).to.equal(true);
    expect(s.rssSlopePerItem).to.equal(0);
  });

  it('summarize: a per-item leak shows as a slope and a growing tensor count', () => {
    const s = summarize([0, 1, 2, 3, 4, 5, 6, 7].map((i) => sample(i, 1000 + 64 * i, 10 + 2 * i)));
    expect(s.rssSlopePerItem).to.be.closeTo(64, 1e-9);
    expect(s.tensorsFlat).to.equal(false);
    expect([s.tensorsFirst, s.tensorsLast, s.tensorsMax]).to.deep.equal([10, 24, 24]);
  });

  it('ResourceMonitor samples the live process (tensors, RSS, wasm heap)', () => {
    const m = new ResourceMonitor();
    const kept: tf.Tensor[] = [];
    for (let i = 0; i < 4; i++) {
      m.sample(i);
      kept.push(tf.zeros([16]));
    }
    const s = m.stop();
    expect(s.tensorsLast - s.tensorsFirst).to.equal(3);
    expect(s.peakRss).to.be.above(0);
    if (tf.getBackend() === 'wasm') expect(s.peakWasmHeap).to.be.above(0);
    tf.dispose(kept);
  });
});
