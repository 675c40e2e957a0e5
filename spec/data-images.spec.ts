// Image decoding and transforms against PIL 9.4 + torchvision 0.14 references (tools/ref_images.py).
// Tolerances: sharp decode is bit-exact; sharp resizes ≤ 0.5/255 mean abs (measured ≈0.2); the PIL-exact resampler is
// bit-exact; jimp (jpeg-js decode + PIL-exact resize) ≤ 1.5 grey levels mean abs on JPEG photos, exact on PNG.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readImageRGB, resizeRGB, toInputTensor, toInputBatch, readImageResized, type Codec, DEFAULT_MAX_PIXELS, imageCodecInfo } from '../src/data/image-io.js';
import { prepareImage, type Protocol } from '../src/data/transforms.js';
import { pilResize } from '../src/data/pil-resample.js';
import type { Interpolation } from '../src/backbones/types.js';
import { expectNoLeak } from './helpers/leak.js';
import { tmpDir } from './helpers/tmp.js';

const FIX = 'spec/fixtures/data/images';
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const gz = (f: string): Uint8Array => new Uint8Array(gunzipSync(readFileSync(f)));

function stats(a: Uint8Array, b: Uint8Array): { mean: number; max: number } {
  expect(a.length).to.equal(b.length);
  let s = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    s += d;
    if (d > m) m = d;
  }
  return { mean: s / a.length, max: m };
}

interface Variant {
  mode: string;
  width: number;
  height: number;
}

const variants = JSON.parse(readFileSync(`${FIX}/variants/variants.json`, 'utf8')) as Record<string, Variant>;

describe('image decode: PIL convert("RGB") semantics', () => {
  for (const [file, v] of Object.entries(variants)) {
    it(`sharp: ${file} (${v.mode}) decodes bit-identical to PIL`, async () => {
      const img = await readImageRGB(`${FIX}/variants/${file}`, file, { codec: 'sharp' });
      expect([img.width, img.height]).to.deep.equal([v.width, v.height]);
      const ref = gz(`${FIX}/variants/${file}.rgb.gz`);
      expect(stats(img.data, ref).max, file).to.equal(0);
    });
  }

  // jimp: pure-JS decoders. PNG/GIF/BMP/TIFF are exact; jpeg-js differs from libjpeg's IDCT (a few levels); WebP is not
  // supported by jimp; 16-bit grey loses PIL's clip (pngjs rescales to 8 bits).
  const jimpLimits: Record<string, number> = { jpg: 1.5, png: 0, gif: 0, bmp: 0, tif: 0 };
  for (const [file, v] of Object.entries(variants)) {
    const ext = path.extname(file).slice(1);
    if (!(ext in jimpLimits) || file === 'grey16.png' || file === 'rgb16.png') continue;
    it(`jimp: ${file} (${v.mode}) within ${jimpLimits[ext]} mean abs of PIL, stored orientation`, async () => {
      const img = await readImageRGB(`${FIX}/variants/${file}`, file, { codec: 'jimp' });
      expect([img.width, img.height]).to.deep.equal([v.width, v.height]);
      const s = stats(img.data, gz(`${FIX}/variants/${file}.rgb.gz`));
      expect(s.mean, `${file} mean abs`).to.be.at.most(jimpLimits[ext]!);
    });
  }

  it('jimp: 16-bit RGB PNG keeps the high byte (≤1 level)', async () => {
    const img = await readImageRGB(`${FIX}/variants/rgb16.png`, 'rgb16.png', { codec: 'jimp' });
    expect(stats(img.data, gz(`${FIX}/variants/rgb16.png.rgb.gz`)).max).to.be.at.most(1);
  });

  it('exifRotate: true applies the orientation (sharp and jimp agree)', async () => {
    for (const k of [3, 6, 8]) {
      const a = await readImageRGB(`${FIX}/variants/exif${k}.jpg`, 'x', { codec: 'sharp', exifRotate: true });
      const b = await readImageRGB(`${FIX}/variants/exif${k}.jpg`, 'x', { codec: 'jimp', exifRotate: true });
      expect([a.width, a.height]).to.deep.equal(k >= 5 ? [48, 64] : [64, 48]);
      expect([b.width, b.height]).to.deep.equal([a.width, a.height]);
      expect(stats(a.data, b.data).mean).to.be.below(1.5);
    }
  });

  it('reports codecs', async () => {
    const info = await imageCodecInfo();
    expect(info.sharp.available).to.equal(true);
    expect(info.jimp.available).to.equal(true);
    expect(info.default).to.equal('sharp');
  });
});

interface PhotoCase {
  kind: Protocol['kind'];
  interp: Interpolation;
  w?: number;
  h?: number;
  resize?: number;
  crop?: number;
  photo: string;
  file: string;
  width: number;
  height: number;
}
const photos = JSON.parse(readFileSync(`${FIX}/photos/photos.json`, 'utf8')) as { photos: Record<string, { width: number; height: number; sha256: string }>; cases: PhotoCase[] };

function protocolOf(c: PhotoCase): Protocol {
  if (c.kind === 'resize') return { kind: 'resize', width: c.w!, height: c.h! };
  return { kind: c.kind, resize: c.resize!, crop: c.crop! };
}

describe('photos: decode and torchvision transforms', () => {
  for (const [name, p] of Object.entries(photos.photos)) {
    it(`sharp decode of ${name} is bit-identical to PIL (sha256)`, async () => {
      const img = await readImageRGB(`data/${name}`);
      expect([img.width, img.height]).to.deep.equal([p.width, p.height]);
      expect(sha(img.data)).to.equal(p.sha256);
    });
  }

  const measured: string[] = [];
  for (const c of photos.cases) {
    const proto = protocolOf(c);
    const label = `${c.photo} ${c.kind} ${c.kind === 'resize' ? `${c.w}x${c.h}` : `${c.resize}/${c.crop}`} ${c.interp}`;
    it(`${label}: PIL-exact resizer is bit-identical; sharp ≤ 0.5/255 mean abs`, async () => {
      const ref = gz(`${FIX}/photos/${c.file}`);
      const exact = await prepareImage({ file: `data/${c.photo}` }, proto, c.interp, { codec: 'sharp', resizer: 'pil' });
      expect([exact.image.width, exact.image.height]).to.deep.equal([c.width, c.height]);
      expect(stats(exact.image.data, ref).max, 'pil resizer').to.equal(0);
      const fast = await prepareImage({ file: `data/${c.photo}` }, proto, c.interp, { codec: 'sharp' });
      const s = stats(fast.image.data, ref);
      measured.push(`${label}: sharp mean ${s.mean.toFixed(3)} max ${s.max}`);
      expect(s.mean, 'sharp mean abs').to.be.at.most(c.interp === 'nearest' ? 0 : 0.5);
      const j = await prepareImage({ file: `data/${c.photo}` }, proto, c.interp, { codec: 'jimp' });
      const sj = stats(j.image.data, ref);
      measured.push(`${label}: jimp mean ${sj.mean.toFixed(3)} max ${sj.max}`);
      expect(sj.mean, 'jimp mean abs').to.be.at.most(1.5);
    });
  }
  after(() => {
    if (process.env.UOL_PRINT_MEASURED) console.log(measured.join('\n'));
  });

  it('upsampling 32×32 pixels to 224 (CIFAR): PIL-exact and sharp within tolerance', async () => {
    const small = { width: 32, height: 32, data: new Uint8Array(readFileSync(`${FIX}/cifar32.rgb`)) };
    const ref = gz(`${FIX}/cifar32_224_bilinear.rgb.gz`);
    expect(stats(pilResize(small.data, 32, 32, 224, 224, 'bilinear'), ref).max).to.equal(0);
    const viaPrepare = await prepareImage({ pixels: small }, { kind: 'resize', width: 224, height: 224 }, 'bilinear');
    expect(stats(viaPrepare.image.data, ref).max, 'pixels source resizes exactly').to.equal(0);
  });

  it('fused decode+resize equals decode then resize (sharp)', async () => {
    const a = await readImageResized('data/skimage_chelsea.jpg', 224, 224, 'bilinear', { codec: 'sharp' });
    const b = await resizeRGB(await readImageRGB('data/skimage_chelsea.jpg'), 224, 224, 'bilinear', { codec: 'sharp' });
    expect(a.original).to.deep.equal({ width: 451, height: 300 });
    expect(stats(a.image.data, b.data).max).to.be.at.most(1);
  });

  it('toInputTensor/toInputBatch equal torchvision ToTensor+Normalize (≤1e-6) and leak nothing', async () => {
    const raw = new Uint8Array(readFileSync(`${FIX}/normalize_32.rgb`));
    const ref = new Float32Array(new Uint8Array(readFileSync(`${FIX}/normalize_32.f32`)).buffer);
    const contract = { mean: [0.485, 0.456, 0.406] as [number, number, number], std: [0.229, 0.224, 0.225] as [number, number, number], interpolation: 'bilinear' as const, sizeMultiple: 1, minSize: 1, defaultSize: 32 };
    const img = { width: 32, height: 32, data: raw };
    const vals = await expectNoLeak(() => {
      const x = toInputTensor(img, contract);
      const b = toInputBatch([img, img], contract);
      const out = [x.dataSync().slice(), b.dataSync().slice(32 * 32 * 3)];
      expect(b.shape).to.deep.equal([2, 32, 32, 3]);
      tf.dispose([x, b]);
      return out;
    });
    for (const v of vals) {
      let m = 0;
      for (let i = 0; i < ref.length; i++) m = Math.max(m, Math.abs(v[i]! - ref[i]!));
      expect(m).to.be.at.most(1e-6);
    }
    expect(() => toInputBatch([img, { width: 2, height: 2, data: new Uint8Array(12) }], contract)).to.throw(/image 1 is 2×2/);
  });
});

describe('bad images give clear errors naming the file', () => {
  const dir = tmpDir();
  const good = readFileSync('data/skimage_chelsea.jpg');
  const cases: [string, Uint8Array, RegExp][] = [
    ['truncated.jpg', good.subarray(0, Math.floor(good.length / 2)), /truncated\.jpg: cannot decode image/],
    ['empty.jpg', new Uint8Array(0), /empty\.jpg: cannot decode image: empty file/],
    ['text.jpg', new TextEncoder().encode('hello, this is not a JPEG\n'), /text\.jpg: cannot decode image/],
  ];
  for (const codec of ['sharp', 'jimp'] as Codec[]) {
    for (const [name, bytes, re] of cases) {
      it(`${codec}: ${name}`, async () => {
        const f = path.join(dir, name);
        writeFileSync(f, bytes);
        let msg = '';
        try {
          await readImageRGB(f, name, { codec });
        } catch (e) {
          msg = (e as Error).message;
          expect((e as Error).name).to.equal('UsageError');
        }
        expect(msg).to.match(re);
      });
    }
    it(`${codec}: 30000×30000 PNG header is refused before decoding (pixel limit)`, async () => {
      let msg = '';
      try {
        await readImageRGB(`${FIX}/bad/huge_30000.png`, 'huge.png', { codec });
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).to.match(/^huge\.png: image is 30000×30000 = 900000000 pixels, above the limit of 178956970/);
      expect(DEFAULT_MAX_PIXELS).to.equal(178956970);
    });
    it(`${codec}: the pixel limit is configurable`, async () => {
      let msg = '';
      try {
        await readImageRGB('data/skimage_chelsea.jpg', 'chelsea', { codec, maxPixels: 1000 });
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).to.match(/^chelsea: image is 451×300 = 135300 pixels, above the limit of 1000/);
    });
    it(`${codec}: missing file`, async () => {
      let msg = '';
      try {
        await readImageRGB(path.join(dir, 'nope.jpg'), 'nope.jpg', { codec });
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).to.equal('nope.jpg: cannot read image: no such file');
    });
  }
});
