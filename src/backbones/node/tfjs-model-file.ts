/** tfjs-converter models on disk as backbones (Node only); building one from artifacts is `../tfjs-model.ts`. */
import type { FeatureExtractor } from '../types.js';
import { fileIOHandler, modelJsonPath } from '../../weights/tfjs-format.js';
import { tfjsBackboneFromArtifacts, type TfjsBackboneSpec } from '../tfjs-model.js';

/**
 * Loads a tfjs-converter model from disk (a directory with model.json, or the model.json path) as a backbone.
 * @throws UsageError naming the file or the missing node.
 */
export async function loadTfjsModelBackbone(p: string, spec: TfjsBackboneSpec): Promise<FeatureExtractor> {
  const artifacts = await fileIOHandler(modelJsonPath(p)).load!();
  return tfjsBackboneFromArtifacts(artifacts, spec);
}
