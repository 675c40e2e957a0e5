/**
 * The default backbone's name, in a module with no TF.js import (the CLI names it in help text without loading the
 * registry). Re-exported by backbones/registry.ts.
 */

/** The backbone used when none is named: real weights, offline, no conversion. */
export const DEFAULT_BACKBONE = 'nsfwjs-mobilenetv2';
