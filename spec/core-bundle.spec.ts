// The platform-neutral core (src/core.ts; docs/architecture.md, "Platform-neutral core and the Node layer") bundles for
// the browser with nothing of Node in it: no built-in module, no Node-only package, no native addon, no module of the
// Node layer. The detector is shown to catch each kind on probes first, so an empty list means something.
import { expect } from 'chai';
import { bundleForBrowser } from './helpers/bundle.js';

describe('platform-neutral core', function () {
  this.timeout(120_000);

  it('the detector flags Node built-ins, Node-only packages and the Node layer (probes)', async () => {
    const probes: [string, RegExp][] = [
      ["import { readFileSync } from 'node:fs'; console.log(readFileSync);", /node:fs/],
      ["import { Worker } from 'worker_threads'; console.log(Worker);", /worker_threads/],
      ["import { loadPredictor } from './src/rps/node/predictor-file.ts'; console.log(loadPredictor);", /node\/predictor-file|node:|fs/],
      ["import { initEngine } from './src/engine/backend.ts'; console.log(initEngine);", /engine\/backend|tfjs-node|module/],
    ];
    for (const [contents, want] of probes) {
      const r = await bundleForBrowser({ contents });
      expect(r.problems.join('\n'), contents).to.match(want);
    }
  });

  it('src/core.ts bundles for the browser without any Node import', async () => {
    const r = await bundleForBrowser('src/core.ts');
    expect(r.problems, r.problems.join('\n')).to.deep.equal([]);
    // The core really holds the method: forward passes, statistics, w*, maps, boxes, metrics.
    for (const f of ['src/backbones/vit.ts', 'src/backbones/resnet.ts', 'src/backbones/vgg.ts', 'src/backbones/tfjs-model.ts', 'src/rps/statistics.ts', 'src/rps/closed-form.ts', 'src/rps/optimize.ts', 'src/rps/activation.ts', 'src/localize/boxes.ts', 'src/evaluate/box-metrics.ts', 'src/evaluate/mask-metrics.ts']) {
      expect(r.projectFiles, f).to.include(f);
    }
    console.log(`      core bundle: ${r.projectFiles.length} project files, ${(r.code.length / 1e6).toFixed(2)} MB unminified`);
  });
});
