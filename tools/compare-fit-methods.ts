/**
 * Closed form vs loss optimisation on real photos (issue 7's "maps localise at least as well as the closed form").
 *
 *   npx tsx tools/compare-fit-methods.ts [--extra photos.json] [--lambda 1e-3,1e-2] [--loss logistic]
 *
 * Fits both predictors on the sample photos in data/ (plus `--extra` photos: JSON `[{file, boxes: [[x0,y0,x1,y1]]}]`,
 * used for fitting and scoring) and prints pointing-game hits, threshold-box mean IoU and BoxAcc(IoU ≥ 0.5) per method
 * (src/rps/compare-methods.ts). Backbone: MobileNetV2 `out_relu` from the nsfwjs npm package, loaded here directly.
 * INTEGRATION POINT: once src/backbones/registry.ts lands, replace `loadMobileNetV2()` by `loadBackbone(name)`.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initEngine } from '../src/engine/backend.js';
import { compareFitMethods, type PhotoWithBoxes } from '../src/rps/compare-methods.js';
import type { FeatureExtractor } from '../src/backbones/types.js';
import type { Box } from '../src/evaluate/map-vs-boxes.js';
import type { LossName } from '../src/rps/losses.js';

interface NsfwModel {
  modelJson: () => Promise<{ default: { modelTopology: tf.io.ModelArtifacts['modelTopology']; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] } }>;
  weightBundles: (() => Promise<{ default: unknown }>)[];
}

async function loadMobileNetV2(): Promise<FeatureExtractor> {
  const require = createRequire(import.meta.url);
  const { MobileNetV2Model } = require('nsfwjs/models/mobilenet_v2') as { MobileNetV2Model: NsfwModel };
  const mj = (await MobileNetV2Model.modelJson()).default;
  const wb = (await MobileNetV2Model.weightBundles[0]!()).default;
  const b64 = typeof wb === 'string' ? wb : (Object.values(wb as Record<string, unknown>).find((v) => typeof v === 'string') as string);
  const bytes = Buffer.from(b64, 'base64');
  const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const m = await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: mj.modelTopology, weightSpecs: mj.weightsManifest[0]!.weights, weightData }));
  const fe = tfl.model({ inputs: m.inputs, outputs: m.getLayer('out_relu').output as tfl.SymbolicTensor });
  return {
    identity: {
      id: 'nsfwjs-mobilenetv2',
      arch: 'mobilenetv2',
      featureLayer: 'out_relu',
      channels: 1280,
      stride: 32,
      input: { mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'bilinear', sizeMultiple: 32, minSize: 224, defaultSize: 224, fixedSize: true },
    },
    extract: (x) => fe.predict(x) as tf.Tensor4D,
    dispose: () => fe.dispose(),
  };
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

await initEngine({ backend: 'wasm' });
const extractor = await loadMobileNetV2();
const manifest = JSON.parse(readFileSync('data/manifest.json', 'utf8')) as { file: string; approx_boxes: number[][] }[];
const extraFile = arg('--extra');
const extra = extraFile ? (JSON.parse(readFileSync(extraFile, 'utf8')) as PhotoWithBoxes[]) : [];
const photos: PhotoWithBoxes[] = [
  ...manifest.filter((e) => e.approx_boxes.length).map((e) => ({ file: path.resolve('data', e.file), boxes: e.approx_boxes.map((b) => b.map(Math.round) as Box) })),
  ...extra,
];
const training = [...manifest.map((e) => path.resolve('data', e.file)), ...extra.map((e) => e.file)];
const loss = (arg('--loss') ?? 'logistic') as LossName;
const lambdas = (arg('--lambda') ?? '1e-3').split(',').map(Number);
console.log(`| method | pointing | mean IoU (τ) | BoxAcc IoU≥0.5 (τ) | fit |`);
console.log(`|---|---|---|---|---|`);
let printedCF = false;
for (const lambda of lambdas) {
  const r = await compareFitMethods(extractor, photos, { training, optimize: { loss, lambda, topK: 0 } });
  const row = (name: string, s: typeof r.closedForm, fit: string) =>
    console.log(`| ${name} | ${s.pointingHits}/${s.images} | ${s.meanIoU.toFixed(3)} (${s.bestTau}) | ${s.boxAccHits}/${s.images} (${s.boxAccTau}) | ${fit} |`);
  if (!printedCF) row('closed form', r.closedForm, `${training.length} images`);
  printedCF = true;
  row(`${loss} λ=${lambda}`, r.optimized, `${r.fit.stop}, ${r.fit.passes} passes, residual ${r.fit.residual.toExponential(1)}, cos ${r.fit.cosineToClosedForm.toFixed(3)}`);
}
extractor.dispose();
