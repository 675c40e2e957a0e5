// The front door (src/api): createLocalizer's object fits, localizes, evaluates and explains; in Node its files equal the
// CLI's (`uol fit` predictor bytes, `uol localize` boxes.json entries), every method leaves no tensor alive, and the
// platform-neutral core gives the same results on RGB buffers and on tensors.
import { expect } from 'chai';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { createLocalizer, type NodeLocalizer } from '../src/api/node.js';
import { createLocalizer as createCoreLocalizer } from '../src/api/localizer.js';
import { readImageRGB } from '../src/data/image-io.js';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/tmp.js';
import { expectNoLeak } from './helpers/leak.js';
import type { BoxesFile } from '../src/report/boxes-file.js';

const DATA = path.resolve(import.meta.dirname, '..', 'data');

describe('front door: createLocalizer', function () {
  this.timeout(300_000);
  let loc: NodeLocalizer;
  let tmp: string;

  before(async () => {
    tmp = tmpDir('uol-api-');
    loc = await createLocalizer();
  });
  after(() => loc?.dispose());

  it('fits the same predictor bytes as `uol fit` and the same boxes.json entries as `uol localize`', async () => {
    const glob = path.join(DATA, '*.jpg');
    const p = path.join(tmp, 'p.json');
    expect((await runCli(['fit', '--images', glob, '--out', p, '--progress', 'none'])).code).to.equal(0);
    expect((await runCli(['localize', glob, '--predictor', p, '--out', path.join(tmp, 'loc'), '--no-maps', '--coco', '--progress', 'none'])).code).to.equal(0);
    const fit = await expectNoLeak(() => loc.fit(glob), 'fit');
    expect(fit.images).to.equal(21);
    expect(loc.predictorJson()).to.equal(readFileSync(p, 'utf8'));
    const results = await expectNoLeak(() => loc.localize(glob), 'localize');
    const saved = loc.save(path.join(tmp, 'mine'), results, { coco: true });
    const mine = JSON.parse(readFileSync(saved.boxes, 'utf8')) as BoxesFile;
    const cli = JSON.parse(readFileSync(path.join(tmp, 'loc', 'boxes.json'), 'utf8')) as BoxesFile;
    expect(mine.images).to.deep.equal(cli.images);
    for (const k of ['tool', 'backbone', 'method', 'transform', 'mapSize', 'threshold', 'boxConvention', 'skipped', 'warnings'] as const) expect(mine[k], k).to.deep.equal(cli[k]);
    const coco = (f: string) => {
      const d = JSON.parse(readFileSync(f, 'utf8')) as { info: { date_created: string }; images: { file_name: string }[] };
      d.info.date_created = '';
      d.images.forEach((im) => (im.file_name = path.basename(im.file_name)));
      return d;
    };
    expect(coco(saved.coco!)).to.deep.equal(coco(path.join(tmp, 'loc', 'coco.json')));
    // Maps come back with the results, [224·224] in [0,1]; the τ slider's re-threshold reproduces localize's boxes.
    const r0 = results[0]!;
    expect(r0.map!.length).to.equal(224 * 224);
    expect(Math.min(...r0.map!)).to.be.at.least(0);
    expect(Math.max(...r0.map!)).to.be.within(0.9, 1);
    const again = await loc.localize(glob, { threshold: 0.3, maps: false });
    results.forEach((r, i) => expect(loc.boxesAt(r, 0.3).box, r.id).to.deep.equal(again[i]!.box));
  });

  it('the core takes RGB buffers and tensors alike; optimize, evaluate and explain leave no tensor alive', async () => {
    const files = ['darknet_eagle.jpg', 'cimg_parrot.jpg', 'opencv_apple.jpg'].map((f) => path.join(DATA, f));
    const rgbs = await Promise.all(files.map((f) => readImageRGB(f)));
    const core = await createCoreLocalizer({ backbone: loc.backbone });
    const items = rgbs.map((image, i) => ({ id: path.basename(files[i]!), image }));
    await expectNoLeak(() => core.fit(items), 'core fit');
    const a = await expectNoLeak(() => core.localize(items), 'core localize');
    const tensors = rgbs.map((im) => tf.tensor3d(im.data, [im.height, im.width, 3], 'int32'));
    try {
      const b = await expectNoLeak(() => core.localize(tensors.map((image, i) => ({ id: path.basename(files[i]!), image }))), 'core localize (tensors)');
      expect(b.map((r) => r.box)).to.deep.equal(a.map((r) => r.box));
    } finally {
      tf.dispose(tensors);
    }
    const opt = await expectNoLeak(() => core.fit(items, { method: 'optimize', maxPasses: 6, topK: 4 }), 'core fit optimize');
    expect(opt.predictor.method.name).to.equal('optimize');
    expect(opt.optimize!.cosineToClosedForm).to.be.greaterThan(0.5);
    const gt = { ...items[0]!, boxes: [[115, 64, 499, 368] as [number, number, number, number]] };
    const m = await expectNoLeak(() => core.evaluate([gt], { store: true }), 'core evaluate');
    expect(m.images).to.equal(1);
    expect(core.predictor!.threshold!.value).to.equal(Math.min(0.99, Math.max(0.01, m.chosen.release)));
    const why = await expectNoLeak(() => core.explain(items[0]!), 'core explain (stored)');
    expect(why.mode).to.equal('stored');
    // Exact mode on the closed form (the linear-loss optimum): the representer values add up to the region's score.
    await core.fit(items);
    const exact = await expectNoLeak(() => core.explain(items[0]!, { training: items }), 'core explain (exact)');
    expect(exact.mode).to.equal('exact');
    expect(exact.decompositionError!).to.be.lessThan(1e-3);
    core.dispose(); // does not own the backbone: loc still works
    expect((await loc.localize(files[0]!, { maps: false }))[0]!.box).to.not.equal(null);
  });

  it('refuses bad input naming it', async () => {
    const core = await createCoreLocalizer({ backbone: loc.backbone });
    let err: Error | undefined;
    try {
      await core.localize([{ width: 4, height: 4, data: new Uint8Array(5) }]);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.match(/localize: no predictor/);
    await core.fit([{ width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).fill(128) }, { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).map((_, i) => (i * 7) % 256) }]);
    await core.localize([{ id: 'short', image: { width: 4, height: 4, data: new Uint8Array(5) } }]).then(
      () => expect.fail('accepted a short buffer'),
      (e: Error) => expect(e.message).to.match(/^short: expected 4×4×3 = 48 RGB bytes, got 5/),
    );
    await core.localize([{ width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) }], { threshold: 1 }).then(
      () => expect.fail('accepted τ = 1'),
      (e: Error) => expect(e.message).to.match(/threshold/),
    );
  });
});
