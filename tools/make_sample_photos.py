#!/usr/bin/python3
"""Adds real photos from Debian packages to data/ (as JPEG, longest side ≤ 640) and records them in data/manifest.json.

Usage (needs network to Debian's archive only):
    mkdir -p /tmp/debs && cd /tmp/debs && apt-get download darknet opencv-doc cimg-examples python3-skimage \
      && for d in *.deb; do dpkg-deb -x "$d" x; done
    /usr/bin/python3 tools/make_sample_photos.py /tmp/debs/x data

Boxes are approximate, hand-drawn on the photos (x0, y0, x1, y1 in the saved JPEG's pixels; ±3 % of the object size),
for single main objects only. Licenses are those of the Debian copyright files of each package.
"""
import json
import os
import sys

from PIL import Image

DARKNET = 'usr/share/darknet/data'
OPENCV = 'usr/share/doc/opencv-doc/examples/data'
CIMG = 'usr/share/doc/cimg-dev/examples/img'
SKIMAGE = 'usr/lib/python3/dist-packages/skimage/data'

LIC = {
    'darknet': 'MIT (Debian darknet copyright: GPL-3.0+ or MIT or WTFPL)',
    'opencv': 'Apache-2.0 AND BSD-3-Clause (Debian opencv-doc copyright, Files: *)',
    'cimg': 'CeCILL-C (Debian cimg-examples)',
}

# name, package, source path, label (None = no single main object), box in ORIGINAL pixels
PHOTOS = [
    ('darknet_eagle', 'darknet', f'{DARKNET}/eagle.jpg', 'eagle', [139, 77, 603, 445]),
    ('darknet_dog', 'darknet', f'{DARKNET}/dog.jpg', 'dog', [131, 219, 307, 540]),
    ('darknet_giraffe', 'darknet', f'{DARKNET}/giraffe.jpg', 'giraffe', [168, 30, 448, 442]),
    ('darknet_horses', 'darknet', f'{DARKNET}/horses.jpg', None, None),
    ('darknet_kite', 'darknet', f'{DARKNET}/kite.jpg', None, None),
    ('darknet_person', 'darknet', f'{DARKNET}/person.jpg', None, None),
    ('opencv_apple', 'opencv', f'{OPENCV}/apple.jpg', 'apple', [41, 10, 461, 497]),
    ('opencv_orange', 'opencv', f'{OPENCV}/orange.jpg', 'orange', [51, 51, 461, 492]),
    ('opencv_butterfly', 'opencv', f'{OPENCV}/butterfly.jpg', 'butterfly', [5, 78, 483, 310]),
    ('opencv_squirrel', 'opencv', f'{OPENCV}/squirrel_cls.jpg', 'squirrel', [128, 124, 358, 358]),
    ('opencv_fruits', 'opencv', f'{OPENCV}/fruits.jpg', None, None),
    ('opencv_home', 'opencv', f'{OPENCV}/home.jpg', None, None),
    ('opencv_building', 'opencv', f'{OPENCV}/building.jpg', None, None),
    ('opencv_aero3', 'opencv', f'{OPENCV}/aero3.jpg', None, None),
    ('cimg_parrot', 'cimg', f'{CIMG}/parrot.ppm', 'parrot', [69, 30, 431, 498]),
]

# Boxes for photos already in data/ (original pixels of those JPEGs).
EXISTING_BOXES = {
    'skimage_chelsea.jpg': ('cat', [0, 0, 410, 299]),
    'skimage_astronaut.jpg': ('person', [20, 15, 505, 511]),
}


def main():
    src, out = sys.argv[1], sys.argv[2]
    man_path = os.path.join(out, 'manifest.json')
    manifest = json.load(open(man_path))
    by_file = {m['file']: m for m in manifest}
    for f, (label, box) in EXISTING_BOXES.items():
        if not by_file[f]['approx_boxes']:
            by_file[f]['approx_boxes'] = [box]
            by_file[f]['labels'] = [label]
    for name, pkg, rel, label, box in PHOTOS:
        im = Image.open(os.path.join(src, rel)).convert('RGB')
        w, h = im.size
        s = min(1.0, 640 / max(w, h))
        if s < 1:
            im = im.resize((round(w * s), round(h * s)), Image.BICUBIC)
        fn = name + '.jpg'
        im.save(os.path.join(out, fn), quality=90)
        entry = {
            'file': fn, 'width': im.size[0], 'height': im.size[1],
            'origin': f'{ {"darknet": "darknet", "opencv": "opencv-doc", "cimg": "cimg-examples", "skimage": "python3-skimage"}[pkg]} (Debian): {rel}',
            'license': LIC[pkg],
            'approx_boxes': [[round(v * s, 1) for v in box]] if box else [],
            'labels': [label] if label else [],
        }
        by_file[fn] = entry
    manifest = sorted(by_file.values(), key=lambda m: m['file'])
    with open(man_path, 'w') as fh:
        json.dump(manifest, fh, indent=1)
        fh.write('\n')
    print(len(manifest), 'photos in', man_path)


if __name__ == '__main__':
    main()
