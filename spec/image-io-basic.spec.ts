// Minimal checks of the first image I/O (the images area extends these against PIL references).
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { readImageRGB, resizeRGB, toInputTensor } from '../src/data/image-io.js';
import { expectNoLeak } from './helpers/leak.js';

describe('image-io (basic)', () => {
  it('decodes a sample photo to RGB with the manifest size and normalises per contract', async () => {
    const img = await readImageRGB('data/skimage_chelsea.jpg');
    expect([img.width, img.height]).to.deep.equal([451, 300]);
    expect(img.data.length).to.equal(451 * 300 * 3);
    const small = await resizeRGB(img, 224, 224, 'bilinear');
    expect(small.data.length).to.equal(224 * 224 * 3);
    const t = await expectNoLeak(() => {
      const x = toInputTensor(small, { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], interpolation: 'bilinear', sizeMultiple: 1, minSize: 1, defaultSize: 224 });
      const v = x.dataSync()[0]!;
      x.dispose();
      return v;
    });
    expect(t).to.be.closeTo((small.data[0]! / 255 - 0.5) / 0.5, 1e-6);
    expect(tf.memory().numTensors).to.be.a('number');
  });

  it('names the file when decoding fails', async () => {
    let msg = '';
    try {
      await readImageRGB(Buffer.from('not an image'), 'bad.jpg');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).to.match(/^bad\.jpg: cannot decode image/);
  });
});
