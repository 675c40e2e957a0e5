// Checkpoints saved by torch 1.13 (tools/make_checkpoints.py) in zip and legacy formats, with every wrapper/prefix the
// key maps know, float16/bfloat16, non-contiguous views and safetensors: each converts (auto key map, which must be
// the expected one), loads from the converted directory, and gives the PyTorch reference features (rel. L2 ≤ 1e-4).
// Broken files fail naming the key; hostile pickles are refused naming the global, and their payload never runs.
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readNpySync } from '../src/io/npy.js';
import { convertCheckpoint } from '../src/backbones/node/convert.js';
import { loadBackbone } from '../src/backbones/node/registry.js';
import { openCheckpoint } from '../src/weights/checkpoint.js';
import { PyDict } from '../src/weights/pickle.js';
import { readFloat32, TensorRef } from '../src/weights/tensor-ref.js';
import { isUsageError } from '../src/util/errors.js';
import { relL2 } from './helpers/compare.js';
import { expectNoLeak } from './helpers/leak.js';
import { tmpDir } from './helpers/tmp.js';
import { runCli } from './helpers/cli.js';

const DIR = path.join('spec', 'fixtures', 'backbones', 'ckpt');

interface Entry {
  file: string;
  family?: string;
  arch: string;
  archConfig: Record<string, unknown>;
  patch?: number;
  keyMap?: string;
  expect: 'ok' | 'error' | 'hostile';
  error?: string;
  features?: string;
  input?: string;
  marker?: string;
  note?: string;
}

const manifest = JSON.parse(readFileSync(path.join(DIR, 'manifest.json'), 'utf8')) as Entry[];

function npyTensor(p: string): tf.Tensor4D {
  const a = readNpySync(path.join(DIR, p));
  return tf.tensor4d(a.data as Float32Array, a.shape as [number, number, number, number]);
}

async function featuresOf(dir: string, input: string, downscale?: 8 | 16 | 32): Promise<{ data: Float32Array; shape: number[] }> {
  const fe = await loadBackbone(dir, downscale ? { downscale } : {});
  try {
    const x = npyTensor(input);
    const r = await expectNoLeak(() => {
      const y = fe.extract(x);
      const out = { data: y.dataSync() as Float32Array, shape: y.shape as number[] };
      y.dispose();
      return out;
    }, 'extract');
    x.dispose();
    return r;
  } finally {
    fe.dispose();
  }
}

async function convertErr(e: Entry, out: string): Promise<Error> {
  try {
    await convertCheckpoint({ checkpoint: path.join(DIR, e.file), arch: e.arch, archConfig: e.archConfig, out, ...(e.patch ? { patch: e.patch } : {}) });
  } catch (err) {
    return err as Error;
  }
  throw new Error(`${e.file}: conversion should have failed`);
}

describe('backbones: checkpoints from torch (formats, wrappers, dtypes, views)', function () {
  this.timeout(120_000);

  for (const e of manifest.filter((m) => m.expect === 'ok')) {
    it(`${e.file} (${e.note}) converts with key map ${e.keyMap} and matches PyTorch`, async () => {
      const out = path.join(tmpDir(), 'model');
      const r = await convertCheckpoint({ checkpoint: path.join(DIR, e.file), arch: e.arch, archConfig: e.archConfig, out, ...(e.patch ? { patch: e.patch } : {}) });
      expect(r.json.provenance.keyMap).to.equal(e.keyMap);
      expect(r.json.provenance.sourceSha256).to.match(/^[0-9a-f]{64}$/);
      const got = await featuresOf(out, e.input!);
      const ref = readNpySync(path.join(DIR, e.features!));
      expect(got.shape).to.deep.equal(ref.shape);
      expect(relL2(got.data, ref.data), e.file).to.be.at.most(1e-4);
    });
  }

  it('a converted ResNet runs at downscale 16 and 8 like PyTorch with layer3/layer4 stride 1', async () => {
    const out = path.join(tmpDir(), 'r');
    const e = manifest.find((m) => m.file === 'dino_resnet.pth')!;
    await convertCheckpoint({ checkpoint: path.join(DIR, e.file), arch: e.arch, archConfig: e.archConfig, out });
    for (const ds of [16, 8] as const) {
      const got = await featuresOf(out, e.input!, ds);
      const ref = readNpySync(path.join(DIR, 'expected', `dino_resnet_ds${ds}.npy`));
      expect(got.shape).to.deep.equal(ref.shape);
      expect(relL2(got.data, ref.data)).to.be.at.most(1e-4);
    }
  });

  for (const e of manifest.filter((m) => m.expect === 'error')) {
    it(`${e.file}${e.patch ? ` --patch ${e.patch}` : ''}: refused with ${e.error}`, async () => {
      const out = path.join(tmpDir(), 'model');
      const err = await convertErr(e, out);
      expect(isUsageError(err), String(err)).to.equal(true);
      expect(err.message).to.contain(e.file);
      expect(err.message).to.contain(e.error!);
      expect(existsSync(path.join(out, 'model.json'))).to.equal(false);
    });
  }

  for (const e of manifest.filter((m) => m.expect === 'hostile')) {
    it(`${e.file}: hostile pickle refused naming the global, payload not run`, async () => {
      rmSync(e.marker!, { force: true });
      const out = path.join(tmpDir(), 'model');
      const err = await convertErr(e, out);
      expect(isUsageError(err), String(err)).to.equal(true);
      expect(err.message).to.contain(e.error!);
      expect(existsSync(e.marker!), 'the payload ran').to.equal(false);
      expect(existsSync(out)).to.equal(false);
    });
  }

  it('explicit key maps: --key-map byol reads the BYOL file; a wrong explicit map fails naming what it found', async () => {
    const e = manifest.find((m) => m.file === 'byol_converted.pth')!;
    const out = path.join(tmpDir(), 'b');
    const r = await convertCheckpoint({ checkpoint: path.join(DIR, e.file), arch: e.arch, archConfig: e.archConfig, keyMap: 'byol', out });
    expect(r.json.provenance).to.include({ keyMap: 'byol' });
    expect(r.json.provenance.droppedHeads).to.deep.equal(['fc.weight', 'fc.bias']);
    const got = await featuresOf(out, e.input!);
    expect(relL2(got.data, readNpySync(path.join(DIR, e.features!)).data)).to.be.at.most(1e-4);
    const err = await convertCheckpoint({ checkpoint: path.join(DIR, e.file), arch: e.arch, archConfig: e.archConfig, keyMap: 'moco', out: path.join(tmpDir(), 'c') }).catch((x: Error) => x);
    expect(isUsageError(err)).to.equal(true);
    expect((err as Error).message).to.contain('no backbone tensors found with key map moco');
    // An explicit prefix works too (container searched): MoCo's query encoder by prefix.
    const m = manifest.find((x) => x.file === 'moco_v1.pth.tar')!;
    const p = await convertCheckpoint({ checkpoint: path.join(DIR, m.file), arch: m.arch, archConfig: m.archConfig, prefix: 'module.encoder_q.', out: path.join(tmpDir(), 'p') }).catch((x: Error) => x);
    // fc.* is not dropped by a bare prefix: strict mode names it.
    expect((p as Error).message).to.contain('unexpected tensors "fc.weight", "fc.bias"');
  });

  it('non-contiguous views read exactly like torch (values vs the contiguous file)', async () => {
    const a = await openCheckpoint(path.join(DIR, 'dino_vit_zip.pth'));
    const b = await openCheckpoint(path.join(DIR, 'dino_vit_views_legacy.pth'));
    try {
      const da = a.root as PyDict;
      const db = b.root as PyDict;
      const qa = da.get('blocks.0.attn.qkv.weight') as TensorRef;
      const qb = db.get('blocks.0.attn.qkv.weight') as TensorRef;
      expect(qb.contiguous).to.equal(false);
      expect(Array.from(await readFloat32(qb))).to.deep.equal(Array.from(await readFloat32(qa)));
      const nb = db.get('norm.bias') as TensorRef;
      expect(nb.stride).to.deep.equal([0]);
      expect(new Set(await readFloat32(nb)).size).to.equal(1);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('uol convert (CLI)', function () {
  this.timeout(120_000);
  const vit = manifest.find((m) => m.file === 'dino_vit_zip.pth')!;

  it('writes model.json + ≤ 4 MB shards + provenance into <models-dir>/<stem> by default; extract reads it', async () => {
    const models = tmpDir();
    const r = await runCli(['convert', path.join(DIR, 'dino_vit_legacy.pth'), '--arch', 'vit_small', '--arch-config', JSON.stringify(vit.archConfig), '--models-dir', models, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const dir = path.join(models, 'dino_vit_legacy');
    const json = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as {
      format: string;
      weightsManifest: { paths: string[] }[];
      provenance: { sourceSha256: string; arch: string; keyMap: string; keyMapVersion: number; sourceFormat: string };
    };
    expect(json.format).to.equal('uol-backbone');
    expect(json.provenance).to.include({ arch: 'vit_small', keyMap: 'dino', keyMapVersion: 1, sourceFormat: 'pth-legacy' });
    for (const p of json.weightsManifest[0]!.paths) expect(statSync(path.join(dir, p)).size).to.be.at.most(4 * 1024 * 1024);
    // A second conversion into the same place needs --force.
    const again = await runCli(['convert', path.join(DIR, 'dino_vit_legacy.pth'), '--arch', 'vit_small', '--arch-config', JSON.stringify(vit.archConfig), '--models-dir', models]);
    expect(again.code).to.equal(2);
    expect(again.stderr).to.contain('--force');
    // The converted name is now a registry entry (source: converted) and extract works on a real photo.
    const feats = tmpDir();
    const x = await runCli(['extract', '--backbone', 'dino_vit_legacy', '--models-dir', models, path.join('data', 'skimage_coffee.jpg'), '--size', '48', '--out', feats, '--json']);
    expect(x.code, x.stderr).to.equal(0);
    expect(readdirSync(feats)).to.deep.equal(['skimage_coffee.npy']);
    expect(readNpySync(path.join(feats, 'skimage_coffee.npy')).shape).to.deep.equal([6, 6, 16]);
    const bad = await runCli(['extract', '--backbone', dir, path.join('data', 'skimage_coffee.jpg'), '--size', '50', '--out', feats]);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain('--size 50');
  });

  it('exits 2 naming the key for a missing tensor, and naming the global for a hostile pickle', async () => {
    const out = tmpDir();
    const r = await runCli(['convert', path.join(DIR, 'dino_vit_missing.pth'), '--arch', 'vit_small', '--arch-config', JSON.stringify(vit.archConfig), '--out', path.join(out, 'm')]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain('missing tensor "blocks.1.mlp.fc2.bias"');
    const h = await runCli(['convert', path.join(DIR, 'hostile_os_system.pkl'), '--arch', 'vit_small', '--out', path.join(out, 'h')]);
    expect(h.code).to.equal(2);
    expect(h.stderr).to.contain('refusing global "os.system"');
  });
});
