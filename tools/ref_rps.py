#!/usr/bin/python3
"""Independent numpy reference for the method's core (docs/method.md §3-4): fixtures for spec/rps-reference.spec.ts.

Run with Debian's interpreter:  /usr/bin/python3 tools/ref_rps.py spec/fixtures/rps

For each case it writes feature maps <case>/features/<stem>.npy (float32 [h,w,C]), labels.csv, and the references
computed here in float64 with numpy (torch only for the align_corners=True upsampling, cross-checked against a
hand-written numpy bilinear):
  expected/w.npy           global w* [C]                (float64)
  expected/w_class.npy     class-wise w* [K,C]          (float64, rows by sorted class index)
  expected/maps/<stem>.npy map in [0,1] at SIZE         (float64)
  expected/caam/<stem>.npy CAAM map at SIZE             (float64)
  expected/cmaps/<stem>.npy class-wise map at SIZE      (float64)
  expected/meta.json       sizes, counts, c = |v|/|u|
Nothing here imports the code under test.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

EPS = 1e-12


def normalize(f):
    n = np.sqrt((f.astype(np.float64) ** 2).sum(-1, keepdims=True))
    return f / np.maximum(n, EPS)


def direction(v, u):
    d = v / np.linalg.norm(v) - u / np.linalg.norm(u)
    return d / np.linalg.norm(d)


def bilinear_align_corners_np(m, H, W):
    h, w = m.shape
    ys = np.arange(H) * ((h - 1) / (H - 1) if H > 1 else 0.0)
    xs = np.arange(W) * ((w - 1) / (W - 1) if W > 1 else 0.0)
    y0 = np.floor(ys).astype(int); x0 = np.floor(xs).astype(int)
    y1 = np.minimum(y0 + 1, h - 1); x1 = np.minimum(x0 + 1, w - 1)
    wy = (ys - y0)[:, None]; wx = (xs - x0)[None, :]
    a = m[y0][:, x0]; b = m[y0][:, x1]; c = m[y1][:, x0]; d = m[y1][:, x1]
    return (1 - wy) * ((1 - wx) * a + wx * b) + wy * ((1 - wx) * c + wx * d)


def upsample(m, H, W):
    t = torch.from_numpy(m[None, None].astype(np.float64))
    out = F.interpolate(t, size=(H, W), mode='bilinear', align_corners=True)[0, 0].numpy()
    alt = bilinear_align_corners_np(m.astype(np.float64), H, W)
    assert np.abs(out - alt).max() < 1e-12, 'torch and numpy bilinear disagree'
    return out


def postprocess(raw, H, W):
    a = np.maximum(raw, 0)
    mn, mx = a.min(), a.max()
    n = (a - mn) / (mx - mn) if mx > mn else np.zeros_like(a)
    return upsample(n, H, W)


def make_case(out, name, rng, n_img, hw_list, C, kind, n_classes, size):
    root = os.path.join(out, name)
    for d in ['features', 'expected/maps', 'expected/caam', 'expected/cmaps']:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    feats, labels = {}, {}
    for i in range(n_img):
        h, w = hw_list[i % len(hw_list)]
        if kind == 'random':
            f = rng.standard_normal((h, w, C)).astype(np.float32)
        elif kind == 'realistic':
            # ReLU'd, sparse, norms spread over 0..100, a few all-zero positions (as ResNet layer4 / ViT+ReLU give).
            f = np.maximum(rng.standard_normal((h, w, C)) - 0.5, 0)
            scale = rng.uniform(0, 100, size=(h, w, 1))
            f = f / np.maximum(np.linalg.norm(f, axis=-1, keepdims=True), 1e-9) * scale
            f[0, 0, :] = 0.0
            f = f.astype(np.float32)
        elif kind == 'constant':
            f = np.tile(rng.uniform(0, 1, size=(1, 1, C)), (h, w, 1)).astype(np.float32)
        else:
            raise ValueError(kind)
        stem = f'img_{i:03d}'
        feats[stem] = f
        labels[stem] = int(i % n_classes)
        np.save(os.path.join(root, 'features', stem + '.npy'), f)
    with open(os.path.join(root, 'labels.csv'), 'w') as fh:
        fh.write('stem,classIndex\n')
        for s in sorted(labels):
            fh.write(f'{s},{labels[s]}\n')

    def stats(stems):
        pts = np.concatenate([feats[s].reshape(-1, C).astype(np.float64) for s in stems])
        v = pts.mean(0)
        u = normalize(pts).mean(0)
        return v, u, pts.shape[0]

    stems = sorted(feats)
    meta = {'size': size, 'channels': C, 'images': n_img, 'kind': kind}
    if kind != 'constant':
        v, u, n = stats(stems)
        w = direction(v, u)
        meta.update(points=n, c=float(np.linalg.norm(v) / np.linalg.norm(u)))
        np.save(os.path.join(root, 'expected', 'w.npy'), w)
        classes = sorted(set(labels.values()))
        wc = np.stack([direction(*stats([s for s in stems if labels[s] == k])[:2]) for k in classes])
        np.save(os.path.join(root, 'expected', 'w_class.npy'), wc)
        meta['classes'] = classes
    for s in stems:
        f = feats[s].astype(np.float64)
        fh = normalize(f)
        H, W = size
        if kind != 'constant':
            np.save(os.path.join(root, 'expected', 'maps', s + '.npy'), postprocess(fh @ w, H, W))
            k = classes.index(labels[s])
            np.save(os.path.join(root, 'expected', 'cmaps', s + '.npy'), postprocess(fh @ wc[k], H, W))
        np.save(os.path.join(root, 'expected', 'caam', s + '.npy'), postprocess(f.sum(-1), H, W))
    with open(os.path.join(root, 'expected', 'meta.json'), 'w') as fh:
        json.dump(meta, fh, indent=1)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else 'spec/fixtures/rps'
    rng = np.random.default_rng(20231004)
    make_case(out, 'random', rng, 9, [(5, 6), (4, 4), (7, 3)], 64, 'random', 3, [23, 17])
    make_case(out, 'realistic2048', rng, 4, [(3, 3), (2, 4)], 2048, 'realistic', 2, [32, 32])
    make_case(out, 'realistic384', rng, 6, [(6, 6)], 384, 'realistic', 3, [48, 40])
    make_case(out, 'constant', rng, 2, [(3, 3)], 16, 'constant', 1, [8, 8])
    print('wrote', out)


if __name__ == '__main__':
    main()
