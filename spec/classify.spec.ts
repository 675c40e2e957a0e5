// Classifiers for Top-1/Top-5 Loc against the authors' release's own model code run by PyTorch
// (tools/make_classifier_fixtures.py): tiny random-weight models in the release's checkpoint layouts are committed
// (spec/fixtures/classify); full-size ResNet-50 (CUB and torchvision layouts) and ViT-S/8 + linear head are generated
// at test time when /usr/bin/python3 has torch (skipped with a message otherwise, failing when CI is set).
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { readNpySync } from '../src/io/npy.js';
import { convertClassifier, loadClassifier, resolveClassifierName, type LoadClassifierOptions } from '../src/classify/registry.js';
import { releaseClassifierTransform } from '../src/classify/types.js';
import { relL2 } from './helpers/compare.js';
import { tmpDir } from './helpers/tmp.js';
import { expectNoLeak } from './helpers/leak.js';

const DIR = path.join('spec', 'fixtures', 'classify');

interface Case {
  files: string[];
  input: number[];
  classes: number;
  archConfig?: Record<string, unknown>;
}

function manifest(dir: string): Record<string, Case> {
  return (JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { cases: Record<string, Case> }).cases;
}

/** Logits of `name` on the case's input, compared with PyTorch's. Returns the relative L2 error. */
async function check(dir: string, name: string, c: Case, weights?: string | string[]): Promise<{ err: number; logits: Float32Array }> {
  const opts: LoadClassifierOptions = { numClasses: c.classes };
  if (c.archConfig) opts.archConfig = c.archConfig;
  const cls = await loadClassifier(name, weights ?? c.files.map((f) => path.join(dir, f)), opts);
  try {
    const x = readNpySync(path.join(dir, `inputs_${name}.npy`));
    const want = readNpySync(path.join(dir, `logits_${name}.npy`));
    const xt = tf.tensor4d(x.data as Float32Array, x.shape as [number, number, number, number]);
    const y = cls.classify(xt);
    xt.dispose();
    expect(y.shape).to.deep.equal(want.shape);
    const got = (await y.data()) as Float32Array;
    y.dispose();
    return { err: relL2(got, want.data), logits: got };
  } finally {
    cls.dispose();
  }
}

describe('classifiers (Top-1/Top-5 Loc)', function () {
  this.timeout(300000);
  const cases = manifest(DIR);

  for (const name of Object.keys(cases)) {
    it(`${name}: logits match the release's PyTorch model (tiny, committed checkpoints) within rel. L2 1e-4; no leak`, async () => {
      const { err } = await expectNoLeak(() => check(DIR, name, cases[name]!), name);
      console.log(`      ${name}: rel. L2 ${err.toExponential(2)}`);
      expect(err).to.be.below(1e-4);
    });
  }

  it('a converted classifier folder gives the same logits as its checkpoints', async () => {
    const out = tmpDir('uol-cls-conv-');
    const c = cases.dino_vits8_linear!;
    const opts: LoadClassifierOptions = { numClasses: c.classes, archConfig: c.archConfig! };
    const r = await convertClassifier('dino_vits8_linear', c.files.map((f) => path.join(DIR, f)), out, opts);
    expect(r.tensors).to.be.greaterThan(10);
    const a = await check(DIR, 'dino_vits8_linear', c);
    const b = await check(DIR, 'dino_vits8_linear', c, out);
    expect(Array.from(b.logits)).to.deep.equal(Array.from(a.logits));
    // A folder of another classifier is refused by name.
    let err: Error | undefined;
    await loadClassifier('cub_resnet50', out).catch((e: Error) => (err = e));
    expect(err?.message).to.match(/holds classifier "dino_vits8_linear", not "cub_resnet50"/);
  });

  it('bad checkpoints are refused naming the file and key', async () => {
    const c = cases.cub_resnet50!;
    const opts: LoadClassifierOptions = { numClasses: c.classes, archConfig: c.archConfig! };
    const fails = async (name: string, files: string[], re: RegExp, o: LoadClassifierOptions = opts): Promise<void> => {
      let err: Error | undefined;
      await loadClassifier(name, files, o).catch((e: Error) => (err = e));
      expect(err?.name, `${name} ${files.join()}`).to.equal('UsageError');
      expect(err!.message).to.match(re);
    };
    const cub = path.join(DIR, c.files[0]!);
    const head = path.join(DIR, 'dino_vits8_linearweights.pth');
    // The ViT head file is not a CUB ResNet checkpoint.
    await fails('cub_resnet50', [head], /dino_vits8_linearweights\.pth: no cub_resnet50 checkpoint tensors under module\.base_model\.\*/);
    // Wrong class count: the head's shape is named.
    await fails('cub_resnet50', [cub], /cub_resnet50\.pth\.tar: tensor "module\.base_model\.fc\.weight" has shape \[10,128\], expected \[200,128\]/, { archConfig: c.archConfig! });
    // Two files needed for the DINO classifier.
    await fails('dino_vits8_linear', [head], /dino_vits8_linear needs 2 weight files/);
    // The CUB checkpoint read as torchvision's layout (flat keys): its fc sits under module.base_model., not at fc.
    await fails('torchvision_resnet50', [cub], /cub_resnet50\.pth\.tar: missing head tensor "fc\.weight" for torchvision_resnet50/);
    // A hostile file is not executed: a non-checkpoint is refused by name.
    const junk = path.join(tmpDir('uol-cls-bad-'), 'junk.pth');
    writeFileSync(junk, 'not a checkpoint');
    await fails('cub_resnet50', [junk], /junk\.pth: /);
    await fails('nope', [cub], /unknown classifier "nope"; known: torchvision_resnet50, cub_resnet50, dino_vits8_linear/);
  });

  it("the release's --cls_network names and cls_transform", () => {
    expect(resolveClassifierName('ResNet50', 'cub')).to.equal('cub_resnet50');
    expect(resolveClassifierName('ResNet50', 'imagenet')).to.equal('torchvision_resnet50');
    expect(resolveClassifierName('ViT', 'cub')).to.equal('dino_vits8_linear');
    expect(() => resolveClassifierName('EfficientNetB7', 'cub')).to.throw(/`predictions` CSV/);
    expect(releaseClassifierTransform('cub')).to.deep.equal({ kind: 'resize', width: 448, height: 448 });
    expect(releaseClassifierTransform('imagenet')).to.deep.equal({ kind: 'resize-crop', resize: 256, crop: 224 });
  });

  it('full size: ResNet-50 (CUB and torchvision layouts) and ViT-S/8 + linear match PyTorch (generated when torch is available)', async function () {
    const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      if (process.env.CI) throw new Error(`CI: /usr/bin/python3 with torch is needed for the full-size classifier check: ${probe.stderr}`);
      console.log('      skipped: /usr/bin/python3 has no torch/torchvision (set CI to make this a failure)');
      this.skip();
    }
    const out = tmpDir('uol-cls-full-');
    const g = spawnSync('/usr/bin/python3', ['tools/make_classifier_fixtures.py', '--full', '--out', out], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    expect(g.status, g.stderr).to.equal(0);
    const full = manifest(out);
    expect(Object.keys(full)).to.have.members(['cub_resnet50', 'torchvision_resnet50', 'dino_vits8_linear']);
    for (const name of Object.keys(full)) {
      const { err } = await check(out, name, full[name]!);
      console.log(`      ${name} (full size): rel. L2 ${err.toExponential(2)}`);
      expect(err, name).to.be.below(1e-4);
    }
  });
});
