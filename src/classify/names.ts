/**
 * Classifier names (`--cls-network`), in a module with no TF.js import so the CLI can declare its options without
 * loading models. classify/registry.ts checks at load that they name exactly its registry entries.
 */

/** Names of the entries of classify/registry.ts CLASSIFIERS, in the same order. */
export const CLASSIFIER_NAMES: readonly string[] = Object.freeze(['torchvision_resnet50', 'cub_resnet50', 'dino_vits8_linear']);
