#!/usr/bin/python3
"""Reference boxes from cv2 (Debian python3-opencv 4.6) for spec/boxes.spec.ts.

Run with Debian's python:  /usr/bin/python3 tools/ref_boxes.py [--out spec/fixtures/boxes]

Maps come from a deterministic integer-only generator (xorshift32 + integer box blurs, value = float32 division of two
integers < 2^24) that spec/helpers/gen-maps.ts implements identically; only its parameters and a hash of each map are
committed. Degenerate maps (all equal, single pixels, 1-px lines, checkerboards, rings, nested holes, border contact,
equal-area ties, many contours) are committed as values.

For each map and each tau in [0] + np.arange(0.01, 1, 0.01) the script applies the authors' release / wsolevaluation
procedure (gray = (map*255).astype(uint8); cv2.threshold(gray, int(tau*max(gray)), 255, THRESH_BINARY);
cv2.findContours(RETR_TREE, CHAIN_APPROX_SIMPLE); max(contours, key=cv2.contourArea); cv2.boundingRect) and records
 - the largest contour's box [x, y, x+w, y+h] (-1s when there is no contour) -> largest.bin.gz (int16),
 - sha256 hashes of every contour (cv2 order: box, hole flag, 2*area, parent), of the sorted box set, and of every
   CHAIN_APPROX_SIMPLE point -> maps.json.
It also records np.arange grids, uint8 conversions of tricky values, and cv2.resize INTER_NEAREST index maps.
"""
import argparse
import gzip
import hashlib
import json
import os
import sys

import cv2
import numpy as np

M32 = 0xFFFFFFFF


def xorshift32(seed):
    x = seed & M32
    if x == 0:
        x = 0x9E3779B9

    def nxt():
        nonlocal x
        x ^= (x << 13) & M32
        x ^= x >> 17
        x ^= (x << 5) & M32
        return x

    return nxt


def blur1d(v, r, axis):
    """Clamp-to-edge box blur of integers, floor-divided by 2r+1."""
    if r == 0:
        return v
    pad = [(0, 0), (0, 0)]
    pad[axis] = (r, r)
    p = np.pad(v, pad, mode='edge')
    c = np.cumsum(p, axis=axis, dtype=np.int64)
    zshape = list(c.shape)
    zshape[axis] = 1
    c = np.concatenate([np.zeros(zshape, np.int64), c], axis=axis)
    n = v.shape[axis]
    if axis == 1:
        s = c[:, 2 * r + 1:2 * r + 1 + n] - c[:, 0:n]
    else:
        s = c[2 * r + 1:2 * r + 1 + n, :] - c[0:n, :]
    return s // (2 * r + 1)


def gen_map(p):
    """float32 map from generator parameters (see spec/helpers/gen-maps.ts)."""
    h, w = p['h'], p['w']
    rng = xorshift32(p['seed'])
    v = np.array([rng() >> 17 for _ in range(h * w)], dtype=np.int64).reshape(h, w)
    for _ in range(p['passes']):
        v = blur1d(v, p['radius'], 1)
        v = blur1d(v, p['radius'], 0)
    if p['ba'] > 0 and p['br'] > 0:
        yy, xx = np.mgrid[0:h, 0:w]
        d2 = (xx - p['bx']) ** 2 + (yy - p['by']) ** 2
        r2 = p['br'] * p['br']
        v = v + np.where(d2 < r2, (p['ba'] * (r2 - d2)) // r2, 0)
    if p['quant'] > 1:
        v = (v // p['quant']) * p['quant']
    mn, mx = int(v.min()), int(v.max())
    if mx == mn:
        return np.zeros((h, w), np.float32)
    num = ((v - mn) * p['scale']).astype(np.float32)
    den = np.float32((mx - mn) * 255)
    assert num.max() < 2 ** 24 and den < 2 ** 24
    return (num / den).astype(np.float32)


class Stream:
    """sha256 over a stream of int32 little-endian values (spec/helpers/gen-maps.ts builds the same stream)."""

    def __init__(self):
        self.h = hashlib.sha256()

    def add(self, ints):
        self.h.update(np.asarray(ints, dtype='<i4').tobytes())

    def hex(self):
        return self.h.hexdigest()[:24]


def map_hash(m):
    return hashlib.sha256(m.astype('<f4').tobytes()).hexdigest()[:24]


def taus():
    return [0.0] + [float(t) for t in np.arange(0.01, 1, 0.01)]


def analyze(m, tau_list):
    """Largest boxes and hashes for one map over all taus (release / wsolevaluation procedure)."""
    gray = (m * 255).astype(np.uint8)
    mx = int(np.max(gray))
    largest = []
    h_ord, h_sorted, h_pts = Stream(), Stream(), Stream()
    ncont = 0
    for t in tau_list:
        _, th = cv2.threshold(gray, int(t * np.max(gray)), 255, cv2.THRESH_BINARY)
        contours, hier = cv2.findContours(th, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
        contours = list(contours)
        ncont += len(contours)
        if len(contours) == 0:
            largest.append([-1, -1, -1, -1])
        else:
            c = max(contours, key=cv2.contourArea)
            x, y, ww, hh = cv2.boundingRect(c)
            largest.append([x, y, x + ww, y + hh])
        recs = []
        h_ord.add([len(contours)])
        h_pts.add([len(contours)])
        for i, c in enumerate(contours):
            x, y, ww, hh = cv2.boundingRect(c)
            depth, par = 0, hier[0][i][3]
            parent = int(par)
            while par != -1:
                depth += 1
                par = hier[0][par][3]
            a2 = int(round(2 * cv2.contourArea(c)))
            assert a2 == 2 * cv2.contourArea(c)
            hole = depth % 2
            h_ord.add([x, y, x + ww, y + hh, hole, a2, parent])
            pts = c.reshape(-1)
            h_pts.add([len(pts)])
            h_pts.add(pts)
            recs.append((x, y, x + ww, y + hh, hole))
        recs.sort()
        h_sorted.add([len(recs)])
        if recs:
            h_sorted.add(np.array(recs).reshape(-1))
    return largest, {'ordered': h_ord.hex(), 'sorted': h_sorted.hex(), 'points': h_pts.hex(), 'contours': ncont, 'maxGray': mx}


def random_params(rs, i):
    """Varied sizes and smoothness; a few large maps."""
    big = [(224, 224), (224, 224), (448, 448), (448, 448), (224, 160), (100, 224)]
    thin = [(1, 1), (1, 7), (9, 1), (2, 2), (1, 100), (100, 1), (2, 50), (50, 2)]
    if i < len(big):
        h, w = big[i]
    elif i < 40:
        h, w = thin[i % len(thin)]
    else:
        h, w = int(rs.integers(1, 101)), int(rs.integers(1, 101))
    smooth = rs.random()
    radius = int(rs.integers(0, 3)) if smooth < 0.3 else int(rs.integers(1, 11))
    passes = 0 if smooth < 0.15 else int(rs.integers(1, 4))
    bump = rs.random() < 0.5
    br = int(rs.integers(1, max(2, max(h, w)))) if bump else 0
    return {
        'seed': int(rs.integers(1, 2 ** 32)),
        'h': h, 'w': w, 'radius': radius, 'passes': passes,
        'bx': int(rs.integers(0, w)), 'by': int(rs.integers(0, h)), 'br': br,
        'ba': int(rs.integers(1, 32768)) if bump else 0,
        'quant': int(rs.choice([1, 1, 1, 64, 512, 2048, 8192])),
        'scale': 255 if rs.random() < 0.7 else int(rs.integers(1, 256)),
    }


def explicit_maps():
    """Degenerate and adversarial maps, committed as values."""
    out = []

    def add(name, a):
        a = np.asarray(a, dtype=np.float32)
        assert a.ndim == 2 and a.min() >= 0 and a.max() <= 1
        out.append((name, a))

    add('zeros5', np.zeros((5, 5)))
    add('half5', np.full((5, 5), 0.5))
    add('ones5', np.ones((5, 5)))
    add('one1x1', np.ones((1, 1)))
    add('zero1x1', np.zeros((1, 1)))
    add('third1x1', np.full((1, 1), 0.3))
    add('ones1x9', np.ones((1, 9)))
    add('ones9x1', np.ones((9, 1)))
    a = np.zeros((9, 11)); a[0, 0] = a[0, 10] = a[8, 0] = a[8, 10] = a[4, 5] = 1; a[2, 3] = 0.6; a[6, 7] = 0.3
    add('peaks', a)
    a = np.zeros((7, 12)); a[3, 1:11] = 1; add('hline', a)
    a = np.zeros((12, 7)); a[1:11, 3] = 1; add('vline', a)
    a = np.zeros((10, 10)); a[np.arange(10), np.arange(10)] = 1; add('diag', a)
    a = np.zeros((10, 10)); a[np.arange(10), 9 - np.arange(10)] = 1; add('antidiag', a)
    a = np.zeros((8, 8)); a[0, :] = 1; a[:, 7] = 0.7; add('border-lines', a)
    yy, xx = np.mgrid[0:40, 0:40]
    add('checker1', ((xx + yy) % 2).astype(float))
    add('checker1-grad', ((xx + yy) % 2) * (0.2 + 0.8 * xx / 39.0))
    add('checker2', (((xx // 2) + (yy // 2)) % 2).astype(float))
    add('checker3-odd', (((xx[:33, :35] // 3) + (yy[:33, :35] // 3)) % 2).astype(float))
    r = np.hypot(xx - 19.5, yy - 19.5)
    add('rings', ((np.floor(r) % 4) < 2) * (1 - r / 30).clip(0, 1))
    add('rings-flat', ((np.floor(r / 2) % 2) == 0).astype(float))
    a = np.zeros((15, 15)); a[1:14, 1:14] = 1; a[3:12, 3:12] = 0; a[5:10, 5:10] = 0.8; a[7, 7] = 0
    add('nested', a)
    a = np.zeros((9, 9)); a[0:9, 0:9] = 1; a[2:7, 2:7] = 0; add('ring-at-border', a)
    a = np.zeros((3, 3)); a[0, 1] = a[1, 0] = a[1, 2] = a[2, 1] = 1; add('diamond', a)
    a = np.zeros((16, 20))
    for (y, x) in [(1, 1), (1, 12), (9, 1), (9, 12)]:
        a[y:y + 4, x:x + 5] = 1
    add('tie-squares', a)
    a = np.zeros((16, 20)); a[1:5, 1:6] = 1; a[10:14, 12:17] = 0.9; a[2:6, 13:18] = 0.95
    add('tie-levels', a)
    a = np.zeros((12, 12)); a[1:4, 1:4] = 1; a[6, 2:8] = 1; a[8:11, 8:11] = 1; a[1, 8] = 1; a[2, 9] = 1; a[3, 8] = 1
    add('tie-shapes', a)
    a = np.zeros((20, 20))
    for k in range(0, 20, 4):
        a[k:k + 2, :] = 1
        a[:, k:k + 2] = np.maximum(a[:, k:k + 2], 0.5)
    add('grid', a)
    # spiral
    a = np.zeros((21, 21)); y, x, dy, dx = 10, 10, 0, 1; steps = 1
    while 0 <= y < 21 and 0 <= x < 21:
        for _ in range(2):
            for _ in range(steps):
                if 0 <= y < 21 and 0 <= x < 21:
                    a[y, x] = 1
                y, x = y + dy, x + dx
            dy, dx = dx, -dy
        steps += 2
    add('spiral', a)
    a = np.zeros((10, 21)); a[0:8, 0::2] = 1; a[8, :] = 1; add('comb', a)
    rs = np.random.default_rng(7)
    for k, (hh, ww, dens) in enumerate([(64, 64, 0.5), (64, 64, 0.3), (50, 70, 0.6), (33, 31, 0.45), (128, 96, 0.5)]):
        add(f'noise-binary-{k}', (rs.random((hh, ww)) < dens).astype(float))
    for k, (hh, ww) in enumerate([(40, 40), (64, 50), (25, 80)]):
        add(f'noise-levels-{k}', rs.integers(0, 8, (hh, ww)) / 7.0)
    # values on both sides of k/255 boundaries (float32 product rounding)
    vals = []
    for k in range(256):
        f = np.float32(k / 255.0)
        vals += [f, np.nextafter(f, np.float32(0)), np.nextafter(f, np.float32(1))]
    v = np.clip(np.array(vals, dtype=np.float32), 0, 1)
    n = 24 * 32
    v = np.concatenate([v, np.zeros(n - len(v), np.float32)])[:n]
    add('k255-edges', v.reshape(24, 32))
    return out


def grids():
    specs = [(0.01, 1, 0.01), (0, 1, 0.01), (0, 1, 0.001), (0.05, 0.95, 0.05), (0, 1, 0.1), (0.1, 0.9, 0.07), (0, 1, 0.003)]
    out = []
    for a, b, s in specs:
        g = np.arange(a, b, s)
        cuts = Stream()
        for t in g:
            cuts.add([int(t * np.uint8(m)) for m in range(256)])
        out.append({'start': a, 'stop': b, 'step': s, 'values': [float(t) for t in g], 'cutsHash': cuts.hex()})
    return out


def gray_cases():
    """float64 values near k/255: gray of the float64 map vs of the map rounded to float32 (the release's dtype).

    (For float32 maps the float32 and float64 products truncate alike: checked exhaustively over every float32 in [0, 1].)
    """
    rs = np.random.default_rng(3)
    vals = []
    for k in range(256):
        for d in (-1e-9, -1e-12, -1e-15, 0.0, 1e-15, 1e-12, 1e-9):
            vals.append(min(1.0, max(0.0, k / 255.0 + d)))
    vals = np.array(vals + list(rs.random(500)), dtype=np.float64)
    return {
        'f64': [float(v) for v in vals],
        'gray64': (vals * 255).astype(np.uint8).tolist(),
        'gray32': (vals.astype(np.float32) * 255).astype(np.uint8).tolist(),
    }


def nearest_cases():
    out = []
    for (sh, sw, dh, dw) in [(500, 375, 224, 224), (224, 224, 224, 224), (37, 53, 224, 224), (300, 451, 448, 448), (7, 5, 3, 11)]:
        src = np.arange(sh * sw, dtype=np.float32).reshape(sh, sw)
        dst = cv2.resize(src, (dw, dh), interpolation=cv2.INTER_NEAREST)
        ys = (dst[:, 0] // sw).astype(int).tolist()
        xs = (dst[0, :] % sw).astype(int).tolist()
        assert (dst == (np.array(ys)[:, None] * sw + np.array(xs)[None, :])).all()
        out.append({'src': [sh, sw], 'dst': [dh, dw], 'ys': ys, 'xs': xs})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default='spec/fixtures/boxes')
    ap.add_argument('--random', type=int, default=2000)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    tau_list = taus()
    rs = np.random.default_rng(20240601)
    maps_meta = []
    boxes = []
    for i in range(args.random):
        p = random_params(rs, i)
        m = gen_map(p)
        largest, info = analyze(m, tau_list)
        maps_meta.append({'kind': 'generated', 'params': p, 'hash': map_hash(m), **info})
        boxes += largest
        if i % 200 == 0:
            print(f'generated {i}/{args.random}', file=sys.stderr)
    for name, m in explicit_maps():
        largest, info = analyze(m, tau_list)
        maps_meta.append({'kind': 'explicit', 'name': name, 'h': m.shape[0], 'w': m.shape[1],
                          'values': [float(v) for v in m.reshape(-1)], **info})
        boxes += largest
    arr = np.array(boxes, dtype='<i2').reshape(-1)
    with open(os.path.join(args.out, 'largest.bin.gz'), 'wb') as f:
        f.write(gzip.compress(arr.tobytes(), compresslevel=9, mtime=0))
    meta = {
        'generator': 'tools/ref_boxes.py', 'cv2': cv2.__version__, 'numpy': np.__version__,
        'taus': tau_list, 'maps': maps_meta,
    }
    with open(os.path.join(args.out, 'maps.json'), 'w') as f:
        json.dump(meta, f, separators=(',', ':'))
    with open(os.path.join(args.out, 'conventions.json'), 'w') as f:
        json.dump({'grids': grids(), 'gray': gray_cases(), 'nearest': nearest_cases()}, f, separators=(',', ':'))
    print(f'{len(maps_meta)} maps, {len(tau_list)} taus, {sum(m["contours"] for m in maps_meta)} contours', file=sys.stderr)


if __name__ == '__main__':
    main()
