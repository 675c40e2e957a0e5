/**
 * Architecture preset names (`uol convert --arch`), in a module with no TF.js import (the CLI declares its options
 * without loading the architectures). backbones/archs.ts checks at load that they name exactly its presets.
 */

/** Names of the presets in backbones/archs.ts ARCH_PRESETS, in the same order. */
export const ARCH_NAMES: readonly string[] = Object.freeze(['vit_small', 'vit_base', 'dinov2_small', 'resnet50', 'vgg16_bn']);
