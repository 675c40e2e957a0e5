/**
 * What a backbone asks of its input images: the resize filter, normalisation, and which sizes it accepts. Declared by
 * every backbone (backbones/types.ts re-exports it) and used by data/ to decode, resize and normalise images, which is
 * why it lives here, below backbones.
 */
import { UsageError } from '../util/errors.js';

/** Resampling filter used to resize images for a backbone (PIL/torchvision names). */
export type Interpolation = 'bilinear' | 'bicubic' | 'nearest';

/**
 * How images must be prepared for a backbone. Pixel values x ∈ [0,255] become (x/255 − mean[c]) / std[c].
 * (For a model that wants raw 0..255 input use mean 0 and std 1/255; for [0,1] input mean 0 and std 1.)
 */
export interface InputContract {
  /** Per-channel mean in [0,1] units, RGB order. */
  mean: [number, number, number];
  /** Per-channel std in [0,1] units, RGB order. */
  std: [number, number, number];
  /** Resize filter (torchvision `interpolation`). */
  interpolation: Interpolation;
  /** Input height and width must be multiples of this (patch size for ViTs; 1 when any size works). */
  sizeMultiple: number;
  /** Smallest accepted input side in pixels. */
  minSize: number;
  /** Training/inference side used by default (224 in the release). */
  defaultSize: number;
  /** True when only `defaultSize`×`defaultSize` inputs work (graph with a fixed input shape). */
  fixedSize?: boolean;
}

/**
 * Checks an input side S (for S×S inputs) against a contract.
 * @param what the option's name in messages (default `size`; the CLI prints its flag).
 * @throws UsageError naming the option, the size and the rule.
 */
export function checkInputSize(size: number, c: InputContract, what = 'size'): void {
  const options = [what];
  const name = `\`${what}\``;
  if (!Number.isInteger(size) || size < c.minSize) throw new UsageError(`${name} ${size}: must be an integer ≥ ${c.minSize}`, { options });
  if (size % c.sizeMultiple !== 0) throw new UsageError(`${name} ${size}: must be a multiple of ${c.sizeMultiple} for this backbone`, { options });
  if (c.fixedSize && size !== c.defaultSize) throw new UsageError(`${name} ${size}: this backbone only accepts ${c.defaultSize}`, { options });
}
