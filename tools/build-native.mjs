// Builds the optional OpenBLAS addon in native/ with node-gyp. Never fails the install: when the toolchain or
// libopenblas-dev is missing, it says so and exits 0 (the engine then uses plain wasm kernels).
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const gyp = path.join(root, 'native', 'binding.gyp');
if (process.env.UOL_NATIVE === '0') {
  console.log('uol-rps: native addon build skipped (UOL_NATIVE=0)');
  process.exit(0);
}
if (!existsSync(gyp)) {
  console.log('uol-rps: no native addon in this version; using wasm kernels');
  process.exit(0);
}
const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'), 'rebuild'], {
  cwd: path.join(root, 'native'),
  stdio: 'inherit',
});
if (r.status !== 0) console.log('uol-rps: native addon build failed; falling back to wasm kernels (see messages above)');
process.exit(0);
