// GT box and mask transforms against the release's formulas computed with numpy / cv2 (tools/ref_images.py): exact.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { transformBoxes, prepareMask, roundHalfEven, geometry, shorterSideSize, cropRGB, type MaskKind } from '../src/data/transforms.js';
import type { CornerBox } from '../src/util/box.js';

const FIX = 'spec/fixtures/data/images';

describe('transforms: boxes (release formula)', () => {
  const cases = JSON.parse(readFileSync(`${FIX}/boxes.json`, 'utf8')) as { box: CornerBox; width: number; height: number; resize: number; crop: number; expected: CornerBox }[];
  it(`${cases.length} random boxes equal numpy's result exactly (round half to even, clip)`, () => {
    let n = 0;
    for (const c of cases) {
      const p = c.resize === c.crop ? { kind: 'resize' as const, width: c.resize, height: c.resize } : { kind: 'resize-crop' as const, resize: c.resize, crop: c.crop };
      const [got] = transformBoxes([c.box], { width: c.width, height: c.height }, p);
      expect(got, JSON.stringify(c)).to.deep.equal(c.expected);
      n++;
    }
    expect(n).to.be.greaterThan(400);
  });
  it('rounds halves to even like numpy', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, 3.5].map(roundHalfEven)).to.deep.equal([0, 2, 2, -0, -2, 2, 4]);
  });
  it('geometry: torchvision sizes and offsets', () => {
    expect(shorterSideSize(640, 427, 256)).to.deep.equal({ width: 383, height: 256 });
    expect(shorterSideSize(300, 451, 256)).to.deep.equal({ width: 256, height: 384 });
    const g = geometry({ kind: 'shorter-crop', resize: 256, crop: 224 }, 640, 427);
    expect(g.crop).to.deep.equal({ left: 80, top: 16, width: 224, height: 224 });
    expect(geometry({ kind: 'resize-crop', resize: 480, crop: 448 }, 500, 333).boxShift).to.deep.equal({ x: 16, y: 16 });
  });
  it('cropRGB zero-pads outside the image', () => {
    const img = { width: 2, height: 1, data: new Uint8Array([1, 2, 3, 4, 5, 6]) };
    const c = cropRGB(img, -1, -1, 4, 3);
    expect([...c.data.subarray(12, 24)]).to.deep.equal([0, 0, 0, 1, 2, 3, 4, 5, 6, 0, 0, 0]);
  });
});

describe('transforms: masks (release load_mask_image via cv2)', () => {
  let ignoreSeen = 0;
  after(() => expect(ignoreSeen, 'some OpenImages case has ignore pixels').to.be.greaterThan(0));
  const cases = JSON.parse(readFileSync(`${FIX}/masks/masks.json`, 'utf8')) as { kind: MaskKind; files: string[]; ignore?: string; resize: number; crop: number; expected: string }[];
  for (const c of cases) {
    it(`${c.kind} ${c.files.join('+')} → Resize(${c.resize}) CenterCrop(${c.crop}) equals cv2 exactly`, async () => {
      const m = await prepareMask(
        c.files.map((f) => `${FIX}/masks/${f}`),
        c.ignore ? `${FIX}/masks/${c.ignore}` : undefined,
        c.kind,
        { kind: 'resize-crop', resize: c.resize, crop: c.crop },
      );
      const exp = new Uint8Array(readFileSync(`${FIX}/masks/${c.expected}`));
      expect([m.width, m.height]).to.deep.equal([c.crop, c.crop]);
      let diff = 0;
      for (let i = 0; i < exp.length; i++) if (exp[i] !== m.data[i]) diff++;
      expect(diff, 'pixels differing').to.equal(0);
      const values = new Set(exp);
      expect(values.has(1)).to.equal(true);
      if (c.ignore && values.has(255)) ignoreSeen++;
    });
  }
});
