// The authors' release's checkpoints (src/weights/release-layouts.ts): main.py's name resolution, and for every
// --loc_network a torch-saved random-weight file of exactly the release's layout (tools/make_release_checkpoints.py,
// generated at test time) converted with `convertReleaseCheckpoint`: the keys it loads, ignores and misses equal what
// torch's load_state_dict(strict=False) reports inside main.py's module nesting, and the converted model's features
// equal the loaded torch module's (rel. L2 ≤ 1e-4). Broken files fail naming keys / shapes / the container.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readNpySync } from '../src/io/npy.js';
import { convertCheckpoint, convertReleaseCheckpoint, type ReleaseLoadReport } from '../src/backbones/node/convert.js';
import { loadBackbone, readRegistry } from '../src/backbones/node/registry.js';
import { listReleaseNetworks, releaseByName, releaseExpInfo, releaseNetwork, resolveReleaseNetwork } from '../src/weights/release-layouts.js';
import { isUsageError } from '../src/util/errors.js';
import { relL2 } from './helpers/compare.js';
import { expectNoLeak } from './helpers/leak.js';
import { tmpDir } from './helpers/tmp.js';
import { runCli } from './helpers/cli.js';

const PY = '/usr/bin/python3';
const ORACLE = path.join('..', 'shared', 'oracles', 'UOLwRPS-991b975.tar.gz');

interface Case {
  network: string;
  file: string;
  family: string;
  archConfig: Record<string, unknown>;
  expect?: 'ok';
  loaded?: string[];
  ignored?: string[];
  missing?: string[];
  features?: Record<string, string>;
  input?: string;
  torchRaised?: string | null;
  note?: string;
}

describe('release layouts: main.py name resolution', () => {
  const r = (n: string): string | undefined => resolveReleaseNetwork(n)?.name;

  it('resolves like main.py: substring tests in elif order, case-sensitive, DetCo "AA" and DINO "r" before "v"', () => {
    expect(r('mocov1')).to.equal('mocov1');
    expect(r('mocov2_mocov1')).to.equal('mocov1'); // 'mocov1' is tested first
    expect(r('MOCOv1')).to.equal(undefined); // Python `in` is case-sensitive
    expect(r('detcoAA')).to.equal('detcoAA');
    expect(r('detco_AA_run')).to.equal('detcoAA');
    expect(r('detcoaa')).to.equal('detco');
    expect(r('detco')).to.equal('detco');
    expect(r('dinor50')).to.equal('dinor50');
    expect(r('dinovit')).to.equal('dinovit');
    expect(r('dinovitr')).to.equal('dinor50'); // 'r' is tested before 'v'
    expect(r('dinov2')).to.equal('dinovit'); // DINO v1 ViT-S/8
    expect(r('dino')).to.equal(undefined); // neither 'r' nor 'v': NOT IMPLEMENTED
    expect(r('dino_byol')).to.equal(undefined); // the dino branch is taken; byol is never tested
    expect(r('detco_dino')).to.equal('detco');
    expect(r('superr50_vgg')).to.equal('superr50');
    expect(r('vgg_supcon')).to.equal('vgg');
    expect(r('simsiam_ccam')).to.equal('simsiam');
    expect(r('densecl')).to.equal('densecl');
    expect(r('daol')).to.equal('daol');
    expect(r('resnet50')).to.equal(undefined);
    for (const n of listReleaseNetworks()) expect(r(n.name), n.name).to.equal(n.name);
    expect(releaseByName('detco_AA_run').name).to.equal('detcoAA');
    expect(() => releaseByName('dino')).to.throw('NOT IMPLEMENTED');
  });

  it("reproduces the release's inverted DetCo label and its exp_info names", () => {
    expect(releaseNetwork('detcoAA')).to.include({ file: 'detco_200ep_AA.pth', modelName: 'DETCO' });
    expect(releaseNetwork('detco')).to.include({ file: 'detco_200ep.pth', modelName: 'DETCOAA' });
    expect(releaseExpInfo('detcoAA', { dataset: 'CUB', downscale: 32 })).to.equal('CUB_N_DETCO_32');
    expect(releaseExpInfo('mocov1', { dataset: 'IMAGENET' })).to.equal('IMAGENET_N_MOCOv1_16');
    expect(releaseExpInfo('dinovitr', { dataset: 'CUB', baseDataset: 'CIFAR10', clsNetwork: 'ResNet50', downscale: 32, samplingRatio: 0.1, classwise: true })).to.equal(
      'CUB_CIFAR10_R50_DiNORES_32_0.1_class',
    );
    expect(() => releaseExpInfo('dino', { dataset: 'CUB' })).to.throw('NOT IMPLEMENTED');
  });

  it('every public source names a registry entry with the same URL; names, files and ids are unique', () => {
    const reg = (JSON.parse(readFileSync(path.join('converted-models', 'registry.json'), 'utf8')) as { checkpoints: { name: string; url: string }[] }).checkpoints;
    const nets = listReleaseNetworks();
    for (const k of ['name', 'file', 'uolId'] as const) expect(new Set(nets.map((n) => n[k])).size, k).to.equal(nets.length);
    for (const n of nets)
      if (n.source.kind === 'public' && n.source.registryName) expect(reg.find((c) => c.name === (n.source as { registryName: string }).registryName)?.url, n.name).to.equal(n.source.url);
  });
});

function havePythonTorch(): boolean {
  return spawnSync(PY, ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status === 0;
}

describe('release checkpoints: every layout against torch load_state_dict(strict=False)', function () {
  this.timeout(180_000);
  let dir = '';
  let cases: Case[] = [];
  let releaseClasses: Record<string, unknown> | undefined;

  before(function () {
    if (!havePythonTorch()) {
      if (process.env.CI) throw new Error(`${PY} with torch and torchvision is required in CI (python3-torch, python3-torchvision)`);
      console.log(`      (skipped: ${PY} cannot import torch and torchvision)`);
      this.skip();
    }
    dir = tmpDir('uol-release-');
    const args = ['tools/make_release_checkpoints.py', dir];
    if (existsSync(ORACLE)) {
      const src = tmpDir('uol-release-src-');
      const t = spawnSync('tar', ['xzf', ORACLE, '-C', src]);
      if (t.status === 0) args.push('--release-src', path.join(src, 'UOLwRPS-991b975'));
    }
    const p = spawnSync(PY, args, { encoding: 'utf8', env: { ...process.env, OPENBLAS_CORETYPE: 'SKYLAKEX' } });
    if (p.status !== 0) throw new Error(`make_release_checkpoints.py failed: ${p.stderr}`);
    const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { cases: Case[]; releaseClasses?: Record<string, unknown> };
    cases = m.cases;
    releaseClasses = m.releaseClasses;
  });

  const sorted = (a: string[]): string[] => [...a].sort();
  const sameReport = (got: ReleaseLoadReport, c: Case): void => {
    expect(got.loaded, `${c.network} loaded`).to.deep.equal(c.loaded);
    expect(sorted(got.ignored), `${c.network} ignored`).to.deep.equal(sorted(c.ignored!));
    expect(sorted(got.missing), `${c.network} missing`).to.deep.equal(sorted(c.missing!));
  };

  async function features(out: string, input: string, downscale?: 8 | 16 | 32): Promise<{ data: Float32Array; shape: number[] }> {
    const fe = await loadBackbone(out, downscale ? { downscale } : {});
    try {
      const a = readNpySync(path.join(dir, input));
      const x = tf.tensor4d(a.data as Float32Array, a.shape as [number, number, number, number]);
      const r = await expectNoLeak(() => {
        const y = fe.extract(x);
        const o = { data: y.dataSync() as Float32Array, shape: y.shape as number[] };
        y.dispose();
        return o;
      }, 'extract');
      x.dispose();
      return r;
    } finally {
      fe.dispose();
    }
  }

  it("the small reference modules are the release's own classes (names; ResNet-50 ccam features at downscale 16)", function () {
    if (!releaseClasses || releaseClasses['skipped']) {
      console.log(`      (skipped: ${releaseClasses ? String(releaseClasses['skipped']) : `no ${ORACLE}`})`);
      this.skip();
    }
    expect(releaseClasses).to.deep.include({ resnet50_keys_equal: true, vgg16_keys_equal: true, vgg16_layers_equal: true, vit_small8_keys_equal: true });
    expect(releaseClasses!['resnet50_ccam_ds16_shape']).to.deep.equal([1, 3072, 4, 3]);
    expect(releaseClasses!['resnet50_ccam_ds16_max_abs_diff']).to.equal(0);
  });

  it('each release layout converts strictly: loaded / ignored / missing keys as torch, features as the loaded module', async () => {
    const ok = cases.filter((c) => c.expect === 'ok');
    let worst = 0;
    expect(ok.map((c) => c.network)).to.have.members(listReleaseNetworks().map((n) => n.name));
    for (const c of ok) {
      const out = path.join(tmpDir(), c.network);
      const r = await expectNoLeak(() => convertReleaseCheckpoint({ name: c.network, file: path.join(dir, c.file), outDir: out, archConfig: c.archConfig }), 'convertReleaseCheckpoint');
      sameReport(r.report, c);
      expect(r.report.filled).to.deep.equal([]);
      expect(r.json.provenance.release).to.deep.include({ network: c.network, ignored: r.report.ignored });
      for (const [ds, f] of Object.entries(c.features!)) {
        const got = await features(out, c.input!, ds === '0' ? undefined : (Number(ds) as 8 | 16));
        const ref = readNpySync(path.join(dir, f));
        expect(got.shape, `${c.network} ds ${ds}`).to.deep.equal(ref.shape);
        const e = relL2(got.data, ref.data as Float32Array);
        worst = Math.max(worst, e);
        expect(e, `${c.network} ds ${ds}`).to.be.at.most(1e-4);
      }
    }
    console.log(`      largest rel. L2 feature error over ${ok.length} layouts: ${worst.toExponential(2)}`);
  });

  it('where the registry lists the same public file, `uol fetch`\'s conversion (its key map) gives the same weights', async () => {
    const reg = readRegistry();
    let n = 0;
    for (const net of listReleaseNetworks()) {
      if (net.source.kind !== 'public' || !net.source.registryName) continue;
      const k = reg.find((x) => x.name === (net.source as { registryName: string }).registryName)!;
      const c = cases.find((x) => x.network === net.name && x.expect === 'ok')!;
      const file = path.join(dir, c.file);
      const archConfig = { ...c.archConfig, ...(k.archConfig ?? {}) };
      const a = await convertReleaseCheckpoint({ name: net.name, file, outDir: path.join(tmpDir(), 'a'), archConfig: c.archConfig });
      const b = await convertCheckpoint({ checkpoint: file, arch: k.arch, keyMap: k.keyMap, archConfig, out: path.join(tmpDir(), 'b'), ...(k.patch ? { patch: k.patch } : {}) });
      expect(b.json.weightsSha256, `${net.name} vs registry ${k.name}`).to.equal(a.json.weightsSha256);
      n++;
    }
    expect(n).to.equal(7);
  });

  it('CCAM: layer3 ‖ layer4 (16+32 ×width channels); refused at downscale 32 where the release’s concat fails', async () => {
    const c = cases.find((x) => x.network === 'ccam' && x.expect === 'ok')!;
    const out = path.join(tmpDir(), 'ccam');
    await convertReleaseCheckpoint({ name: 'ccam', file: path.join(dir, c.file), outDir: out, archConfig: c.archConfig });
    const fe = await loadBackbone(out, { downscale: 16 });
    expect(fe.identity).to.include({ channels: 96, featureLayer: 'layer3+layer4@stride16' });
    fe.dispose();
    const err = await loadBackbone(out, { downscale: 32 }).catch((e: Error) => e);
    expect(isUsageError(err)).to.equal(true);
    expect((err as Error).message).to.contain('downscale 16 or 8');
  });

  it('main.py-style names resolve to the same layout (detco_AA_run → detco_200ep_AA.pth)', async () => {
    const c = cases.find((x) => x.network === 'detcoAA')!;
    const r = await convertReleaseCheckpoint({ name: 'detco_AA_run', file: path.join(dir, c.file), outDir: path.join(tmpDir(), 'd'), archConfig: c.archConfig });
    expect(r.network.name).to.equal('detcoAA');
    // The wrong DetCo file for the name: same layout, so it converts; features differ from detcoAA's.
    const got = await features(r.dir, c.input!, 16);
    const other = readNpySync(path.join(dir, cases.find((x) => x.network === 'detco')!.features!['16']!));
    expect(relL2(got.data, other.data as Float32Array)).to.be.above(0.1);
  });

  it('absent tensors: an error naming them, unless --allow-missing (then reported as torch reports them, and filled)', async () => {
    const c = cases.find((x) => x.file === 'broken/byol.pth.tar')!;
    expect(c.missing).to.have.length(2);
    const file = path.join(dir, c.file);
    const err = await convertReleaseCheckpoint({ name: 'byol', file, outDir: path.join(tmpDir(), 'b'), archConfig: c.archConfig }).catch((e: Error) => e);
    expect(isUsageError(err), String(err)).to.equal(true);
    for (const k of c.missing!) expect((err as Error).message).to.contain(`"${k}"`);
    expect((err as Error).message).to.contain('--allow-missing');
    const r = await convertReleaseCheckpoint({ name: 'byol', file, outDir: path.join(tmpDir(), 'b2'), archConfig: c.archConfig, allowMissing: true });
    sameReport(r.report, c);
    expect(sorted(r.report.filled)).to.deep.equal(sorted(c.missing!));
  });

  it("SupContrast's own key layout: the release's nesting loads nothing — an error counting torch's missing keys", async () => {
    const c = cases.find((x) => x.file === 'broken/supcon.pth')!;
    expect(c.loaded).to.deep.equal([]);
    const err = await convertReleaseCheckpoint({ name: 'supcon', file: path.join(dir, c.file), outDir: path.join(tmpDir(), 's'), archConfig: c.archConfig }).catch((e: Error) => e);
    expect((err as Error).message).to.contain(`${c.missing!.length} module tensor(s) absent`);
    expect((err as Error).message).to.contain('"module.encoder.conv1.weight"');
  });

  it('a mis-shaped tensor (torch raises too) and an absent container fail naming key, shapes and container', async () => {
    const m = cases.find((x) => x.file === 'broken/current_epoch_5.pth')!;
    expect(m.torchRaised).to.contain('size mismatch for backbone.layer4.0.conv1.weight');
    const e1 = await convertReleaseCheckpoint({ name: 'ccam', file: path.join(dir, m.file), outDir: path.join(tmpDir(), 'm'), archConfig: m.archConfig }).catch((e: Error) => e);
    expect(isUsageError(e1)).to.equal(true);
    expect((e1 as Error).message).to.contain('tensor "backbone.layer4.0.conv1.weight" has shape [3,64,1,1], the release\'s module has [16,32,1,1]');
    const d = cases.find((x) => x.file === 'broken/dawsol_ilsvrc_res.tar')!;
    expect(d.torchRaised).to.contain('KeyError');
    const e2 = await convertReleaseCheckpoint({ name: 'daol', file: path.join(dir, d.file), outDir: path.join(tmpDir(), 'x'), archConfig: d.archConfig }).catch((e: Error) => e);
    expect((e2 as Error).message).to.contain("ckpt['state_dict_extractor']");
    expect((e2 as Error).message).to.contain('state_dict');
  });

  it('uol convert FILE --release NAME (--json report; text; exit 2 naming keys) and --release-list', async () => {
    const c = cases.find((x) => x.network === 'mocov1')!;
    const out = path.join(tmpDir(), 'cli');
    const r = await runCli(['convert', path.join(dir, c.file), '--release', 'mocov1', '--arch-config', JSON.stringify(c.archConfig), '--out', out, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout) as { network: string; modelName: string; report: ReleaseLoadReport };
    expect(j).to.include({ network: 'mocov1', modelName: 'MOCOv1' });
    expect(sorted(j.report.ignored)).to.deep.equal(sorted(c.ignored!));
    const t = await runCli(['convert', path.join(dir, c.file), '--release', 'mocov1', '--arch-config', JSON.stringify(c.archConfig), '--out', out, '--force']);
    expect(t.code, t.stderr).to.equal(0);
    expect(t.stdout).to.contain('ignored silently by its strict=False: 126');
    expect(t.stdout).to.contain('module.encoder_k.* (122)');
    expect(t.stdout).to.contain('module.encoder_q.fc.* (2)');
    const b = cases.find((x) => x.file === 'broken/byol.pth.tar')!;
    const e = await runCli(['convert', path.join(dir, b.file), '--release', 'byol', '--arch-config', JSON.stringify(b.archConfig), '--out', path.join(tmpDir(), 'e')]);
    expect(e.code).to.equal(2);
    expect(e.stderr).to.contain('"layer4.0.conv2.weight"');
    const l = await runCli(['convert', '--release-list']);
    expect(l.code, l.stderr).to.equal(0);
    for (const n of listReleaseNetworks()) expect(l.stdout).to.contain(n.file);
    expect(l.stdout).to.contain("authors' download folder only");
  });
});
