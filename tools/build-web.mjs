#!/usr/bin/env node
// Builds the static web app (web/ → dist-web/): the browser bundle (esbuild), the page, the TF.js wasm binaries, and
// the embedded default backbone as plain model files (model.json + shard + uol-backbone.json), so the page works
// offline from any static host. Needs dist/ (run after `tsc -p tsconfig.build.json`; `npm run build` does both).
//
// The core the page imports (src/api/localizer.ts and what it reaches) should not need Node built-ins; where a module
// still imports one (file I/O helpers next to the neutral code), the import resolves to an empty module here, and the
// page never calls it. src/version.ts reads package.json through node:module: it is replaced by constants.
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// `--from-src` (under `node --import tsx`, as the specs run it) takes the embedded model from src/ instead of dist/.
const fromSrc = process.argv.includes('--from-src');
const outArg = process.argv.slice(2).find((a) => !a.startsWith('--'));
const out = path.resolve(outArg ?? path.join(root, 'dist-web'));
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const t0 = Date.now();

// Build into a sibling folder and swap it in, so an interrupted build never leaves a half-written app.
const stage = `${out}.tmp-${process.pid}`;
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });

/** Node-only packages and built-ins: empty modules in the browser (their callers are file-I/O paths the page never takes). */
const NODE_ONLY = /^(node:.*|fs|path|os|url|util|crypto|zlib|stream|worker_threads|module|child_process|http|https|net|tls|events|assert|sharp|jimp|@jimp\/.*|yauzl|image-size.*|tinyglobby|cli-progress|yargs.*|@tensorflow\/tfjs-node.*|webgpu)$/;
const nodeStubs = {
  name: 'node-stubs',
  setup(b) {
    b.onResolve({ filter: NODE_ONLY }, (a) => ({ path: a.path, namespace: 'node-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
    b.onLoad({ filter: /[\\/]src[\\/]version\.ts$/ }, () => ({
      contents: `export const VERSION = ${JSON.stringify(pkg.version)};\nexport const TOOL = ${JSON.stringify(`${pkg.name} ${pkg.version}`)};\n`,
      loader: 'ts',
    }));
  },
};

const result = await esbuild.build({
  entryPoints: [path.join(root, 'web', 'app.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  outfile: path.join(stage, 'app.js'),
  minify: true,
  sourcemap: false,
  legalComments: 'linked',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
  plugins: [nodeStubs],
  metafile: true,
});

for (const f of ['index.html', 'style.css']) copyFileSync(path.join(root, 'web', f), path.join(stage, f));
const wasmDir = path.join(root, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
for (const f of readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) copyFileSync(path.join(wasmDir, f), path.join(stage, f));

// The embedded backbone as files: the same artifacts the registry loads (backbones/registry.ts embeddedArtifacts).
const registryJs = fromSrc ? path.join(root, 'src', 'backbones', 'node', 'registry.ts') : path.join(root, 'dist', 'backbones', 'node', 'registry.js');
let registry;
try {
  registry = await import(pathToFileURL(registryJs).href);
} catch (e) {
  console.error(`build-web: cannot load ${registryJs} (${e.message}); run \`npm run build\` (tsc first, then this script)`);
  process.exit(1);
}
const name = registry.DEFAULT_BACKBONE;
const { artifacts, spec } = await registry.embeddedArtifacts(name);
const mdir = path.join(stage, 'models', name);
mkdirSync(mdir, { recursive: true });
const weights = new Uint8Array(artifacts.weightData);
const shard = 'group1-shard1of1.bin';
writeFileSync(path.join(mdir, shard), weights);
const modelJson = {
  format: artifacts.format ?? 'layers-model',
  generatedBy: `${pkg.name} ${pkg.version} tools/build-web.mjs (from the npm package nsfwjs)`,
  modelTopology: artifacts.modelTopology,
  weightsManifest: [{ paths: [shard], weights: artifacts.weightSpecs }],
};
writeFileSync(path.join(mdir, 'model.json'), JSON.stringify(modelJson));
writeFileSync(
  path.join(mdir, 'uol-backbone.json'),
  JSON.stringify({ id: spec.id, arch: spec.arch, featureNode: spec.featureNode, input: spec.input, weightsSha256: createHash('sha256').update(weights).digest('hex') }, null, 1) + '\n',
);
writeFileSync(path.join(stage, 'models', 'index.json'), JSON.stringify({ default: name, models: [name] }) + '\n');

rmSync(out, { recursive: true, force: true });
renameSync(stage, out);
const bytes = Object.values(result.metafile.outputs).reduce((s, o) => s + o.bytes, 0);
console.log(`build-web: ${path.relative(process.cwd(), out) || out}/ (app.js ${(bytes / 2 ** 20).toFixed(1)} MiB, backbone ${name}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
