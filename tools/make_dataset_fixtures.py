#!/usr/bin/python3
"""Tiny datasets in each benchmark's real on-disk layout, for the src/data/datasets readers.

    /usr/bin/python3 tools/make_dataset_fixtures.py     # writes spec/fixtures/data/datasets/

Each dataset gets an `expected.json` computed here, independently of the project's code: per split the record ids,
labels, class names, boxes in original pixels (as the format defines them) and the boxes after the release's eval
transform (datasets/cub200.py formula, numpy round-half-even), and for CIFAR the sha256 of each image's HWC RGB bytes.
.mat files are written by scipy.io.savemat in the devkits' shapes (Cars: 1xN struct array "annotations" with uint8/uint16
scalars and char fname; Dogs: Nx1 cell arrays file_list/annotation_list and Nx1 double labels); XML as Stanford Dogs'.
"""
import hashlib
import json
import os
import shutil

import numpy as np
import scipy.io
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'spec', 'fixtures', 'data', 'datasets')
RS = np.random.RandomState(11)


def release_box(box, w, h, image_size, crop_size):
    x1, y1, x2, y2 = box
    x_scale = image_size / w
    y_scale = image_size / h
    max_ = crop_size - 1
    x1_new = np.clip(np.round(x1 * x_scale - (image_size - crop_size) * 0.5), 0, max_)
    y1_new = np.clip(np.round(y1 * y_scale - (image_size - crop_size) * 0.5), 0, max_)
    x2_new = np.clip(np.round(x2 * x_scale - (image_size - crop_size) * 0.5), x1_new, max_)
    y2_new = np.clip(np.round(y2 * y_scale - (image_size - crop_size) * 0.5), y1_new, max_)
    return [float(x1_new), float(y1_new), float(x2_new), float(y2_new)]


def photo(path, w, h, fmt='JPEG'):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    yy, xx = np.mgrid[:h, :w]
    a = np.stack([(xx * 255 // max(1, w - 1)), (yy * 255 // max(1, h - 1)), RS.randint(0, 256, (h, w))], -1).astype(np.uint8)
    Image.fromarray(a).save(path, fmt, **({'quality': 80} if fmt == 'JPEG' else {}))


def rand_box(w, h):
    x0 = int(RS.randint(0, w // 2))
    y0 = int(RS.randint(0, h // 2))
    return [x0, y0, int(RS.randint(x0 + 1, w)), int(RS.randint(y0 + 1, h))]


def dump(d, obj):
    with open(os.path.join(d, 'expected.json'), 'w') as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)


def rec(id_, label, cls, boxes, w, h, r, c, **extra):
    out = {'id': id_, 'label': label, 'className': cls, 'boxes': boxes, 'width': w, 'height': h}
    if boxes is not None:
        out['evalBoxes'] = [release_box(b, w, h, r, c) for b in boxes]
    out.update(extra)
    return out


def cub():
    d = os.path.join(OUT, 'cub', 'CUB_200_2011')
    classes = ['001.Black_footed_Albatross', '002.Laysan_Albatross', '003.Sooty_Albatross']
    rows, exp = [], {'train': [], 'test': []}
    iid = 0
    for ci, c in enumerate(classes):
        for k in range(3 if ci < 2 else 2):
            iid += 1
            name = f'{c}/{c.split(".")[1]}_{k:04d}_{iid}.jpg'
            w, h = int(RS.randint(30, 60)), int(RS.randint(30, 60))
            photo(os.path.join(d, 'images', name), w, h)
            x, y = float(RS.randint(0, w // 2)) + 0.5 * (iid % 2), float(RS.randint(0, h // 2))
            bw, bh = float(RS.randint(3, w // 2)), float(RS.randint(3, h // 2))
            train = int(k % 2 == 0)
            seg = np.zeros((h, w), np.uint8)
            seg[int(y):int(y + bh), int(x):int(x + bw)] = 255
            seg[int(y):int(y + 2), int(x):int(x + bw)] = 128
            os.makedirs(os.path.join(d, '..', 'segmentations', c), exist_ok=True)
            Image.fromarray(seg).save(os.path.join(d, '..', 'segmentations', name[:-4] + '.png'))
            rows.append((iid, name, ci + 1, train, (x, y, bw, bh)))
            box = [x, y, x + bw, y + bh]
            exp['train' if train else 'test'].append(rec(name, ci, c.split('.')[1], [box], w, h, 480, 448))
    with open(os.path.join(d, 'images.txt'), 'w') as f:
        f.writelines(f'{i} {n}\n' for i, n, *_ in rows)
    with open(os.path.join(d, 'image_class_labels.txt'), 'w') as f:
        f.writelines(f'{i} {c}\n' for i, _, c, *_ in rows)
    with open(os.path.join(d, 'classes.txt'), 'w') as f:
        f.writelines(f'{i + 1} {c}\n' for i, c in enumerate(classes))
    with open(os.path.join(d, 'train_test_split.txt'), 'w') as f:
        f.writelines(f'{i} {t}\n' for i, _, _, t, _ in rows)
    with open(os.path.join(d, 'bounding_boxes.txt'), 'w') as f:
        f.writelines(f'{i} {b[0]:.1f} {b[1]:.1f} {b[2]:.1f} {b[3]:.1f}\n' for i, *_, b in rows)
    dump(os.path.join(OUT, 'cub'), {'dataDir': 'CUB_200_2011', 'classNames': [c.split('.')[1] for c in classes], 'splits': exp, 'masks': True})


def wsol_cub():
    base = os.path.join(OUT, 'wsol_cub')
    exp = {}
    for split, n in (('train', 4), ('val', 3), ('test', 3)):
        md = os.path.join(base, 'metadata', 'CUB', split)
        os.makedirs(md, exist_ok=True)
        ids, labels, sizes, locs, recs = [], [], [], [], []
        for k in range(n):
            c = ['001.Black_footed_Albatross', '002.Laysan_Albatross'][k % 2]
            iid = f'{c}/{split}_{k}.jpg'
            w, h = int(RS.randint(30, 70)), int(RS.randint(30, 70))
            photo(os.path.join(base, 'dataset', 'CUB', iid), w, h)
            boxes = [rand_box(w, h) for _ in range(1 + (k == 1))]
            ids.append(iid)
            labels.append(f'{iid},{k % 2}')
            sizes.append(f'{iid},{w},{h}')
            locs += [f'{iid},{b[0]},{b[1]},{b[2]},{b[3]}' for b in boxes]
            recs.append(rec(iid, k % 2, c.split('.')[1], boxes, w, h, 480, 448, size=[w, h]))
        for fn, lines in (('image_ids.txt', ids), ('class_labels.txt', labels), ('image_sizes.txt', sizes), ('localization.txt', locs)):
            with open(os.path.join(md, fn), 'w') as f:
                f.write('\n'.join(lines) + '\n')
        exp[split] = recs
    dump(base, {'dataDir': 'dataset/CUB', 'metadata': 'metadata/CUB', 'splits': exp, 'classNames': ['Black_footed_Albatross', 'Laysan_Albatross']})


def wsol_openimages():
    base = os.path.join(OUT, 'wsol_oi')
    exp = {}
    for split, n in (('train', 3), ('test', 3)):
        md = os.path.join(base, 'metadata', 'OpenImages', split)
        os.makedirs(md, exist_ok=True)
        ids, labels, sizes, locs, recs = [], [], [], [], []
        for k in range(n):
            iid = f'{split}/01226z/img{k}.jpg'
            w, h = int(RS.randint(30, 60)), int(RS.randint(30, 60))
            photo(os.path.join(base, 'dataset', 'OpenImages', iid), w, h)
            ids.append(iid)
            labels.append(f'{iid},{k}')
            sizes.append(f'{iid},{w},{h}')
            masks = []
            ignore = ''
            if split == 'test':
                for j in range(1 + (k == 0)):
                    mp = f'{split}/01226z/img{k}_m01226z_{j}.png'
                    m = np.zeros((h, w), np.uint8)
                    b = rand_box(w, h)
                    m[b[1]:b[3], b[0]:b[2]] = 255
                    Image.fromarray(m).save(os.path.join(base, 'dataset', 'OpenImages', mp))
                    masks.append(mp)
                if k != 2:
                    ignore = f'{split}/01226z/img{k}_ignore.png'
                    Image.fromarray(np.full((h, w), 255, np.uint8)).save(os.path.join(base, 'dataset', 'OpenImages', ignore))
                locs.append(f'{iid},{masks[0]},{ignore}')
                locs += [f'{iid},{m},' for m in masks[1:]]
            r = rec(iid, k, None, None, w, h, 256, 224, size=[w, h])
            if masks:
                r['maskFiles'] = masks
                r['ignoreFile'] = ignore or None
            recs.append(r)
        files = [('image_ids.txt', ids), ('class_labels.txt', labels), ('image_sizes.txt', sizes)]
        if locs:
            files.append(('localization.txt', locs))
        for fn, lines in files:
            with open(os.path.join(md, fn), 'w') as f:
                f.write('\n'.join(lines) + '\n')
        exp[split] = recs
    dump(base, {'dataDir': 'dataset/OpenImages', 'metadata': 'metadata/OpenImages', 'splits': exp})


def cars():
    d = os.path.join(OUT, 'cars', 'stanfordCar')
    names = ['AM General Hummer SUV 2000', 'Acura RL Sedan 2012', 'Acura TL Sedan 2012']
    os.makedirs(os.path.join(d, 'devkit'), exist_ok=True)
    exp = {}
    dt = [('bbox_x1', 'O'), ('bbox_y1', 'O'), ('bbox_x2', 'O'), ('bbox_y2', 'O'), ('class', 'O'), ('fname', 'O')]
    for split, n in (('train', 4), ('test', 3)):
        a = np.zeros((1, n), dtype=dt)
        recs = []
        for i in range(n):
            fname = f'{i + 1:05d}.jpg'
            w, h = int(RS.randint(40, 80)), int(RS.randint(30, 60))
            photo(os.path.join(d, f'cars_{split}', fname), w, h)
            b = rand_box(w, h)
            b = [max(1, v) for v in b]  # MATLAB 1-based
            cls = 1 + (i % 3)
            a[0, i] = (np.array([[b[0]]], np.uint8), np.array([[b[1]]], np.uint8), np.array([[b[2]]], np.uint16), np.array([[b[3]]], np.uint16),
                       np.array([[cls]], np.uint8), np.array([fname]))
            recs.append(rec(fname, cls - 1, names[cls - 1], [b], w, h, 480, 448))
        fn = 'cars_train_annos.mat' if split == 'train' else 'cars_test_annos_withlabels.mat'
        scipy.io.savemat(os.path.join(d, 'devkit', fn), {'annotations': a}, do_compression=(split == 'test'))
        exp[split] = recs
    meta = np.empty((1, len(names)), dtype=object)
    for i, n in enumerate(names):
        meta[0, i] = np.array([n])
    scipy.io.savemat(os.path.join(d, 'devkit', 'cars_meta.mat'), {'class_names': meta})
    dump(os.path.join(OUT, 'cars'), {'dataDir': 'stanfordCar', 'classNames': names, 'splits': exp})


def aircraft():
    d = os.path.join(OUT, 'aircraft', 'fgvc-aircraft-2013b', 'data')
    os.makedirs(os.path.join(d, 'images'), exist_ok=True)
    variants = ['707-320', '727-200', 'A300B4', 'Cessna 172']
    with open(os.path.join(d, 'variants.txt'), 'w') as f:
        f.write('\n'.join(variants) + '\n')
    exp, boxes = {}, []
    iid = 1000000
    for split, n in (('train', 3), ('val', 2), ('test', 3)):
        ids, var, recs = [], [], []
        for k in range(n):
            iid += 7
            s = f'{iid:07d}' if k else f'{iid - 1000000:07d}'  # leading zeros stay part of the id
            w, h = int(RS.randint(40, 80)), int(RS.randint(30, 60))
            photo(os.path.join(d, 'images', s + '.jpg'), w, h)
            b = rand_box(w, h)
            v = variants[(k + len(ids)) % 4]
            ids.append(s)
            var.append(f'{s} {v}')
            boxes.append(f'{s} {b[0]} {b[1]} {b[2]} {b[3]}')
            recs.append(rec(s, variants.index(v), v, [b], w, h, 480, 448))
        with open(os.path.join(d, f'images_{split}.txt'), 'w') as f:
            f.write('\n'.join(ids) + '\n')
        with open(os.path.join(d, f'images_variant_{split}.txt'), 'w') as f:
            f.write('\n'.join(var) + '\n')
        exp[split] = recs
    with open(os.path.join(d, 'images_box.txt'), 'w') as f:
        f.write('\n'.join(boxes) + '\n')
    dump(os.path.join(OUT, 'aircraft'), {'dataDir': 'fgvc-aircraft-2013b/data', 'classNames': variants, 'splits': exp})


def dogs():
    d = os.path.join(OUT, 'dogs', 'stanfordDogs')
    breeds = ['n02085620-Chihuahua', 'n02085782-Japanese_spaniel', 'n02085936-Maltese_dog']
    exp = {}
    all_files, all_anns, all_labels = [], [], []
    for split, n in (('train', 4), ('test', 3)):
        files, anns, labels, recs = [], [], [], []
        for k in range(n):
            bi = (k + (split == 'test')) % 3
            b = breeds[bi]
            stem = f'{b.split("-")[0]}_{split}{k}'
            w, h = int(RS.randint(40, 80)), int(RS.randint(30, 60))
            photo(os.path.join(d, 'Images', b, stem + '.jpg'), w, h)
            bxs = [rand_box(w, h) for _ in range(1 + (k == 1))]
            objs = ''.join(f'''	<object>
		<name>{b.split("-", 1)[1]}</name>
		<pose>Unspecified</pose>
		<truncated>0</truncated>
		<difficult>0</difficult>
		<bndbox>
			<xmin>{bb[0]}</xmin>
			<ymin>{bb[1]}</ymin>
			<xmax>{bb[2]}</xmax>
			<ymax>{bb[3]}</ymax>
		</bndbox>
	</object>
''' for bb in bxs)
            xml = f'''<annotation>
	<folder>{b.split("-")[0]}</folder>
	<filename>{stem}</filename>
	<source>
		<database>ImageNet database</database>
	</source>
	<size>
		<width>{w}</width>
		<height>{h}</height>
		<depth>3</depth>
	</size>
	<segment>0</segment>
{objs}</annotation>'''
            os.makedirs(os.path.join(d, 'Annotation', b), exist_ok=True)
            with open(os.path.join(d, 'Annotation', b, stem), 'w') as f:
                f.write(xml)
            files.append(f'{b}/{stem}.jpg')
            anns.append(f'{b}/{stem}')
            labels.append(bi + 1)
            recs.append(rec(f'{b}/{stem}', bi, b.split('-', 1)[1], bxs, w, h, 480, 448, size=[w, h]))

        def cell(strings):
            c = np.empty((len(strings), 1), dtype=object)
            for i, s in enumerate(strings):
                c[i, 0] = np.array([s])
            return c
        scipy.io.savemat(os.path.join(d, f'{split}_list.mat'), {'file_list': cell(files), 'annotation_list': cell(anns), 'labels': np.array(labels, np.float64).reshape(-1, 1)})
        exp[split] = recs
        all_files += files
        all_anns += anns
        all_labels += labels
    dump(os.path.join(OUT, 'dogs'), {'dataDir': 'stanfordDogs', 'classNames': [b.split('-', 1)[1] for b in breeds], 'splits': exp})


def cifar(kind):
    if kind == 'cifar10':
        d = os.path.join(OUT, 'cifar10', 'cifar-10-batches-bin')
        files = {'train': [f'data_batch_{i}.bin' for i in range(1, 6)], 'test': ['test_batch.bin']}
        names = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']
        namefile = 'batches.meta.txt'
    else:
        d = os.path.join(OUT, 'cifar100', 'cifar-100-binary')
        files = {'train': ['train.bin'], 'test': ['test.bin']}
        names = ['apple', 'aquarium_fish', 'baby', 'bear', 'beaver']
        namefile = 'fine_label_names.txt'
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, namefile), 'w') as f:
        f.write('\n'.join(names) + '\n\n')
    exp = {}
    for split, fl in files.items():
        recs = []
        for fn in fl:
            blob = b''
            for _ in range(2 if kind == 'cifar10' else 3):
                img = RS.randint(0, 256, (32, 32, 3)).astype(np.uint8)
                label = int(RS.randint(0, len(names)))
                chw = img.transpose(2, 0, 1).tobytes()
                lab = bytes([label]) if kind == 'cifar10' else bytes([int(RS.randint(0, 20)), label])
                blob += lab + chw
                recs.append({'id': f'{split}/{len(recs):05d}', 'label': label, 'className': names[label], 'boxes': None, 'width': 32, 'height': 32,
                             'rgbSha256': hashlib.sha256(img.tobytes()).hexdigest()})
            with open(os.path.join(d, fn), 'wb') as f:
                f.write(blob)
        exp[split] = recs
    dump(os.path.join(OUT, kind), {'dataDir': os.path.basename(d), 'classNames': names, 'splits': exp})


def folder():
    d = os.path.join(OUT, 'folder', 'photos')
    exp = []
    for c in ('cat', 'dog'):
        for k, ext in enumerate(('.jpg', '.PNG', '.jpeg')):
            name = f'{c}/{c}{k}{ext}'
            photo(os.path.join(d, name), 20 + k, 16, 'PNG' if ext == '.PNG' else 'JPEG')
            exp.append(name)
    with open(os.path.join(d, 'cat', 'notes.txt'), 'w') as f:
        f.write('not an image\n')
    exp.sort()
    classes = ['cat', 'dog']
    recs = [{'id': n, 'label': classes.index(n.split('/')[0]), 'className': n.split('/')[0], 'boxes': None, 'width': 20 + int(n.split('/')[1][3]), 'height': 16} for n in exp]
    dump(os.path.join(OUT, 'folder'), {'dataDir': 'photos', 'classNames': classes, 'splits': {'all': recs}})


if __name__ == '__main__':
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    cub()
    wsol_cub()
    wsol_openimages()
    cars()
    aircraft()
    dogs()
    cifar('cifar10')
    cifar('cifar100')
    folder()
    print('wrote', OUT)
