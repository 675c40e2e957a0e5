#!/usr/bin/python3
"""Deterministic tiny datasets, in layouts both the authors' release and uol read, from the repo's photos.

Run with Debian's interpreter:  /usr/bin/python3 tools/release_oracle/make_data.py OUT

Writes (all images are baseline JPEGs written by PIL, quality 92, 4:4:4 chroma, longer side <= 150 px so that both
programs only ever *enlarge* them to the fit (224) and eval (>= 160) sizes used by run_release.py):
  OUT/data/CUB/<class_dir>/<file>.jpg                        image copies (wsolevaluation CUB layout)
  OUT/metadata/CUB/{train,val,test}/{image_ids,class_labels,image_sizes,localization}.txt
      wsolevaluation format: `id`; `id,label`; `id,w,h`; `id,x0,y0,x1,y1` (integers, one line per box, several
      lines for multi-box images). The release reads these from `datasets/metadata/CUB/<split>/` in its cwd.
  OUT/data/AIRCRAFT/data/{images/<id>.jpg, images_<split>.txt, images_variant_<split>.txt, variants.txt,
      images_box.txt, images_<split>_size.txt}  FGVC-Aircraft 2013b files plus the release's unpublished
      `images_<split>_size.txt` ("id w h"); split in train, val, test, trainval.
  OUT/data/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}   python pickles (latin1-loadable)
  OUT/data/cifar-10-batches-bin/{data_batch_1..5.bin, test_batch.bin, batches.meta.txt}   the binary version,
      same images and labels (1 label byte + 3072 bytes R, G, B planes per record).
  OUT/data/manifest.json   every image with its split, label, size, boxes and the recipe that made it.

Images: each annotated photo of data/manifest.json (13 with boxes) gives its object (the box crop) pasted at random
sizes and places on smooth random backgrounds (so that random-weight features still separate object from background
and metrics are informative), a few whole photos, and two-object composites give multi-box images. Boxes are
the photos' approximate boxes carried through the same geometry (rounded to integers). CIFAR images are 32x32
area-downsampled crops of the photos.
"""
import argparse
import io
import json
import os
import pickle
import shutil
import sys

import numpy as np
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PHOTOS = os.path.join(REPO, 'data')
MAX_SIDE = 150
JPEG = dict(quality=92, subsampling=0, optimize=False, progressive=False)

# class index (wsol label), class folder, photos
# one class per annotated photo (class index = wsol label, class folder, photos): val/test objects are seen in train,
# which keeps --classwise maps (each class row fitted on one train image) meaningful
CLASSES = [(k, f'{k + 1:03d}.{n[:-4].split("_", 1)[1].capitalize()}', [n]) for k, n in enumerate([
    'cimg_parrot.jpg', 'darknet_eagle.jpg', 'darknet_dog.jpg', 'darknet_giraffe.jpg', 'opencv_squirrel.jpg',
    'skimage_chelsea.jpg', 'opencv_apple.jpg', 'opencv_orange.jpg', 'opencv_butterfly.jpg', 'sklearn_flower.jpg',
    'skimage_coffee.jpg', 'skimage_rocket.jpg', 'skimage_astronaut.jpg'])]
# Evaluation images left out after generation (generation order and random draws unchanged): on these, the
# random-weight maps of some experiment are <= 0 everywhere, which the release turns into all-NaN maps (0/0 in
# norm_att_map) — a degenerate case, not a useful comparison. Found with check.py on a full run_release.py run.
EXCLUDE = {'006.Chelsea/skimage_chelsea_p.jpg'}
TWO_TRAIN = ('cimg_parrot.jpg', 'darknet_dog.jpg', 'opencv_apple.jpg')


def load_manifest():
    with open(os.path.join(PHOTOS, 'manifest.json')) as f:
        return {e['file']: e for e in json.load(f)}


def photo(name):
    with open(os.path.join(PHOTOS, name), 'rb') as f:
        return Image.open(f).convert('RGB')


def fit(im, boxes, max_side):
    """Resizes so the longer side is max_side (LANCZOS), scaling boxes."""
    w, h = im.size
    s = max_side / max(w, h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    return im.resize((nw, nh), Image.LANCZOS), [[b[0] * nw / w, b[1] * nh / h, b[2] * nw / w, b[3] * nh / h] for b in boxes]


def int_boxes(boxes, size):
    w, h = size
    out = []
    for b in boxes:
        x0, y0 = int(np.clip(round(b[0]), 0, w - 1)), int(np.clip(round(b[1]), 0, h - 1))
        x1, y1 = int(np.clip(round(b[2]), x0, w - 1)), int(np.clip(round(b[3]), y0, h - 1))
        out.append([x0, y0, x1, y1])
    return out


def variant(man, name, kind, rng):
    """One derived image of photo `name`: returns (PIL image, float boxes, recipe string)."""
    im, boxes = photo(name), [list(map(float, b)) for b in man[name]['approx_boxes']]
    if kind == 'whole':
        im, boxes = fit(im, boxes, 200)
        return im, boxes, 'whole, longer side 200'
    if kind == 'paste':
        # the object's box crop, longer side 40..110, pasted at a random place on a smooth background
        obj = object_crop(man, name)
        side = int(rng.integers(40, 111))
        sc = side / max(obj.size)
        obj = obj.resize((max(8, round(obj.size[0] * sc)), max(8, round(obj.size[1] * sc))), Image.LANCZOS)
        W, H = int(rng.integers(max(obj.size[0] + 4, 110), 151)), int(rng.integers(max(obj.size[1] + 4, 100), 151))
        canvas = background(W, H, rng)
        ox, oy = int(rng.integers(0, W - obj.size[0] + 1)), int(rng.integers(0, H - obj.size[1] + 1))
        canvas.paste(obj, (ox, oy))
        return canvas, [[ox, oy, ox + obj.size[0], oy + obj.size[1]]], \
            f'box crop, longer side {side}, pasted at ({ox},{oy}) on a {W}x{H} smooth background'
    raise ValueError(kind)


def background(w, h, rng):
    """A smooth background: a linear gradient between two random colours plus mild noise."""
    c0, c1 = rng.uniform(40, 215, size=3), rng.uniform(40, 215, size=3)
    ang = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    t = (np.cos(ang) * xx / w + np.sin(ang) * yy / h)
    t = (t - t.min()) / (t.max() - t.min() + 1e-9)
    img = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None] + rng.normal(0, 4, size=(h, w, 3))
    return Image.fromarray(np.clip(np.round(img), 0, 255).astype(np.uint8))


def object_crop(man, name, k=0):
    im = photo(name)
    b = man[name]['approx_boxes'][k]
    return im.crop(tuple(int(round(v)) for v in b))


def composite(man, names, rng):
    """Two objects (crops of their boxes) pasted side by side on a smooth background: a two-box image."""
    W, H = 150, 108
    canvas = background(W, H, rng)
    boxes = []
    x = int(rng.integers(2, 10))
    for n in names:
        obj = object_crop(man, n)
        s = min(60 / obj.size[0], 84 / obj.size[1])
        obj = obj.resize((max(8, round(obj.size[0] * s)), max(8, round(obj.size[1] * s))), Image.LANCZOS)
        y = int(rng.integers(2, H - obj.size[1] - 1))
        canvas.paste(obj, (x, y))
        boxes.append([x, y, x + obj.size[0], y + obj.size[1]])
        x += obj.size[0] + int(rng.integers(8, 20))
    return canvas, boxes, f'{names[0]} and {names[1]} box crops pasted on a smooth background'


def shrink(im, boxes, recipe):
    """Every stored image has its longer side <= MAX_SIDE: both programs then only enlarge (uol's resize is
    PIL-exact for enlargements; its fast path for reductions is not bit-identical)."""
    if max(im.size) <= MAX_SIDE:
        return im, boxes, recipe
    im, boxes = fit(im, boxes, MAX_SIDE)
    return im, boxes, recipe + f', then longer side {MAX_SIDE}'


def save_jpeg(im, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    buf = io.BytesIO()
    im.save(buf, 'JPEG', **JPEG)
    with open(path, 'wb') as f:
        f.write(buf.getvalue())
    # the stored size is the decoded size
    with Image.open(path) as chk:
        assert chk.size == im.size and chk.mode == 'RGB'


def build_items(man):
    """The CUB split plan: (split, label, class_dir, stem, image, boxes, recipe).

    Mostly objects (their box crops) pasted on smooth backgrounds at random sizes and places, so that even
    random-weight features separate object from background and the metrics are informative (mixed hits and misses,
    best threshold inside the grid); a few whole photos and two-object composites (multi-box) complete it."""
    rng = np.random.default_rng(20231001)
    items = []
    val_photos = ['cimg_parrot.jpg', 'darknet_dog.jpg', 'opencv_apple.jpg', 'opencv_butterfly.jpg',
                  'skimage_coffee.jpg', 'skimage_astronaut.jpg']
    whole = ['opencv_butterfly.jpg', 'sklearn_flower.jpg']
    for label, cdir, names in CLASSES:
        for n in names:
            stem = n[:-4]
            # train: one pasted variant per photo (two for three classes), so the fit stays small (the release
            # resizes every train image to 224x224)
            for k in range(2 if n in TWO_TRAIN else 1):
                im, b, r = variant(man, n, 'paste', rng)
                items.append(('train', label, cdir, f'{stem}_t{k}', im, b, r))
            split = 'val' if n in val_photos else 'test'
            im, b, r = variant(man, n, 'paste', rng)
            items.append((split, label, cdir, f'{stem}_p', im, b, r))
            if n in whole:
                im, b, r = variant(man, n, 'whole', rng)
                items.append((split, label, cdir, f'{stem}_whole', im, b, r))
    # multi-box: two copies of one object (label of its class)
    label_of = {names[0]: (label, cdir) for label, cdir, names in CLASSES}
    for split, n in (('val', 'opencv_apple.jpg'), ('test', 'darknet_dog.jpg'), ('test', 'opencv_orange.jpg')):
        im, b, r = composite(man, [n, n], rng)
        items.append((split, label_of[n][0], label_of[n][1], f'pair_{n[:-4]}', im, b, r))
    return items


def write_cub(out, items):
    data = os.path.join(out, 'data', 'CUB')
    meta = os.path.join(out, 'metadata', 'CUB')
    records = []
    per_split = {'train': [], 'val': [], 'test': []}
    for split, label, cdir, stem, im, boxes, recipe in items:
        im, boxes, recipe = shrink(im, boxes, recipe)
        iid = f'{cdir}/{stem}.jpg'
        save_jpeg(im, os.path.join(data, iid))
        ib = int_boxes(boxes, im.size)
        per_split[split].append((iid, label, im.size, ib))
        records.append(dict(dataset='CUB', split=split, image_id=iid, label=label, width=im.size[0],
                            height=im.size[1], boxes=ib, recipe=recipe))
    for split, rows in per_split.items():
        d = os.path.join(meta, split)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, 'image_ids.txt'), 'w') as f:
            f.writelines(f'{i}\n' for i, _, _, _ in rows)
        with open(os.path.join(d, 'class_labels.txt'), 'w') as f:
            f.writelines(f'{i},{lab}\n' for i, lab, _, _ in rows)
        with open(os.path.join(d, 'image_sizes.txt'), 'w') as f:
            f.writelines(f'{i},{w},{h}\n' for i, _, (w, h), _ in rows)
        with open(os.path.join(d, 'localization.txt'), 'w') as f:
            for i, _, _, bs in rows:
                f.writelines(f'{i},{b[0]},{b[1]},{b[2]},{b[3]}\n' for b in bs)
    return records


def write_aircraft(out, man):
    """FGVC-Aircraft layout. One box per image (the release keeps one box per id). Ids are 7-digit strings."""
    root = os.path.join(out, 'data', 'AIRCRAFT', 'data')
    rng = np.random.default_rng(777)
    variants = ['707-320', '727-200', 'A300B4', 'BAE-125', 'Cessna 172', 'DC-3']
    single = [n for _, _, names in CLASSES for n in names if len(man[n]['approx_boxes']) == 1]
    plan = []   # (split, photo, kind)
    for k, n in enumerate(single):
        plan.append(('train', n, 'paste'))
        plan.append(('val' if k % 2 == 0 else 'test', n, 'paste'))
    for k, n in enumerate(single[:4]):
        plan.append(('test' if k % 2 == 0 else 'val', n, 'whole'))
    records = []
    splits = {'train': [], 'val': [], 'test': []}
    boxes_lines = []
    for j, (split, n, kind) in enumerate(plan):
        iid = f'{1000001 + 37 * j:07d}'
        im, b, recipe = shrink(*variant(man, n, kind, rng))
        if iid in EXCLUDE:
            continue
        save_jpeg(im, os.path.join(root, 'images', iid + '.jpg'))
        ib = int_boxes(b, im.size)
        assert len(ib) == 1
        var = variants[j % len(variants)]
        splits[split].append((iid, var, im.size))
        boxes_lines.append(f'{iid} {ib[0][0]} {ib[0][1]} {ib[0][2]} {ib[0][3]}\n')
        records.append(dict(dataset='AIRCRAFT', split=split, image_id=iid, variant=var, width=im.size[0],
                            height=im.size[1], boxes=ib, recipe=f'{n}: {recipe}'))
    splits['trainval'] = splits['train'] + splits['val']
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, 'variants.txt'), 'w') as f:
        f.writelines(f'{v}\n' for v in variants)
    with open(os.path.join(root, 'images_box.txt'), 'w') as f:
        f.writelines(boxes_lines)
    for s, rows in splits.items():
        with open(os.path.join(root, f'images_{s}.txt'), 'w') as f:
            f.writelines(f'{i}\n' for i, _, _ in rows)
        with open(os.path.join(root, f'images_variant_{s}.txt'), 'w') as f:
            f.writelines(f'{i} {v}\n' for i, v, _ in rows)
        with open(os.path.join(root, f'images_{s}_size.txt'), 'w') as f:
            f.writelines(f'{i} {w} {h}\n' for i, _, (w, h) in rows)
    return records


CIFAR_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']


def write_cifar(out, man):
    """20 train images (5 batches of 4) and 6 test images; 32x32 crops of the photos, random labels."""
    rng = np.random.default_rng(1010)
    names = sorted(man)
    imgs, labels = [], []
    for k in range(26):
        im = photo(names[k % len(names)])
        w, h = im.size
        s = int(rng.integers(min(w, h) // 3, min(w, h) + 1))
        x, y = int(rng.integers(0, w - s + 1)), int(rng.integers(0, h - s + 1))
        t = im.crop((x, y, x + s, y + s)).resize((32, 32), Image.BOX)
        imgs.append(np.asarray(t, dtype=np.uint8))
        labels.append(int(rng.integers(0, 10)))
    py = os.path.join(out, 'data', 'cifar-10-batches-py')
    bn = os.path.join(out, 'data', 'cifar-10-batches-bin')
    os.makedirs(py, exist_ok=True)
    os.makedirs(bn, exist_ok=True)
    batches = [('data_batch_1', 0, 4), ('data_batch_2', 4, 8), ('data_batch_3', 8, 12), ('data_batch_4', 12, 16),
               ('data_batch_5', 16, 20), ('test_batch', 20, 26)]
    for name, a, b in batches:
        planar = np.stack([im.transpose(2, 0, 1).reshape(-1) for im in imgs[a:b]]).astype(np.uint8)   # [n, 3072]
        entry = {'batch_label': f'tiny {name}', 'labels': labels[a:b], 'data': planar,
                 'filenames': [f'tiny_{k:05d}.png' for k in range(a, b)]}
        with open(os.path.join(py, name), 'wb') as f:
            pickle.dump(entry, f, protocol=2)
        with open(os.path.join(bn, name + '.bin'), 'wb') as f:
            for k in range(b - a):
                f.write(bytes([labels[a + k]]))
                f.write(planar[k].tobytes())
    with open(os.path.join(py, 'batches.meta'), 'wb') as f:
        pickle.dump({'num_cases_per_batch': 4, 'label_names': CIFAR_NAMES, 'num_vis': 3072}, f, protocol=2)
    with open(os.path.join(bn, 'batches.meta.txt'), 'w') as f:
        f.writelines(f'{n}\n' for n in CIFAR_NAMES)
    return [dict(dataset='CIFAR10', split='train' if k < 20 else 'test', index=k, label=labels[k]) for k in range(26)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('out')
    a = ap.parse_args()
    man = load_manifest()
    for d in ('data', 'metadata'):
        shutil.rmtree(os.path.join(a.out, d), ignore_errors=True)
    items = [it for it in build_items(man) if f'{it[2]}/{it[3]}.jpg' not in EXCLUDE]
    records = write_cub(a.out, items)
    records += write_aircraft(a.out, man)
    records += write_cifar(a.out, man)
    with open(os.path.join(a.out, 'data', 'manifest.json'), 'w') as f:
        json.dump(dict(generator='tools/release_oracle/make_data.py', jpeg=JPEG, images=records), f, indent=1)
    counts = {}
    for r in records:
        counts[(r['dataset'], r['split'])] = counts.get((r['dataset'], r['split']), 0) + 1
    for k, v in sorted(counts.items()):
        print(f'{k[0]:9s} {k[1]:6s} {v}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
