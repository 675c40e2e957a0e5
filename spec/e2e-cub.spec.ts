// End to end on a tiny CUB-layout dataset of real photos (data/tiny-cub) with the embedded backbone:
// fit → evaluate (numbers agree with `uol evaluate --scoremaps` on the exported maps) → localize → ablate (resumes
// from its cache); kill -9 during a fit and rerun gives the identical predictor; shards 1/3..3/3 merged too.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';
import { readNpySync } from '../src/io/npy.js';

const CUB = path.resolve('data/tiny-cub');

function json<T>(s: string): T {
  return JSON.parse(s) as T;
}

describe('end to end on tiny-cub (real photos, embedded backbone)', function () {
  this.timeout(300_000);
  const dir = tmpDir();
  const pred = path.join(dir, 'predictor.json');

  it('fit → evaluate → the same numbers from uol evaluate --scoremaps on the saved maps', async () => {
    let r = await runCli(['fit', '--dataset', 'cub', '--data-dir', CUB, '--classwise', '--out', pred, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const fit = json<{ images: number; classes: number; backbone: string }>(r.stdout);
    expect(fit.images).to.equal(6);
    expect(fit.classes).to.equal(6);
    expect(existsSync(`${pred}.manifest.json`)).to.equal(true);
    const ev = path.join(dir, 'eval');
    const exp = path.join(dir, 'export');
    r = await runCli(['evaluate', '--predictor', pred, '--dataset', 'cub', '--data-dir', CUB, '--out', ev, '--export-scoremaps', exp, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const full = json<Record<string, number> & { protocol: string; threshold: { value: number }; images: number }>(r.stdout);
    expect(full.protocol).to.equal('oracle (test)');
    expect(full.images).to.equal(7);
    for (const f of ['results.json', 'results.md', 'report.html', 'manifest.json']) expect(existsSync(path.join(ev, f)), f).to.equal(true);
    expect(readdirSync(path.join(ev, 'overlays')).length).to.be.greaterThan(0);
    const stored = json<{ threshold: { value: number } }>(readFileSync(pred, 'utf8'));
    expect(stored.threshold.value).to.equal(full.threshold.value);
    r = await runCli(['evaluate', '--scoremaps', path.join(exp, 'scoremaps'), '--metadata', path.join(exp, 'metadata'), '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const saved = json<Record<string, number>>(r.stdout);
    for (const k of ['MaxBoxAcc', 'MaxBoxAccV2', 'MaxBoxAccV2_release', 'IoU30', 'IoU50', 'IoU70', 'bestThreshold']) expect(saved[k], k).to.equal(full[k]);
  });

  it('localize writes boxes in original coordinates, maps, COCO and overlays with the stored τ', async () => {
    const out = path.join(dir, 'loc');
    const r = await runCli(['localize', '--predictor', pred, '--dataset', 'cub', '--data-dir', CUB, '--out', out, '--coco', '--overlays', '--all-boxes', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const doc = json<{ threshold: { value: number; source: string }; mapSize: number[]; images: { id: string; width: number; height: number; box: number[] | null; map: string; allBoxes: unknown[] }[] }>(readFileSync(path.join(out, 'boxes.json'), 'utf8'));
    expect(doc.threshold.source).to.match(/stored in the predictor/);
    expect(doc.images).to.have.length(7);
    for (const im of doc.images) {
      expect(im.box, im.id).to.not.equal(null);
      const [x0, y0, x1, y1] = im.box!;
      expect(x0).to.be.within(0, im.width);
      expect(x1).to.be.within(x0!, im.width);
      expect(y0).to.be.within(0, im.height);
      expect(y1).to.be.within(y0!, im.height);
      expect(im.allBoxes.length).to.be.at.least(1);
      const m = readNpySync(path.join(out, im.map));
      expect(m.shape).to.deep.equal(doc.mapSize);
    }
    const coco = json<{ images: unknown[]; annotations: { bbox: number[] }[]; categories: unknown[] }>(readFileSync(path.join(out, 'coco.json'), 'utf8'));
    expect(coco.images).to.have.length(7);
    expect(coco.annotations.length).to.be.at.least(7);
    // ids keep their class folders (001.animal/…): overlays/<class>/<stem>.png
    expect(readdirSync(path.join(out, 'overlays'), { recursive: true }).filter((f) => String(f).endsWith('.png'))).to.have.length(7);
    expect(readFileSync(path.join(out, 'report.html'), 'utf8')).to.match(/<img/);
  });

  it('ablate tabulates backbones × (RPS, CAAM) and a rerun resumes entirely from the cache', async () => {
    const out = path.join(dir, 'ablate');
    const args = ['ablate', '--backbones', 'nsfwjs-mobilenetv2', '--caam', '--dataset', 'cub', '--data-dir', CUB, '--out', out, '--json'];
    let r = await runCli(args);
    expect(r.code, r.stderr).to.equal(0);
    const first = json<{ rows: { backbone: string; method: string; metrics: Record<string, number>; cached: boolean }[] }>(r.stdout);
    expect(first.rows.map((x) => x.method)).to.deep.equal(['RPS', 'CAAM']);
    expect(first.rows.every((x) => !x.cached)).to.equal(true);
    expect(readFileSync(path.join(out, 'ablation.csv'), 'utf8').split('\n')[0]).to.match(/^backbone,method,MaxBoxAcc/);
    r = await runCli(args);
    const second = json<typeof first>(r.stdout);
    expect(second.rows.every((x) => x.cached)).to.equal(true);
    expect(second.rows.map((x) => x.metrics)).to.deep.equal(first.rows.map((x) => x.metrics));
    r = await runCli([...args.slice(0, -1), '--classwise', '--json']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/ablation-key\.json: this run directory holds an ablation with other settings/);
    // --map-cache: each cell keeps its maps (7 test images) and the table is the same.
    const out2 = path.join(dir, 'ablate-maps');
    r = await runCli(['ablate', '--backbones', 'nsfwjs-mobilenetv2', '--caam', '--dataset', 'cub', '--data-dir', CUB, '--out', out2, '--map-cache', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    expect(json<typeof first>(r.stdout).rows.map((x) => x.metrics)).to.deep.equal(first.rows.map((x) => x.metrics));
    const mapDirs = readdirSync(path.join(out2, 'cache'), { recursive: true }).map(String).filter((f) => f.endsWith(`maps${path.sep}test`));
    expect(mapDirs).to.have.length(2);
    for (const d of mapDirs) expect(readdirSync(path.join(out2, 'cache', d)).filter((f) => f.endsWith('.npy'))).to.have.length(7);
  });

  it('kill -9 during a fit, rerun: identical predictor bytes; shards 1/3..3/3 merged: identical too', async () => {
    const photos = path.resolve('data');
    const base = ['fit', '--images', path.join(photos, '*.jpg'), '--checkpoint-every', '2'];
    const one = path.join(dir, 'one.json');
    expect((await runCli([...base, '--out', one])).code).to.equal(0);
    const killed = path.join(dir, 'killed.json');
    const ckpt = `${killed}.ckpt.json`;
    const child = spawn(process.execPath, ['--import', 'tsx', 'spec/helpers/uol-ts.ts', ...base, '--out', killed, '--progress', 'none'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const t0 = Date.now();
    while (!existsSync(ckpt) && Date.now() - t0 < 120_000) await new Promise((res) => setTimeout(res, 20));
    expect(existsSync(ckpt), 'a checkpoint appeared').to.equal(true);
    await new Promise((res) => setTimeout(res, Math.floor(Math.random() * 300)));
    child.kill('SIGKILL');
    expect(await exited, 'killed by SIGKILL, not finished').to.equal(null);
    expect(existsSync(killed), 'no predictor after the kill').to.equal(false);
    const r0 = await runCli([...base, '--out', killed, '--json']);
    expect(r0.code, r0.stderr).to.equal(0);
    expect(json<{ resumed: boolean }>(r0.stdout).resumed).to.equal(true);
    expect(readFileSync(killed, 'utf8')).to.equal(readFileSync(one, 'utf8'));
    const shards = [1, 2, 3].map((i) => path.join(dir, `s${i}.stats.json`));
    for (let i = 0; i < 3; i++) expect((await runCli([...base, '--shard', `${i + 1}/3`, '--out', shards[i]!])).code).to.equal(0);
    const merged = path.join(dir, 'merged.json');
    const r = await runCli(['merge', ...shards, '--out', merged]);
    expect(r.code, r.stderr).to.equal(0);
    expect(readFileSync(merged, 'utf8')).to.equal(readFileSync(one, 'utf8'));
  });
});
