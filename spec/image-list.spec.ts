// The one image listing (src/data/image-list.ts): every listed extension decodes with the default codec path (pixels
// against PIL's references in spec/fixtures/data/images/variants), unlisted formats do not, the order is deterministic,
// errors name the argument, and no other source file carries an extension list.
import { expect } from 'chai';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readImageRGB } from '../src/data/image-io.js';
import { expandImageArgs, IMAGE_EXTENSIONS, isImageFile, listImageFolder, listImages } from '../src/data/image-list.js';
import { readImageMap } from '../src/data/image-map.js';
import { openDataset } from '../src/data/datasets/index.js';
import { resolveInput } from '../src/pipeline/input.js';
import { tmpDir } from './helpers/tmp.js';

const VAR = 'spec/fixtures/data/images/variants';
/** A fixture (written by PIL, with its PIL decode beside it) for each listed extension. */
const SAMPLE: Record<string, string> = {
  '.jpg': 'plain.jpg',
  '.jpeg': 'plain.jpg',
  '.png': 'rgb.png',
  '.webp': 'plain.webp',
  '.bmp': 'plain.bmp',
  '.tif': 'plain.tif',
  '.tiff': 'plain.tif',
  '.gif': 'anim.gif',
};

async function message(f: () => unknown): Promise<string> {
  try {
    await f();
  } catch (e) {
    return (e as Error).message;
  }
  return '(no error)';
}

function touch(dir: string, rel: string): void {
  mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  writeFileSync(path.join(dir, rel), '');
}

describe('image listing (data/image-list.ts)', () => {
  it('every listed extension decodes with the default codec, equal to PIL', async () => {
    expect(Object.keys(SAMPLE).sort()).to.deep.equal([...IMAGE_EXTENSIONS].sort());
    const dir = tmpDir();
    for (const [ext, file] of Object.entries(SAMPLE)) copyFileSync(path.join(VAR, file), path.join(dir, `x${ext.slice(1)}${ext.toUpperCase()}`));
    const { files } = await listImages(dir);
    expect(files).to.have.length(IMAGE_EXTENSIONS.length);
    for (const f of files) {
      const ext = path.extname(f).toLowerCase();
      const img = await readImageRGB(path.join(dir, f));
      const ref = gunzipSync(readFileSync(path.join(VAR, `${SAMPLE[ext]}.rgb.gz`)));
      expect(img.data.length, f).to.equal(ref.length);
      expect(Buffer.from(img.data).equals(ref), `${f} equals PIL's decode`).to.equal(true);
    }
  });

  it('formats the decoders cannot read (.ppm, .pgm) are not listed', async () => {
    const dir = tmpDir();
    // Netpbm P6/P5 headers by hand: 2×1 pixels.
    writeFileSync(path.join(dir, 'a.ppm'), Buffer.concat([Buffer.from('P6\n2 1\n255\n'), Buffer.from([255, 0, 0, 0, 255, 0])]));
    writeFileSync(path.join(dir, 'b.pgm'), Buffer.concat([Buffer.from('P5\n2 1\n255\n'), Buffer.from([0, 255])]));
    for (const f of ['a.ppm', 'b.pgm']) {
      expect(isImageFile(f)).to.equal(false);
      expect(await message(() => readImageRGB(path.join(dir, f)))).to.match(new RegExp(`^${path.join(dir, f)}: cannot decode image`));
    }
    expect(await message(() => listImages(dir))).to.equal(`${dir}: no images (${IMAGE_EXTENSIONS.join(' ')})`);
  });

  it('lists in code-unit order whatever the creation order; hidden entries skipped; recursive or not', async () => {
    const dir = tmpDir();
    for (const r of ['b.jpg', 'B.JPG', 'a/z.png', 'a/b/c.gif', '.hidden.jpg', '.git/x.jpg', 'notes.txt', 'Z.webp', 'a.jpeg']) touch(dir, r);
    expect((await listImages(dir)).files).to.deep.equal(['B.JPG', 'Z.webp', 'a.jpeg', 'a/b/c.gif', 'a/z.png', 'b.jpg']);
    expect(listImageFolder(dir, { recursive: false })).to.deep.equal(['B.JPG', 'Z.webp', 'a.jpeg', 'b.jpg']);
    const g = await listImages(`${dir}/a/**/*`);
    expect(g.base).to.equal(`${dir}/a`);
    expect(g.files).to.deep.equal(['b/c.gif', 'z.png']);
  });

  it('errors name the argument', async () => {
    const dir = tmpDir();
    touch(dir, 'x.jpg');
    touch(dir, 'sub/x.png');
    touch(dir, 'notes.txt');
    expect(await message(() => listImages(`${dir}/missing`))).to.equal(`${dir}/missing: folder not found`);
    expect(await message(() => listImages(`${dir}/x.jpg`))).to.equal(`${dir}/x.jpg: not a folder (give a folder or a glob)`);
    expect(await message(() => listImages(`${dir}/*.gif`))).to.match(new RegExp(`^${dir}/\\*\\.gif: no images`));
    expect(await message(() => expandImageArgs([`${dir}/nope.jpg`]))).to.equal(`${dir}/nope.jpg: no such file or directory`);
    expect(await message(() => expandImageArgs([dir, `${dir}/sub`]))).to.equal(`${dir}/sub/x.png: same stem "x" as ${dir}/x.jpg; outputs would collide`);
    expect(await message(() => resolveInput({ images: [`${dir}/notes.txt`] }, ['all']))).to.match(new RegExp(`^${dir}/notes.txt: not an image file name \\(\\.jpg`));
  });

  it('the four listers agree: extract arguments, image maps, image arguments, the folder dataset', async () => {
    const dir = tmpDir();
    for (const r of ['b.gif', 'a.JPG', 'c.bmp', 'd.ppm', 'e.txt']) touch(dir, r);
    const want = ['a.JPG', 'b.gif', 'c.bmp'];
    expect((await expandImageArgs([dir])).map((i) => path.basename(i.file))).to.deep.equal(want);
    expect([...readImageMap(dir).values()].map((f) => path.basename(f))).to.deep.equal(want);
    const ds = await openDataset('folder', { dataDir: dir });
    expect((await ds.records('all')).map((r) => r.id)).to.deep.equal(want);
    expect((await resolveInput({ images: [dir] }, ['all'])).records.map((r) => r.id)).to.deep.equal(want);
  });

  it('one image-extension list in src/ (an array literal of two or more extensions)', () => {
    const hits: string[] = [];
    const scan = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) scan(p);
        else if (p.endsWith('.ts') && /['"]\.(jpe?g|png)['"]\s*,\s*['"]\.[a-z]+['"]/i.test(readFileSync(p, 'utf8'))) hits.push(p);
      }
    };
    scan('src');
    expect(hits).to.deep.equal([path.join('src', 'data', 'image-list.ts')]);
  });
});
