/**
 * Where converted models and the checkpoint registry live.
 * - Models: `$UOL_MODELS_DIR`, else `<package>/converted-models/` (one directory per model: model.json + shards).
 * - Registry of known checkpoints: `$UOL_REGISTRY`, else `<package>/converted-models/registry.json`.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { settings } from '../../util/settings.js';

/** The package root (three levels above this module, in src/ and in dist/ alike). */
export function packageRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

/** Directory holding converted models. */
export function modelsDir(override?: string): string {
  return path.resolve(override ?? settings().modelsDir ?? path.join(packageRoot(), 'converted-models'));
}

/** The committed registry of known checkpoints. */
export function registryFile(override?: string): string {
  return path.resolve(override ?? settings().registry ?? path.join(packageRoot(), 'converted-models', 'registry.json'));
}
