#!/usr/bin/python3
"""Reference fixtures for src/data (image decoding, torchvision transforms, the release's box/mask transforms).

Run with Debian's interpreter (PIL 9.4, torchvision 0.14, cv2 4.6, numpy):

    /usr/bin/python3 tools/ref_images.py            # writes spec/fixtures/data/images/

Nothing here uses the project's code. Outputs:
- variants/*: small synthesized images in many modes (L, LA, RGBA, P+transparency, 1-bit, CMYK JPEG, 16-bit grey and RGB
  PNG, EXIF orientations 1-8, GIF, BMP, WebP, TIFF) and `<name>.rgb` = PIL `Image.open(f).convert('RGB')` raw bytes.
- photos.json: for each data/*.jpg photo, sha256 of PIL's decoded RGB, and per transform case the output size, sha256,
  and a gzipped raw RGB reference file (torchvision transforms on the PIL image).
- normalize.json + normalize_32.f32: ToTensor+Normalize (ImageNet mean/std) of Resize((32,32)) of one photo, HWC float32.
- upsample: a seeded 32x32 RGB image (cifar32.rgb) and its PIL bilinear Resize((224,224)) (cifar32_224.rgb.gz).
- boxes.json: the release's box formula (datasets/cub200.py) on random boxes/sizes/protocols, computed with numpy.
- masks/: small soft/binary mask PNGs and the release's load_mask_image results (cv2.resize INTER_LINEAR / NEAREST,
  crop, threshold) as 0/1/255 bytes.
- bad/: a 30000x30000 PNG header (no pixel data).
"""
import gzip
import hashlib
import io
import json
import os
import struct
import zlib

import cv2
import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'spec', 'fixtures', 'data', 'images')
PHOTOS = os.path.join(ROOT, 'data')
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
INTERP = {'bilinear': T.InterpolationMode.BILINEAR, 'bicubic': T.InterpolationMode.BICUBIC, 'nearest': T.InterpolationMode.NEAREST}


def sha(b):
    return hashlib.sha256(b).hexdigest()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)


def variants():
    d = os.path.join(OUT, 'variants')
    os.makedirs(d, exist_ok=True)
    src = Image.open(os.path.join(PHOTOS, 'skimage_chelsea.jpg')).convert('RGB').resize((64, 48), Image.BILINEAR)
    a = np.asarray(src)
    alpha = Image.fromarray(((np.arange(64 * 48) * 7) % 256).astype(np.uint8).reshape(48, 64))
    src.save(os.path.join(d, 'rgb.png'))
    src.convert('L').save(os.path.join(d, 'grey.png'))
    src.convert('L').save(os.path.join(d, 'grey.jpg'), quality=90)
    la = src.convert('LA')
    la.putalpha(alpha)
    la.save(os.path.join(d, 'la.png'))
    rgba = src.convert('RGBA')
    rgba.putalpha(alpha)
    rgba.save(os.path.join(d, 'rgba.png'))
    p = src.convert('P', palette=Image.ADAPTIVE, colors=32)
    p.save(os.path.join(d, 'palette_trns.png'), transparency=3)
    src.convert('1').save(os.path.join(d, 'bw.png'))
    src.convert('CMYK').save(os.path.join(d, 'cmyk.jpg'), quality=92)
    g16 = ((np.arange(64 * 48).reshape(48, 64) * 37) % 65536).astype(np.uint16)
    g16[:8, :8] = np.arange(64).reshape(8, 8)  # some values below 256 survive PIL's clip
    Image.fromarray(g16).save(os.path.join(d, 'grey16.png'))
    rgb16 = (a.astype(np.uint16) * 257 + np.random.RandomState(0).randint(0, 256, a.shape)).astype(np.uint16)
    cv2.imwrite(os.path.join(d, 'rgb16.png'), rgb16[:, :, ::-1].copy())
    src.save(os.path.join(d, 'plain.jpg'), quality=90)
    for k in range(1, 9):
        ex = Image.Exif()
        ex[0x0112] = k
        src.save(os.path.join(d, f'exif{k}.jpg'), quality=90, exif=ex)
    src.save(os.path.join(d, 'anim.gif'))
    src.save(os.path.join(d, 'plain.bmp'))
    src.save(os.path.join(d, 'plain.webp'), quality=90)
    src.save(os.path.join(d, 'plain.tif'))
    meta = {}
    for f in sorted(os.listdir(d)):
        if f.endswith('.rgb.gz') or f.endswith('.json'):
            continue
        im = Image.open(os.path.join(d, f))
        r = np.ascontiguousarray(np.asarray(im.convert('RGB')))
        write(os.path.join(d, f + '.rgb.gz'), gzip.compress(r.tobytes(), 9, mtime=0))
        meta[f] = {'mode': im.mode, 'width': im.size[0], 'height': im.size[1], 'exif_orientation': im.getexif().get(0x0112)}
    with open(os.path.join(d, 'variants.json'), 'w') as f:
        json.dump(meta, f, indent=1, sort_keys=True)


def tv(img, case):
    k = case['kind']
    it = INTERP[case['interp']]
    if k == 'resize':
        t = T.Resize((case['h'], case['w']), interpolation=it)
    elif k == 'resize-crop':
        t = T.Compose([T.Resize((case['resize'], case['resize']), interpolation=it), T.CenterCrop(case['crop'])])
    elif k == 'shorter-crop':
        t = T.Compose([T.Resize(case['resize'], interpolation=it), T.CenterCrop(case['crop'])])
    else:
        raise ValueError(k)
    return np.ascontiguousarray(np.asarray(t(img)))


def photos():
    d = os.path.join(OUT, 'photos')
    os.makedirs(d, exist_ok=True)
    names = sorted(f for f in os.listdir(PHOTOS) if f.endswith('.jpg'))
    # Full pixel references kept small: every photo at the fit protocol, the others on a few photos.
    cases = [{'kind': 'resize', 'w': 224, 'h': 224, 'interp': 'bilinear', 'photos': names[:4]}]
    cases.append({'kind': 'resize', 'w': 224, 'h': 224, 'interp': 'bicubic', 'photos': names[1:3]})
    cases.append({'kind': 'resize', 'w': 96, 'h': 80, 'interp': 'nearest', 'photos': names[:2]})
    cases.append({'kind': 'resize-crop', 'resize': 480, 'crop': 448, 'interp': 'bilinear', 'photos': names[1:2]})
    cases.append({'kind': 'resize-crop', 'resize': 256, 'crop': 224, 'interp': 'bilinear', 'photos': names[4:5]})
    cases.append({'kind': 'shorter-crop', 'resize': 256, 'crop': 224, 'interp': 'bilinear', 'photos': names[5:6]})
    cases.append({'kind': 'shorter-crop', 'resize': 100, 'crop': 120, 'interp': 'bicubic', 'photos': names[4:5]})  # crop > image: padding
    out = {'photos': {}, 'cases': []}
    for n in names:
        im = Image.open(os.path.join(PHOTOS, n))
        r = np.ascontiguousarray(np.asarray(im.convert('RGB')))
        out['photos'][n] = {'width': im.size[0], 'height': im.size[1], 'mode': im.mode, 'sha256': sha(r.tobytes())}
    for ci, c in enumerate(cases):
        for n in c['photos']:
            img = Image.open(os.path.join(PHOTOS, n)).convert('RGB')
            r = tv(img, c)
            fname = f'case{ci}_{os.path.splitext(n)[0]}.rgb.gz'
            write(os.path.join(d, fname), gzip.compress(r.tobytes(), 9, mtime=0))
            case = {k: v for k, v in c.items() if k != 'photos'}
            out['cases'].append({**case, 'photo': n, 'file': fname, 'width': int(r.shape[1]), 'height': int(r.shape[0]), 'sha256': sha(r.tobytes())})
    with open(os.path.join(d, 'photos.json'), 'w') as f:
        json.dump(out, f, indent=1)


def normalize():
    img = Image.open(os.path.join(PHOTOS, 'skimage_coffee.jpg')).convert('RGB')
    t = T.Compose([T.Resize((32, 32)), T.ToTensor(), T.Normalize(MEAN, STD)])
    x = t(img).permute(1, 2, 0).contiguous().numpy().astype('<f4')
    raw = np.ascontiguousarray(np.asarray(T.Resize((32, 32))(img)))
    write(os.path.join(OUT, 'normalize_32.f32'), x.tobytes())
    write(os.path.join(OUT, 'normalize_32.rgb'), raw.tobytes())
    with open(os.path.join(OUT, 'normalize.json'), 'w') as f:
        json.dump({'photo': 'skimage_coffee.jpg', 'size': 32, 'mean': MEAN, 'std': STD, 'layout': 'HWC float32 LE'}, f, indent=1)


def upsample():
    rs = np.random.RandomState(7)
    small = rs.randint(0, 256, (32, 32, 3)).astype(np.uint8)
    small = cv2.GaussianBlur(small, (3, 3), 0)  # CIFAR-like smoothness, still detailed
    write(os.path.join(OUT, 'cifar32.rgb'), small.tobytes())
    for interp in ('bilinear',):
        up = np.asarray(T.Resize((224, 224), interpolation=INTERP[interp])(Image.fromarray(small)))
        write(os.path.join(OUT, f'cifar32_224_{interp}.rgb.gz'), gzip.compress(np.ascontiguousarray(up).tobytes(), 9, mtime=0))


def release_box(box, w, h, image_size, crop_size):
    # datasets/cub200.py (identical in cars.py, aircraft.py, dogs.py, ilsvrc.py)
    x1, y1, x2, y2 = box
    x_scale = image_size / w
    y_scale = image_size / h
    max_ = crop_size - 1
    x1_new = np.clip(np.round(x1 * x_scale - (image_size - crop_size) * 0.5), 0, max_)
    y1_new = np.clip(np.round(y1 * y_scale - (image_size - crop_size) * 0.5), 0, max_)
    x2_new = np.clip(np.round(x2 * x_scale - (image_size - crop_size) * 0.5), x1_new, max_)
    y2_new = np.clip(np.round(y2 * y_scale - (image_size - crop_size) * 0.5), y1_new, max_)
    return [float(x1_new), float(y1_new), float(x2_new), float(y2_new)]


def boxes():
    rs = np.random.RandomState(3)
    cases = []
    protos = [(480, 448), (256, 224), (224, 224), (255, 224), (100, 100)]
    for i in range(400):
        w = int(rs.randint(20, 900))
        h = int(rs.randint(20, 900))
        x0 = int(rs.randint(-5, w))
        y0 = int(rs.randint(-5, h))
        box = [x0, y0, int(rs.randint(x0, w + 6)), int(rs.randint(y0, h + 6))]
        if i % 3 == 0:  # float coordinates (Aircraft, native CUB)
            box = [float(v) + float(rs.choice([0.0, 0.5, 0.25, 0.75])) for v in box]
        r, c = protos[i % len(protos)]
        cases.append({'box': box, 'width': w, 'height': h, 'resize': r, 'crop': c, 'expected': release_box(box, w, h, r, c)})
    # exact halves that numpy rounds to even
    for (box, w, h, r, c) in [([1, 3, 5, 7], 2, 2, 3, 3), ([0.5, 1.5, 2.5, 3.5], 10, 10, 10, 10), ([5, 5, 15, 15], 20, 20, 21, 20)]:
        cases.append({'box': box, 'width': w, 'height': h, 'resize': r, 'crop': c, 'expected': release_box(box, w, h, r, c)})
    with open(os.path.join(OUT, 'boxes.json'), 'w') as f:
        json.dump(cases, f)


def masks():
    d = os.path.join(OUT, 'masks')
    os.makedirs(d, exist_ok=True)
    rs = np.random.RandomState(5)
    out = []

    def blobs(w, h, soft):
        m = np.zeros((h, w), np.float32)
        for _ in range(4):
            cx, cy, rad = rs.randint(0, w), rs.randint(0, h), rs.randint(3, max(4, min(w, h) // 2))
            yy, xx = np.mgrid[:h, :w]
            m[(xx - cx) ** 2 + (yy - cy) ** 2 < rad ** 2] = 1
        if soft:
            m = cv2.GaussianBlur(m, (5, 5), 1.5)
            m = np.round(m * 5) / 5  # CUB's segmentations are soft (few levels)
        return np.round(m * 255).astype(np.uint8)

    # CUB: cub200.py load_mask_image (INTER_LINEAR on /255), crop, > 0.5
    for i, (w, h, r, c) in enumerate([(61, 47, 48, 40), (30, 50, 64, 56), (97, 73, 40, 40), (50, 40, 50, 40)]):
        m = blobs(w, h, True)
        name = f'cub{i}.png'
        Image.fromarray(m).save(os.path.join(d, name))
        mask = np.float32(cv2.imread(os.path.join(d, name), cv2.IMREAD_GRAYSCALE)) / 255.
        mask = cv2.resize(mask, (r, r), interpolation=cv2.INTER_LINEAR)
        cr = int(round((r - c) * 0.5))
        mask = mask[cr:cr + c, cr:cr + c]
        res = (mask > 0.5).astype(np.uint8)
        write(os.path.join(d, f'cub{i}.expected'), res.tobytes())
        out.append({'kind': 'cub', 'files': [name], 'resize': r, 'crop': c, 'expected': f'cub{i}.expected'})
    # OpenImages: openimages.py (INTER_NEAREST), union of instances, ignore = ignore box minus foreground → 255
    for i, (w, h, r, c) in enumerate([(64, 48, 40, 32), (37, 59, 70, 64)]):
        inst = [blobs(w, h, False) for _ in range(2)]
        ign = np.zeros((h, w), np.uint8)
        ign[h // 4: 3 * h // 4, w // 5: 4 * w // 5] = 255
        names = [f'oi{i}_m{j}.png' for j in range(2)]
        for n, m in zip(names, inst):
            Image.fromarray(m).save(os.path.join(d, n))
        Image.fromarray(ign).save(os.path.join(d, f'oi{i}_ignore.png'))

        def load(p):
            mm = np.float32(cv2.imread(os.path.join(d, p), cv2.IMREAD_GRAYSCALE))
            mm = cv2.resize(mm, (r, r), interpolation=cv2.INTER_NEAREST)
            cr = int(round((r - c) * 0.5))
            return mm[cr:cr + c, cr:cr + c]
        fg = np.stack([load(n) > 0.5 for n in names], 0).any(0)
        ignore = np.logical_and(load(f'oi{i}_ignore.png') > 0.5, np.logical_not(fg))
        res = fg.astype(np.uint8) + 255 * ignore.astype(np.uint8)
        write(os.path.join(d, f'oi{i}.expected'), res.tobytes())
        out.append({'kind': 'openimages', 'files': names, 'ignore': f'oi{i}_ignore.png', 'resize': r, 'crop': c, 'expected': f'oi{i}.expected'})
    with open(os.path.join(d, 'masks.json'), 'w') as f:
        json.dump(out, f, indent=1)


def bad():
    d = os.path.join(OUT, 'bad')
    os.makedirs(d, exist_ok=True)

    def chunk(t, data):
        return struct.pack('>I', len(data)) + t + data + struct.pack('>I', zlib.crc32(t + data) & 0xffffffff)
    ihdr = struct.pack('>IIBBBBB', 30000, 30000, 8, 2, 0, 0, 0)
    write(os.path.join(d, 'huge_30000.png'), b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(b'\x00' * 64)) + chunk(b'IEND', b''))
    # PIL's view of it: DecompressionBombError
    try:
        Image.open(os.path.join(d, 'huge_30000.png'))
        print('PIL opened the 30000x30000 header?')
    except Image.DecompressionBombError as e:
        print('PIL:', e)


if __name__ == '__main__':
    torch.set_num_threads(1)
    variants()
    photos()
    normalize()
    upsample()
    boxes()
    masks()
    bad()
    print('wrote', OUT)
