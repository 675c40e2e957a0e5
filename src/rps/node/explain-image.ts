/** Explaining an image file (Node only: decodes the file); {@link explain} itself is platform-neutral. */
import type * as tf from '@tensorflow/tfjs-core';
import { runExtractor, type FeatureExtractor } from '../../backbones/types.js';
import { readImageRGB, resizeRGB, toInputTensor, type RGBImage } from '../../data/image-io.js';
import { explain, fitInputSize, type ExplainImageOptions, type ExplainResult } from '../explain.js';

/**
 * The image path: decodes `imageFile` (PIL semantics, data/image-io.ts), resizes it whole to the input frame, runs the
 * backbone and explains. Returns the decoded original image too (for the report).
 */
export async function explainImage(extractor: FeatureExtractor, imageFile: string, o: ExplainImageOptions): Promise<{ result: ExplainResult; image: RGBImage }> {
  const contract = extractor.identity.input;
  const size = o.size ?? fitInputSize(o.predictor, o.predictorFile) ?? [contract.defaultSize, contract.defaultSize];
  const image = await readImageRGB(imageFile);
  const rgb = await resizeRGB(image, size[1], size[0], contract.interpolation);
  const input = toInputTensor(rgb, contract);
  let feats: tf.Tensor4D | undefined;
  try {
    feats = await runExtractor(extractor, input);
    const id = o.id ?? (imageFile.split(/[\\/]/).pop() ?? imageFile).replace(/\.[^.]+$/, '');
    const { size: _size, id: _id, ...rest } = o;
    const result = await explain({ ...rest, test: { id, features: feats, imageSize: [image.height, image.width], inputSize: size } });
    return { result, image };
  } finally {
    input.dispose();
    feats?.dispose();
  }
}
