// Box conventions (src/util/box.ts): each conversion on hand-worked cases.
import { expect } from 'chai';
import { cornerToImageEdges, denormalizeBox, edgeArea, edgesToXYWH, normalizeBox, relativeTo, roundBox, scaleToPixels, spanBox } from '../src/util/box.js';
import { toOriginal } from '../src/pipeline/localize.js';

describe('boxes (util/box.ts)', () => {
  it('cv2 corners of an input frame → continuous edges of the original image (crop offset, scale, clip, 1/100 px)', () => {
    // A 448×300 photo resized to 224×224 (scale 2, 300/224), then the box [10, 20, 100, 224] in that frame.
    const f = { left: 0, top: 0, scaleX: 2, scaleY: 300 / 224, width: 448, height: 300 };
    expect(cornerToImageEdges([10, 20, 100, 224], f)).to.deep.equal([20, 26.79, 200, 300]);
    // Resize 256 then centre crop 224: the crop offset 16 is added before scaling; beyond the image → clipped.
    const c = { left: 16, top: 16, scaleX: 448 / 256, scaleY: 300 / 256, width: 448, height: 300 };
    expect(cornerToImageEdges([0, 0, 224, 240], c)).to.deep.equal([28, 18.75, 420, 300]);
    // pipeline/localize.ts toOriginal is this conversion with the protocol's geometry.
    expect(toOriginal([0, 0, 224, 224], { kind: 'resize-crop', resize: 256, crop: 224 }, 448, 300)).to.deep.equal(cornerToImageEdges([0, 0, 224, 224], c));
  });

  it('COCO [x, y, w, h] and area from continuous edges; empty boxes have zero size', () => {
    expect(edgesToXYWH([20.004, 26.79, 200, 300])).to.deep.equal([20, 26.79, 180, 273.21]);
    expect(edgesToXYWH([5, 5, 3, 9])).to.deep.equal([5, 5, 0, 4]);
    expect(edgeArea([0, 0, 2.5, 4])).to.equal(10);
    expect(edgeArea([5, 5, 3, 9])).to.equal(0);
  });

  it('pixel ranges: scale outwards, move, span; rounding for drawing', () => {
    expect(scaleToPixels([10, 10, 21, 31], 0.5, 0.5)).to.deep.equal([5, 5, 11, 16]);
    expect(scaleToPixels([1.2, 0.4, 2.2, 3.01], 10, 1)).to.deep.equal([12, 0, 22, 4]);
    expect(relativeTo([10, 20, 30, 40], 5, 15)).to.deep.equal([5, 5, 25, 25]);
    expect(spanBox([0, 0, 8, 8], [16, 24, 32, 40])).to.deep.equal([0, 0, 32, 40]);
    expect(roundBox([0.5, 1.49, 2.5, -0.5])).to.deep.equal([1, 1, 3, -0]);
  });

  it('normalised boxes round-trip through pixels', () => {
    expect(normalizeBox([112, 75, 448, 300], 448, 300)).to.deep.equal([0.25, 0.25, 1, 1]);
    expect(denormalizeBox([0.25, 0.25, 1, 1], 448, 300)).to.deep.equal([112, 75, 448, 300]);
  });
});
