// Builds the optional native addon in native/ with node-gyp. It needs only a C compiler (the matrix products are our
// own kernels, native/src/gemm.c). Never fails the install: when the toolchain is missing, it says so and exits 0 (the
// engine then uses plain wasm kernels; `uol info` says why). UOL_BLAS=openblas builds against OpenBLAS instead (needs
// libopenblas-dev; kept only to compare against — `uol bench` reports both when both builds exist). That build goes to
// native/build-openblas/build/Release/uol_blas.node (a staged copy of native/), so the default addon stays in place;
// UOL_NATIVE_ADDON points uol at it.
//
// node-gyp: npm runs this as a lifecycle script and passes its own bundled node-gyp in npm_config_node_gyp (npm ≥ 7
// always ships one), so the project needs no node-gyp dependency. Run by hand, we look for a local node-gyp, then for
// the copy bundled with the npm next to this node. Headers: npm passes npm_config_nodedir when configured (here
// nodedir=/usr); otherwise we point node-gyp at the running node's own include/node when it has one, so the build never
// needs the network.
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.join(root, 'native');
const gyp = path.join(nativeDir, 'binding.gyp');
const say = (m) => console.log(`uol-rps: ${m}`);

if (process.env.UOL_NATIVE === '0') {
  say('native addon build skipped (UOL_NATIVE=0)');
  process.exit(0);
}
if (!existsSync(gyp)) {
  say('no native addon in this version; using wasm kernels');
  process.exit(0);
}

function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    process.env.npm_execpath && path.resolve(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((c) => c && existsSync(c));
}

const openblas = process.env.UOL_BLAS === 'openblas';
if (openblas) {
  // OpenBLAS headers: ask the same script binding.gyp uses; skip cleanly (no compiler noise) when cblas.h is absent.
  const inc = spawnSync('sh', [path.join(nativeDir, 'openblas-flags.sh'), 'cflags'], { cwd: nativeDir, encoding: 'utf8' });
  const incDirs = (inc.stdout ?? '').split(/\s+/).filter(Boolean);
  if (inc.status !== 0 || !incDirs.some((d) => existsSync(path.join(d, 'cblas.h')))) {
    say('UOL_BLAS=openblas but OpenBLAS headers (cblas.h) were not found — install libopenblas-dev; using wasm kernels');
    process.exit(0);
  }
}

// No C compiler: say in one line what that costs and how to fix it (node-gyp's own failure is many lines). Windows uses
// MSVC through node-gyp, which finds it itself.
const hasCc = process.platform === 'win32' || ['cc', 'gcc', 'clang'].some((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
if (!hasCc) {
  say('no C compiler found: using plain wasm kernels (ViT, ResNet and VGG backbones about 9–27× slower); install build-essential (Debian/Ubuntu) or the Xcode command-line tools (macOS), then run `npm rebuild uol-rps` or `node tools/build-native.mjs`');
  process.exit(0);
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) {
  say('node-gyp not found (run through npm, which bundles it); using wasm kernels');
  process.exit(0);
}

const args = [nodeGyp, 'rebuild'];
const ownHeaders = path.resolve(path.dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(path.join(ownHeaders, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${ownHeaders}`);

let buildDir = nativeDir;
if (openblas) {
  buildDir = path.join(nativeDir, 'build-openblas');
  rmSync(buildDir, { recursive: true, force: true });
  mkdirSync(buildDir, { recursive: true });
  for (const f of ['binding.gyp', 'openblas-flags.sh', 'src']) cpSync(path.join(nativeDir, f), path.join(buildDir, f), { recursive: true });
}
const r = spawnSync(process.execPath, args, { cwd: buildDir, stdio: 'inherit' });
if (r.status !== 0) {
  // A failed rebuild must not leave a stale addon behind.
  rmSync(path.join(buildDir, 'build'), { recursive: true, force: true });
  say('native addon build failed; falling back to wasm kernels (see messages above)');
} else {
  say(openblas
    ? 'OpenBLAS comparison addon built: native/build-openblas/build/Release/uol_blas.node (use it with UOL_NATIVE_ADDON=<that path>)'
    : 'native addon built: native/build/Release/uol_blas.node (own AVX-512/AVX2/portable kernels on the wasm backend)');
}
process.exit(0);
