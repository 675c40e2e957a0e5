// Builds data/tiny-cub: a tiny dataset in the CUB-200-2011 on-disk layout from the annotated photos in data/
// (images are relative symlinks to data/*.jpg, so nothing is duplicated). Run: node tools/make-tiny-cub.mjs
// Layout: images.txt "<id> <class_dir>/<file>", classes.txt "<class_id> <name>", image_class_labels.txt
// "<id> <class_id>", train_test_split.txt "<id> <is_train>", bounding_boxes.txt "<id> <x> <y> <width> <height>"
// (CUB boxes: top-left corner and size, in pixels), images/<class_dir>/<file>.
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const data = path.join(root, 'data');
const out = path.join(data, 'tiny-cub');
const manifest = JSON.parse(readFileSync(path.join(data, 'manifest.json'), 'utf8'));
const classes = ['001.animal', '002.bird', '003.fruit', '004.plant_or_insect', '005.artifact', '006.person'];
const classOf = { dog: 1, giraffe: 1, squirrel: 1, cat: 1, eagle: 2, parrot: 2, apple: 3, orange: 3, flower: 4, butterfly: 4, cup: 5, rocket: 5, person: 6 };
const train = new Set(['darknet_dog.jpg', 'darknet_eagle.jpg', 'opencv_apple.jpg', 'sklearn_flower.jpg', 'skimage_coffee.jpg', 'skimage_astronaut.jpg']);

rmSync(out, { recursive: true, force: true });
const lines = { images: [], labels: [], split: [], boxes: [] };
let id = 0;
for (const m of manifest.filter((x) => x.approx_boxes.length > 0)) {
  id++;
  const k = classOf[m.labels[0]];
  if (!k) throw new Error(`no class for ${m.labels[0]}`);
  const dir = classes[k - 1];
  mkdirSync(path.join(out, 'images', dir), { recursive: true });
  symlinkSync(path.join('..', '..', '..', m.file), path.join(out, 'images', dir, m.file));
  const [x0, y0, x1, y1] = m.approx_boxes[0];
  const r = (v) => Math.round(v * 10) / 10;
  lines.images.push(`${id} ${dir}/${m.file}`);
  lines.labels.push(`${id} ${k}`);
  lines.split.push(`${id} ${train.has(m.file) ? 1 : 0}`);
  lines.boxes.push(`${id} ${r(x0)} ${r(y0)} ${r(x1 - x0)} ${r(y1 - y0)}`);
}
const w = (f, ls) => writeFileSync(path.join(out, f), ls.join('\n') + '\n');
w('images.txt', lines.images);
w('image_class_labels.txt', lines.labels);
w('train_test_split.txt', lines.split);
w('bounding_boxes.txt', lines.boxes);
w('classes.txt', classes.map((c, i) => `${i + 1} ${c}`));
writeFileSync(path.join(out, 'README.md'), '# tiny-cub\n\nA tiny dataset in the CUB-200-2011 layout built by `node tools/make-tiny-cub.mjs` from the annotated photos in `data/` (see ../manifest.json for origins, licenses and the approximate, hand-drawn boxes). Images are symlinks.\n');
console.log(`wrote ${out}: ${id} images`);
