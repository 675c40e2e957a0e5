// The command line as a user meets it: the real bin (bin/uol.js → dist/) in a child process, run from a folder other
// than the repository. Checks exit codes, messages, that nothing is written when the usage is wrong, output names,
// offline fetch, JSON errors, and the start-up time of --help and usage errors (as a ratio to `node -e 0`).
import { expect } from 'chai';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { failureReport, nearest } from '../src/cli/main.js';
import { outputNames } from '../src/pipeline/localize.js';
import { boxCurves } from '../src/report/run-report.js';
import type { BoxMetrics } from '../src/evaluate/box-metrics.js';
import { tmpDir } from './helpers/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'uol.js');
const DATA = path.join(ROOT, 'data');
const CKPT = path.join(ROOT, 'spec', 'fixtures', 'backbones', 'ckpt', 'dino_vit_zip.pth');

/** Newest modification time under `dir` (files ending in .ts). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/** The bin runs dist/: build it when src/ is newer (a fresh checkout has it from `npm ci`'s prepare). */
function ensureBuilt(): void {
  const main = path.join(ROOT, 'dist', 'cli', 'main.js');
  if (existsSync(main) && statSync(main).mtimeMs >= newest(path.join(ROOT, 'src'))) return;
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed: ${r.stdout}${r.stderr}`);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `uol ...args` from `cwd` (never the repository). */
function uol(cwd: string, args: string[], env: Record<string, string> = {}): Run {
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, UOL_NO_HINTS: '1', UOL_BACKEND: 'wasm', ...env },
    timeout: 300_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Every file under `dir` (relative, sorted). */
function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out.sort();
}

const NO_STACK = /^\s+at .+\(.*:\d+:\d+\)$/m;

describe('uol as a user runs it (child process, cwd outside the repo)', function () {
  this.timeout(600_000);
  let cwd: string;

  before(() => {
    ensureBuilt();
    cwd = tmpDir('uol-cli-');
  });

  it('a mistyped flag on every command fails with exit 2 before any output file exists', () => {
    const img = path.join(DATA, 'darknet_dog.jpg');
    const cases: string[][] = [
      ['demo'],
      ['info'],
      ['fit', '--images', img],
      ['localize', img, '--predictor', 'p.json'],
      ['evaluate', '--predictor', 'p.json', '--dataset', 'cub', '--data-dir', path.join(DATA, 'tiny-cub')],
      ['merge', 'a.stats.json'],
      ['ablate', '--backbones', 'x', '--dataset', 'cub', '--data-dir', path.join(DATA, 'tiny-cub')],
      ['explain', img, '--predictor', 'p.json'],
      ['extract', img],
      ['convert', CKPT, '--arch', 'vit_small'],
      ['fetch', 'dino_vits16', '--models-dir', 'out'],
      ['data', 'inspect', '--dataset', 'cub', '--data-dir', path.join(DATA, 'tiny-cub')],
      ['bench', '--suite', 'boxes'],
    ];
    for (const c of cases) {
      const dir = tmpDir('uol-typo-');
      const r = uol(dir, [...c, '--out', 'out', '--bogus-flagg', '1']);
      expect(r.code, `${c[0]}: ${r.stderr}`).to.equal(2);
      expect(r.stderr, c[0]).to.match(/^uol: error: .*unknown flag --bogus-flagg/);
      expect(r.stdout, c[0]).to.equal('');
      expect(files(dir), `${c[0]} wrote files`).to.deep.equal([]);
    }
  });

  it('says which flag was meant: --treshold → --threshold, --image → --images (even with --out missing)', () => {
    const r = uol(cwd, ['localize', path.join(DATA, '*.jpg'), '--predictor', 'P', '--out', 'o', '--treshold', '0.3']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain('unknown flag --treshold (did you mean --threshold?)');
    expect(existsSync(path.join(cwd, 'o'))).to.equal(false);
    // the shell expands the glob: --image a.jpg b.jpg …
    const jpgs = readdirSync(DATA).filter((f) => f.endsWith('.jpg')).map((f) => path.join(DATA, f));
    const f = uol(cwd, ['fit', '--image', ...jpgs.slice(0, 3)]);
    expect(f.code).to.equal(2);
    expect(f.stderr).to.contain('unknown flag --image (did you mean --images?)');
    const c = uol(cwd, ['lokalize']);
    expect(c.code).to.equal(2);
    expect(c.stderr).to.contain('unknown command "lokalize" (did you mean `uol localize`?)');
  });

  it('a missing required flag or a bad value is a one-line usage error naming the flag and the typed value', () => {
    const img = path.join(DATA, 'darknet_dog.jpg');
    for (const args of [['fit', '--images', img], ['localize', img, '--predictor', 'P']]) {
      const r = uol(cwd, args);
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.match(/^uol: error: missing required --out/);
      expect(r.stderr).not.to.match(NO_STACK);
      expect(r.stderr).not.to.contain('TypeError');
    }
    const e = uol(cwd, ['explain', img, '--out', 'o']);
    expect(e.code).to.equal(2);
    expect(e.stderr).to.match(/missing required --predictor/);
    expect(e.stderr).not.to.contain('undefined');
    const t = uol(cwd, ['explain', img, '--predictor', 'p.json', '--out', 'o', '--threshold', 'abc']);
    expect(t.code).to.equal(2);
    expect(t.stderr).to.contain('--threshold "abc": expected a number');
    const d = uol(cwd, ['localize', img, '--predictor', 'p.json', '--out', 'o', '--downscale', '12']);
    expect(d.code).to.equal(2);
    expect(d.stderr).to.contain('--downscale 12: expected one of 8, 16, 32');
    expect(files(cwd)).to.deep.equal([]);
  });

  it('--json: failures are one JSON object on stdout (code, exitCode, message, flag or file)', () => {
    const r = uol(cwd, ['fit', '--images', 'x.jpg', '--out', 'p.json', '--lamda', '1', '--json']);
    expect(r.code).to.equal(2);
    const j = JSON.parse(r.stdout) as { error: { code: string; exitCode: number; message: string; flag?: string } };
    expect(j.error).to.deep.include({ code: 'usage', exitCode: 2, flag: '--lamda' });
    expect(j.error.message).to.contain('did you mean --lambda?');
    const m = uol(cwd, ['localize', 'missing.jpg', '--predictor', 'p.json', '--out', 'o', '--json']);
    expect(m.code).to.equal(2);
    expect((JSON.parse(m.stdout) as { error: { file?: string } }).error.file).to.equal('p.json');
  });

  it('an output path that cannot be written fails before any work, naming it, exit 1, no stack (unless --debug)', () => {
    writeFileSync(path.join(cwd, 'afile'), 'x');
    const r = uol(cwd, ['fit', '--images', path.join(DATA, 'darknet_dog.jpg'), '--out', 'afile/sub/p.json']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain('--out afile/sub/p.json');
    expect(r.stderr).to.contain('is a file, not a folder');
    expect(r.stderr).not.to.match(NO_STACK);
    const d = uol(cwd, ['fit', '--images', path.join(DATA, 'darknet_dog.jpg'), '--out', 'afile/sub/p.json', '--debug']);
    expect(d.code).to.equal(1);
    expect(d.stderr).to.match(NO_STACK);
    // ENOSPC / EROFS raised while writing name the file meant, not the temporary one (cannot be provoked portably here)
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', target: '/out/boxes.json' });
    expect(failureReport(enospc)).to.deep.equal({ code: 'ENOSPC', exitCode: 1, message: '/out/boxes.json: no space left on the device (ENOSPC)', file: '/out/boxes.json' });
    const erofs = Object.assign(new Error("EROFS: read-only file system, open '/ro/.p.json.1.tmp'"), { code: 'EROFS', path: '/ro/.p.json.1.tmp', target: '/ro/p.json' });
    expect(failureReport(erofs).message).to.equal('/ro/p.json: the file system is read-only (EROFS)');
  });

  it('uol fetch offline says the network is unreachable, which URL, and how to go on offline', () => {
    const reg = path.join(cwd, 'registry.json');
    const url = 'https://checkpoints.invalid/dino/dino_deitsmall16_pretrain.pth';
    writeFileSync(reg, JSON.stringify({ format: 'uol-checkpoint-registry', version: 1, checkpoints: [{ name: 'dino_vits16', description: 'test', url, arch: 'vit_small', patch: 16, keyMap: 'dino' }] }));
    const r = uol(cwd, ['fetch', 'dino_vits16', '--registry', reg, '--models-dir', path.join(cwd, 'models')]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.contain('the network is unreachable');
    expect(r.stderr).to.contain(url);
    expect(r.stderr).to.contain('uol convert FILE --arch vit_small --patch 16 --name dino_vits16');
    expect(r.stderr).to.contain(path.join(cwd, 'models', '.downloads'));
    expect(r.stderr).not.to.match(NO_STACK);
    expect(r.stderr).not.to.contain('getaddrinfo');
  });

  it('localize from another folder: ids relative to the folder given, sub-folders kept, no collisions, duplicates counted', async () => {
    const src = path.join(cwd, 'photos');
    mkdirSync(path.join(src, 'sub'), { recursive: true });
    const dog = path.join(DATA, 'darknet_dog.jpg');
    for (const n of ['photo.jpg', 'a b.jpg', 'a_b.jpg', 'a+b.jpg', 'sub/dog.jpg']) copyFileSync(dog, path.join(src, n));
    const sharp = (await import('sharp')).default;
    await sharp(path.join(DATA, 'darknet_eagle.jpg')).png().toFile(path.join(src, 'photo.png'));
    symlinkSync(path.join(src, 'photo.jpg'), path.join(src, 'zlink.jpg'));
    const fit = uol(cwd, ['fit', '--images', dog, '--out', 'p.json', '--progress', 'none']);
    expect(fit.code, fit.stderr).to.equal(0);
    const elsewhere = tmpDir('uol-elsewhere-');
    const r = uol(elsewhere, ['localize', src, path.join(src, 'photo.jpg'), '--predictor', path.join(cwd, 'p.json'), '--overlays', '--out', path.join(cwd, 'loc')]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/2 duplicate inputs merged/);
    expect(r.stderr).to.contain('share an output name; written as: photo.jpg → photo.jpg, photo.png → photo.png');
    const out = files(path.join(cwd, 'loc'));
    expect(out.filter((f) => f.startsWith('maps/'))).to.deep.equal(['maps/a b.npy', 'maps/a+b.npy', 'maps/a_b.npy', 'maps/photo.jpg.npy', 'maps/photo.png.npy', 'maps/sub/dog.npy']);
    expect(out.filter((f) => f.startsWith('overlays/'))).to.deep.equal(['overlays/a b.png', 'overlays/a+b.png', 'overlays/a_b.png', 'overlays/photo.jpg.png', 'overlays/photo.png.png', 'overlays/sub/dog.png']);
    const boxes = JSON.parse(readFileSync(path.join(cwd, 'loc', 'boxes.json'), 'utf8')) as { images: { id: string; map: string }[] };
    expect(boxes.images.map((i) => i.id)).to.deep.equal(['a b.jpg', 'a+b.jpg', 'a_b.jpg', 'photo.jpg', 'photo.png', 'sub/dog.jpg']);
    expect(boxes.images.map((i) => i.map)).to.deep.equal(['maps/a b.npy', 'maps/a+b.npy', 'maps/a_b.npy', 'maps/photo.jpg.npy', 'maps/photo.png.npy', 'maps/sub/dog.npy']);
  });

  it('a predictor fitted with --backbone DIR finds its backbone again (recorded folder, then the models folder by weights hash)', () => {
    const models = path.join(cwd, 'models-a');
    const conv = uol(cwd, ['convert', CKPT, '--arch', 'vit_small', '--arch-config', '{"embedDim":16,"depth":2,"heads":2}', '--out', path.join(models, 'mocov1')]);
    expect(conv.code, conv.stderr).to.equal(0);
    const img = path.join(DATA, 'darknet_dog.jpg');
    const fit = uol(cwd, ['fit', '--images', img, '--backbone', path.join(models, 'mocov1'), '--out', 'vit.json', '--progress', 'none']);
    expect(fit.code, fit.stderr).to.equal(0);
    const loc = uol(cwd, ['localize', img, '--predictor', 'vit.json', '--out', 'loc-vit']);
    expect(loc.code, loc.stderr).to.equal(0);
    // the folder moved: found again in the models folder by its weights
    const other = path.join(cwd, 'models-b');
    mkdirSync(other);
    renameSync(path.join(models, 'mocov1'), path.join(other, 'renamed'));
    const found = uol(cwd, ['localize', img, '--predictor', 'vit.json', '--out', 'loc-vit2'], { UOL_MODELS_DIR: other });
    expect(found.code, found.stderr).to.equal(0);
    const lost = uol(cwd, ['localize', img, '--predictor', 'vit.json', '--out', 'loc-vit3'], { UOL_MODELS_DIR: path.join(cwd, 'empty') });
    expect(lost.code).to.equal(2);
    expect(lost.stderr).to.contain(`was loaded from ${path.join(models, 'mocov1')}`);
    expect(lost.stderr).to.contain('add --backbone DIR');
  });

  it('without the native addon, the first run says once, in one line, what plain wasm costs and how to build it', () => {
    const env = { UOL_NO_HINTS: '', UOL_NATIVE: '', UOL_NATIVE_ADDON: path.join(cwd, 'no-addon.node'), XDG_CACHE_HOME: path.join(cwd, 'cache') };
    const first = uol(cwd, ['info', '--backend', 'wasm'], env);
    expect(first.code, first.stderr).to.equal(0);
    const tips = first.stderr.split('\n').filter((l) => l.startsWith('uol: tip:'));
    expect(tips).to.have.length(1);
    expect(tips[0]).to.match(/9–27× slower .*needs only a C compiler.*: node /);
    expect(tips[0]).to.contain(path.join('tools', 'build-native.mjs'));
    expect(first.stdout).to.match(/native kernels: off — native addon not built .*to build it \(needs only a C compiler/);
    const second = uol(cwd, ['info', '--backend', 'wasm'], env);
    expect(second.stderr).not.to.contain('uol: tip:');
  });

  it('every command has examples in its --help', () => {
    for (const c of ['demo', 'info', 'fit', 'localize', 'evaluate', 'merge', 'ablate', 'explain', 'extract', 'convert', 'convert-classifier', 'fetch', 'data', 'bench', 'reproduce']) {
      const r = uol(cwd, [c, '--help']);
      expect(r.code, c).to.equal(0);
      const ex = r.stdout.split('Examples:')[1] ?? '';
      expect(ex.match(/^\s+uol /gm)?.length ?? 0, `${c} examples`).to.be.at.least(2);
    }
  });

  it('did-you-mean picks close flags only', () => {
    expect(nearest('treshold', ['threshold', 'out'])).to.equal('threshold');
    expect(nearest('tresh', ['threshold', 'out'])).to.equal('threshold');
    expect(nearest('image', ['images', 'out'])).to.equal('images');
    expect(nearest('bogus-flagg', ['threshold', 'out', 'images'])).to.equal(undefined);
    expect(outputNames(['a/x.jpg', 'A/X.png', 'b/.hidden.jpg', '../up.jpg']).names).to.deep.equal(
      new Map([
        ['a/x.jpg', 'a/x.jpg'],
        ['A/X.png', 'A/X.png'],
        ['b/.hidden.jpg', 'b/_hidden'],
        ['../up.jpg', '_./up'],
      ]),
    );
  });

  it('the BoxAcc(τ) chart draws the two box rules of each δ differently (identical curves stay visible)', () => {
    const ys = [80, 80, 40, 0];
    const curves = { boxAccV2: { '30': ys, '50': ys, '70': ys }, release: { '30': ys, '50': ys, '70': ys } };
    const svg = boxCurves({ thresholds: [0.1, 0.2, 0.3, 0.4], curves } as unknown as BoxMetrics, 't');
    const lines = [...svg.matchAll(/<polyline ([^>]*)\/>/g)].map((m) => m[1]!.replace(/ points="[^"]*"/, ''));
    expect(lines).to.have.length(6);
    expect(new Set(lines).size, 'six distinct styles').to.equal(6);
    expect(lines.filter((l) => l.includes('stroke-dasharray'))).to.have.length(3);
  });

  it('--help and a usage error answer within 4× the start-up of `node -e 0` (best of 3 each)', () => {
    const best = (args: string[]) => {
      let b = Infinity;
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        spawnSync(process.execPath, args, { cwd, encoding: 'utf8' });
        b = Math.min(b, performance.now() - t);
      }
      return b;
    };
    const node = best(['-e', '0']);
    const help = best([BIN, '--help']);
    const usage = best([BIN, 'localize', 'x.jpg', '--predictor', 'p', '--out', 'o', '--treshold', '0.3']);
    const ratios = { help: help / node, usage: usage / node };
    console.log(`      node -e 0 ${node.toFixed(0)} ms; uol --help ${help.toFixed(0)} ms (${ratios.help.toFixed(2)}×); usage error ${usage.toFixed(0)} ms (${ratios.usage.toFixed(2)}×)`);
    expect(ratios.help).to.be.at.most(4);
    expect(ratios.usage).to.be.at.most(4);
  });
});
