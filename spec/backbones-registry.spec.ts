// The backbone registry and tfjs-converter models as backbones: the embedded default (nsfwjs MobileNetV2) loads
// offline, its cut, dynamic-input model equals the unmodified model's out_relu output, GraphModels and LayersModels
// load from files with a named node/layer, and names/paths resolve with clear errors. Also the ViT's optional
// attention outputs and both attention implementations against PyTorch.
import { expect } from 'chai';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, model as layersModel } from '@tensorflow/tfjs-layers';
import { DEFAULT_BACKBONE, embeddedArtifacts, listBackbones, loadBackbone } from '../src/backbones/node/registry.js';
import { convertCheckpoint, loadConvertedBackbone } from '../src/backbones/node/convert.js';
import { readNpySync } from '../src/io/npy.js';
import { isUsageError } from '../src/util/errors.js';
import { relL2 } from './helpers/compare.js';
import { expectNoLeak } from './helpers/leak.js';
import { tmpDir } from './helpers/tmp.js';

const CKPT = path.join('spec', 'fixtures', 'backbones', 'ckpt');
const MID_NODE = 'StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict/MobilenetV2/Conv_1/Relu6';

/** Saves in-memory artifacts as tfjs-converter files (model.json + one shard). */
function saveArtifacts(dir: string, a: tf.io.ModelArtifacts): void {
  mkdirSync(dir, { recursive: true });
  const data = a.weightData as ArrayBuffer;
  writeFileSync(path.join(dir, 'group1-shard1of1.bin'), new Uint8Array(data));
  const json: Record<string, unknown> = { modelTopology: a.modelTopology, weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: a.weightSpecs }] };
  if (a.format) json.format = a.format;
  writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
}

function randomImage(h: number, w: number, seed: number): tf.Tensor4D {
  return tf.randomUniform([1, h, w, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
}

async function run(fe: { extract(x: tf.Tensor4D): tf.Tensor4D }, x: tf.Tensor4D): Promise<{ data: Float32Array; shape: number[] }> {
  const y = fe.extract(x);
  const r = { data: (await y.data()) as Float32Array, shape: y.shape as number[] };
  y.dispose();
  return r;
}

describe('backbones: registry and tfjs models', function () {
  this.timeout(120_000);

  it('lists the embedded default as offline, registry checkpoints as fetchable, and converted directories', async () => {
    const models = tmpDir();
    await convertCheckpoint({ checkpoint: path.join(CKPT, 'dino_vit_zip.pth'), arch: 'vit_small', archConfig: { embedDim: 16, depth: 2, heads: 2 }, out: path.join(models, 'my_vit') });
    const list = listBackbones({ modelsDir: models });
    const byName = new Map(list.map((b) => [b.name, b]));
    expect(byName.get(DEFAULT_BACKBONE)).to.include({ source: 'embedded', offline: true, arch: 'mobilenetv2' });
    expect(byName.get('dino_vits16')).to.include({ source: 'fetchable', offline: false, arch: 'vit_small' });
    expect(byName.get('dinov2_vits14_reg')).to.include({ source: 'fetchable', arch: 'dinov2_small' });
    expect(byName.get('my_vit')).to.include({ source: 'converted', offline: true, arch: 'vit_small' });
    // Every registry entry names an arch preset and key map the converter knows (checked by readRegistry) and a URL.
    for (const b of list.filter((x) => x.source === 'fetchable')) expect(b.url).to.match(/^https:\/\//);
  });

  it('the embedded default loads offline and equals the unmodified model\'s out_relu output at 224; 448 works too', async () => {
    const fe = await loadBackbone(DEFAULT_BACKBONE);
    try {
      expect(fe.identity).to.include({ id: DEFAULT_BACKBONE, featureLayer: 'out_relu', channels: 1280, stride: 32 });
      expect(fe.identity.input).to.deep.include({ mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'bilinear', defaultSize: 224 });
      expect(fe.identity.weightsSha256).to.match(/^[0-9a-f]{64}$/);
      const x = randomImage(224, 224, 1);
      const ours = await expectNoLeak(() => run(fe, x), 'extract');
      expect(ours.shape).to.deep.equal([1, 7, 7, 1280]);
      // Reference: the package's model as shipped (static 224 input, all layers), read at layer out_relu.
      const { artifacts } = await embeddedArtifacts(DEFAULT_BACKBONE);
      const full = await loadLayersModel(tf.io.fromMemory(artifacts));
      const cut = layersModel({ inputs: full.inputs, outputs: full.getLayer('out_relu').output });
      const ref = cut.predict(x) as tf.Tensor;
      // The loaded backbone runs the folded plan (BN folded into the convolutions, src/backbones/layers-fold.ts), whose
      // products round differently: measured 5e-6; a wrong fold would be O(1).
      expect(relL2(ours.data, ref.dataSync())).to.be.at.most(5e-5);
      ref.dispose();
      full.dispose();
      x.dispose();
      const big = randomImage(448, 448, 2);
      expect((await run(fe, big)).shape).to.deep.equal([1, 14, 14, 1280]);
      big.dispose();
    } finally {
      fe.dispose();
    }
  });

  it('a LayersModel and a GraphModel load from files with a named layer/node (dynamic input size)', async () => {
    const dir = tmpDir();
    const mobile = await embeddedArtifacts(DEFAULT_BACKBONE);
    saveArtifacts(path.join(dir, 'layers'), mobile.artifacts);
    writeFileSync(path.join(dir, 'layers', 'uol-backbone.json'), JSON.stringify({ featureNode: 'out_relu', arch: 'mobilenetv2', input: { sizeMultiple: 32 } }));
    const mid = await embeddedArtifacts('nsfwjs-mobilenetv2-mid');
    saveArtifacts(path.join(dir, 'graph'), mid.artifacts);
    const x = randomImage(224, 224, 3);
    const x2 = randomImage(320, 256, 4);
    for (const [spec, embedded, C] of [
      [path.join(dir, 'layers'), DEFAULT_BACKBONE, 1280],
      [`${path.join(dir, 'graph')}#${MID_NODE}`, 'nsfwjs-mobilenetv2-mid', 1792],
    ] as const) {
      const fromFiles = await loadBackbone(spec);
      const emb = await loadBackbone(embedded);
      try {
        expect(fromFiles.identity.channels).to.equal(C);
        const a = await run(fromFiles, x);
        const b = await run(emb, x);
        expect(a.shape).to.deep.equal([1, 7, 7, C]);
        expect(Array.from(a.data)).to.deep.equal(Array.from(b.data));
        expect((await expectNoLeak(() => run(fromFiles, x2), 'extract')).shape).to.deep.equal([1, 10, 8, C]);
      } finally {
        fromFiles.dispose();
        emb.dispose();
      }
    }
    x.dispose();
    x2.dispose();
    // A node that does not exist, and a tfjs model without a node, are usage errors naming the problem.
    const errs = [`${path.join(dir, 'graph')}#no/such/node`, path.join(dir, 'graph')];
    for (const s of errs) {
      const e = await loadBackbone(s).then(
        () => undefined,
        (err: Error) => err,
      );
      expect(e && isUsageError(e), s).to.equal(true);
    }
  });

  it('unknown names and checkpoints not fetched yet are usage errors that say what to do', async () => {
    const models = tmpDir();
    const e1 = await loadBackbone('no_such_backbone', { modelsDir: models }).catch((e: Error) => e);
    expect(isUsageError(e1)).to.equal(true);
    expect((e1 as Error).message).to.contain(DEFAULT_BACKBONE);
    const e2 = await loadBackbone('dino_vits16', { modelsDir: models }).catch((e: Error) => e);
    expect(isUsageError(e2)).to.equal(true);
    expect((e2 as Error).message).to.contain('uol fetch dino_vits16');
  });

  it('loadBackbone and dispose leave no tensors behind', async () => {
    await expectNoLeak(async () => {
      const fe = await loadBackbone(DEFAULT_BACKBONE);
      fe.dispose();
    }, 'load+dispose');
    const out = path.join(tmpDir(), 'v');
    await convertCheckpoint({ checkpoint: path.join(CKPT, 'dino_vit_zip.pth'), arch: 'vit_small', archConfig: { embedDim: 16, depth: 2, heads: 2 }, out });
    await expectNoLeak(async () => {
      const fe = await loadBackbone(out);
      fe.dispose();
    }, 'vit load+dispose');
  });

  it('ViT: last-block self-attention and both attention implementations match PyTorch', async () => {
    const out = path.join(tmpDir(), 'v');
    await convertCheckpoint({ checkpoint: path.join(CKPT, 'dino_vit_zip.pth'), arch: 'vit_small', archConfig: { embedDim: 16, depth: 2, heads: 2 }, out });
    const inp = readNpySync(path.join(CKPT, 'inputs', 'vit.npy'));
    const x = tf.tensor4d(inp.data as Float32Array, inp.shape as [number, number, number, number]);
    const refF = readNpySync(path.join(CKPT, 'expected', 'dino_vit_zip.npy')).data;
    const refA = readNpySync(path.join(CKPT, 'expected', 'dino_vit_attn.npy'));
    for (const attention of ['per-head', 'batched'] as const) {
      const fe = await loadConvertedBackbone(out, { attention });
      try {
        expect(relL2((await run(fe, x)).data, refF), attention).to.be.at.most(1e-4);
        const a = await expectNoLeak(() => {
          const t = fe.lastSelfAttention!(x);
          const r = { data: t.dataSync(), shape: t.shape };
          t.dispose();
          return r;
        }, 'lastSelfAttention');
        expect(a.shape).to.deep.equal(refA.shape);
        expect(relL2(a.data, refA.data), attention).to.be.at.most(1e-5);
      } finally {
        fe.dispose();
      }
    }
    x.dispose();
  });

  it('registry.json is well-formed: unique names, known archs and key maps, https URLs', () => {
    const reg = JSON.parse(readFileSync(path.join('converted-models', 'registry.json'), 'utf8')) as { checkpoints: { name: string }[] };
    const names = reg.checkpoints.map((c) => c.name);
    expect(new Set(names).size).to.equal(names.length);
    expect(names).to.include.members(['dino_vits16', 'dino_vits8', 'dino_vitb16', 'dino_vitb8', 'dino_resnet50', 'dinov2_vits14', 'dinov2_vits14_reg', 'moco_v2_800ep', 'mocov3_r50_1000ep', 'simsiam_r50_100ep', 'torchvision_resnet50', 'torchvision_vgg16_bn']);
  });
});
