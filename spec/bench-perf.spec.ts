// Smoke tests of the performance benchmark suites (`uol bench --suite backbones|localize`) and their renderers. No
// timing assertions: the numbers are measured by `uol bench`, not by tests; these check that the suites run, report
// what the issue asks for (images/s, per-stage breakdown, RSS, tensors alive, the long-run curve files) and leak nothing.
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { backboneCases } from '../src/bench/backbones.js';
import { bucketMeans, samplesCsv, samplesSvg, sparkline } from '../src/bench/curve.js';
import type { ResourceSample } from '../src/bench/monitor.js';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';
import { expectNoLeak } from './helpers/leak.js';

interface Row {
  suite: string;
  case: string;
  metric: string;
  value: number;
  details: Record<string, number | string>;
  files?: string[];
}

describe('bench: backbones and localize suites', () => {
  it('lists the models of the issue, each with a PyTorch twin', () => {
    const names = backboneCases().map((c) => c.name);
    for (const want of ['ViT-S/16@224', 'ViT-S/16@448', 'ViT-S/8@224', 'ViT-S/8@448', 'ResNet-50@224', 'ResNet-50@448', 'VGG16-BN', 'MobileNetV2']) {
      expect(names.some((n) => n.startsWith(want)), want).to.equal(true);
    }
    for (const c of backboneCases()) expect(c.torch.name).to.match(/^(vit_small16|vit_small8|resnet50|vgg16_bn_loc|mobilenet_v2)$/);
  });

  it('uol bench --suite backbones --quick (one model, no reference) reports img/s, RSS and tensors left, leak-free', async () => {
    const out = tmpDir();
    const r = await expectNoLeak(() => runCli(['bench', '--suite', 'backbones', '--quick', '--filter', 'MobileNetV2', '--no-reference', '--out', out, '--json']), 'bench backbones');
    expect(r.code, r.stderr).to.equal(0);
    const j = JSON.parse(readFileSync(path.join(out, 'bench.json'), 'utf8')) as { results: Row[] };
    expect(j.results).to.have.length(1);
    const row = j.results[0]!;
    expect(row.metric).to.equal('img/s');
    expect(row.value).to.be.above(0);
    expect(row.details['tensors left']).to.equal(0);
    expect(row.details['peak RSS MB']).to.be.above(0);
    expect(row.details.reference).to.equal('skipped: --no-reference');
  });

  it('uol bench --suite localize --quick: per-stage breakdown and the long-run curve (flat tensors), files written', async function () {
    this.timeout(300_000);
    const out = tmpDir();
    const r = await runCli(['bench', '--suite', 'localize', '--quick', '--out', out, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const j = JSON.parse(readFileSync(path.join(out, 'bench.json'), 'utf8')) as { results: Row[] };
    const pipe = j.results.find((x) => x.case.startsWith('pipeline'))!;
    for (const s of ['decode', 'wait', 'preprocess', 'backbone', 'map', 'boxes', 'write']) expect(pipe.details[`${s} ms/img`], s).to.be.a('number');
    expect(pipe.details['backbone ms/img']).to.be.above(0);
    expect(pipe.details['tensors left']).to.equal(0);
    const long = j.results.find((x) => x.case.includes('image run'))!;
    expect(long.details['tensors flat']).to.equal('yes');
    expect(long.details['tensors after run']).to.equal(long.details['tensors before run']);
    for (const f of long.files ?? []) expect(existsSync(path.join(out, f)), f).to.equal(true);
    expect(long.files).to.include.members(['localize-long-run.csv', 'localize-long-run.svg', 'localize-long-run.png']);
    const md = readFileSync(path.join(out, 'bench.md'), 'utf8');
    expect(md).to.match(/\| backbone \| [\d.]+ \|/);
    expect(md).to.match(/live tensors \d+–\d+: `[▁▂▃▄▅▆▇█]+`/);
  });
});

describe('bench: curve renderers', () => {
  const samples: ResourceSample[] = [1, 2, 3, 4].map((i) => ({ t: i * 10, item: i, rss: (100 + i) * 1048576, heapUsed: 1048576, external: 2097152, numTensors: 7, numBytes: 4096, wasmHeap: 16777216 }));

  it('CSV has one row per item sample with MB columns', () => {
    const csv = samplesCsv([...samples, { t: 1, rss: 1, heapUsed: 1, external: 1, numTensors: 1, numBytes: 1 }]).trim().split('\n');
    expect(csv[0]).to.equal('item,t_ms,rss_mb,heap_used_mb,external_mb,wasm_heap_mb,tensors,tensor_mb');
    expect(csv).to.have.length(5);
    expect(csv[1]).to.equal('1,10,101.00,1.00,2.00,16.00,7,0.00');
  });

  it('bucket means and sparklines', () => {
    expect(bucketMeans([1, 2, 3, 4, 5, 6], 3)).to.deep.equal([1.5, 3.5, 5.5]);
    expect(bucketMeans([1, 2], 5)).to.deep.equal([1, 2]);
    expect(sparkline([0, 7], 0, 7)).to.equal('▁█');
    expect(sparkline([3, 3, 3])).to.equal('▁▁▁');
    expect(sparkline([])).to.equal('');
  });

  it('SVG has both panels and escapes the title', () => {
    const svg = samplesSvg(samples, 'a <b> & c');
    expect(svg).to.match(/^<svg /);
    expect(svg.match(/<polyline /g)).to.have.length(3);
    expect(svg).to.include('a &lt;b> &amp; c');
  });
});
