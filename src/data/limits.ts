/**
 * Decoding limits, in a module with no codec import (the CLI shows them in help text without loading sharp or TF.js).
 */

/** PIL's `Image.MAX_IMAGE_PIXELS` × 2: above this PIL raises DecompressionBombError. */
export const DEFAULT_MAX_PIXELS = 178_956_970;
