// The README's first command: `uol demo` runs offline on the bundled photos and writes the reports.
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';

describe('uol demo', function () {
  this.timeout(300_000);

  it('fits, evaluates, localizes, explains and writes index + reports with a box for every photo', async () => {
    const out = path.join(tmpDir(), 'demo');
    const r = await runCli(['demo', '--out', out]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/Open .*index\.html/);
    for (const f of ['index.html', 'predictor.json', 'evaluate/report.html', 'localize/report.html', 'localize/boxes.json', 'localize/coco.json', 'localize/manifest.json', 'explain/index.html', 'explain/explain.json']) {
      expect(existsSync(path.join(out, f)), f).to.equal(true);
    }
    const boxes = JSON.parse(readFileSync(path.join(out, 'localize/boxes.json'), 'utf8')) as { images: { box: number[] | null }[]; threshold: { source: string } };
    const photos = (JSON.parse(readFileSync('data/manifest.json', 'utf8')) as unknown[]).length;
    expect(boxes.images).to.have.length(photos);
    expect(boxes.images.every((i) => i.box !== null)).to.equal(true);
    expect(boxes.threshold.source).to.match(/stored in the predictor \(cub:train/);
    // The explanation scanned every training point: its representer values add up to the region's score.
    const ex = readFileSync(path.join(out, 'explain/explain.json'), 'utf8');
    const errs = [...ex.matchAll(/"decompositionError":\s*([0-9.eE+-]+)/g)].map((m) => Number(m[1]));
    expect(errs.length).to.be.above(0);
    for (const e of errs) expect(e).to.be.below(1e-4);
    expect(readFileSync(path.join(out, 'index.html'), 'utf8')).to.include('href="explain/index.html"');
  });
});
