#!/usr/bin/python3
"""Reference WSOL metrics for spec/metrics.spec.ts and spec/evaluate-cli.spec.ts.

Run with Debian's python:  /usr/bin/python3 tools/ref_metrics.py [--out spec/fixtures/metrics]

An independent numpy restatement of the definitions (docs/method.md §6): boxes from cv2 (findContours RETR_TREE +
contourArea + boundingRect, as wsolevaluation and the authors' release call them); BoxAcc / MaxBoxAcc / MaxBoxAccV2 as
wsolevaluation's BoxEvaluator computes them (clipped boxes, [0,0,0,0] for an empty mask, multi-contour for V2); the
release's variant (largest contour, raw box, miss when empty, (iou70+iou50+iou30)/3 at a shared tau); Top-1/Top-5 Loc;
PxAP / PIoU with np.histogram over thresholds + [1, 2, 3] as wsolevaluation's MaskEvaluator and the release's
segmentation(). Score maps come from the integer generator of tools/ref_boxes.py (params committed, TS regenerates
them); ground-truth masks are thresholded generator maps; a few degenerate images are committed as values.
"""
import argparse
import json
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_boxes import gen_map  # noqa: E402


def boxes_at(m, taus):
    """Per tau: (largest raw box or None, list of all contour boxes), cv2 semantics."""
    gray = (m * 255).astype(np.uint8)
    out = []
    for t in taus:
        _, th = cv2.threshold(gray, int(t * np.max(gray)), 255, cv2.THRESH_BINARY)
        cs, _ = cv2.findContours(th, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
        if len(cs) == 0:
            out.append((None, []))
            continue
        allb = []
        for c in cs:
            x, y, w, h = cv2.boundingRect(c)
            allb.append([x, y, x + w, y + h])
        c = max(cs, key=cv2.contourArea)
        x, y, w, h = cv2.boundingRect(c)
        out.append(([x, y, x + w, y + h], allb))
    return out


def ious(a, b):
    """wsolevaluation calculate_multiple_iou: a (n,4), b (k,4) inclusive boxes -> (n,k)."""
    a = np.asarray(a, dtype=np.int64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.int64).reshape(-1, 4)
    ix = np.maximum(0, np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + 1)
    iy = np.maximum(0, np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + 1)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)
    area_b = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
    den = area_a[:, None] + area_b[None, :] - inter
    deg = den <= 0
    den = np.where(deg, 1, den)
    r = inter / den
    r[deg] = 0
    return r


def box_metrics(images, taus, deltas=(30, 50, 70), chosen=None):
    T = len(taus)
    n = len(images)
    hits_multi = {d: np.zeros(T) for d in deltas}
    hits_largest = {d: np.zeros(T) for d in set(deltas) | {50}}
    hits_rel = {d: np.zeros(T) for d in deltas}
    top1 = np.zeros(T)
    top5 = np.zeros(T)
    top1r = np.zeros(T)
    top5r = np.zeros(T)
    ranked = all('rank' in im for im in images)
    per_img = []
    for im in images:
        m, H, W = im['map'], im['h'], im['w']
        gt = np.array(im['gt'])
        res = boxes_at(m, taus)
        rel_iou = np.zeros(T)
        multi_iou = np.zeros(T)
        rel_boxes = []
        for k, (big, allb) in enumerate(res):
            # wsolevaluation: clip x1, y1; an empty mask is the box [0, 0, 0, 0]
            if big is None:
                wl = ious([[0, 0, 0, 0]], gt).max()
                wm = wl
                rl = -1.0
            else:
                cb = [big[0], big[1], min(big[2], W - 1), min(big[3], H - 1)]
                wl = ious([cb], gt).max()
                wm = ious([[b[0], b[1], min(b[2], W - 1), min(b[3], H - 1)] for b in allb], gt).max()
                rl = ious([big], gt).max()
            rel_iou[k] = max(rl, 0.0)
            multi_iou[k] = wm
            rel_boxes.append(big)
            for d in deltas:
                if wm >= d / 100:
                    hits_multi[d][k] += 1
                if rl >= d / 100:
                    hits_rel[d][k] += 1
            for d in hits_largest:
                if wl >= d / 100:
                    hits_largest[d][k] += 1
            rank = im.get('rank', 10 ** 9)
            if wl >= 0.5:
                top1[k] += rank <= 1
                top5[k] += rank <= 5
            if rl >= 0.5:
                top1r[k] += rank <= 1
                top5r[k] += rank <= 5
        per_img.append((im['id'], rel_boxes, rel_iou, multi_iou))

    acc = lambda h: h * 100. / float(n)                  # noqa: E731  wsolevaluation
    racc = lambda h: (h / n) * 100                       # noqa: E731  the release
    c_largest = {d: acc(h) for d, h in hits_largest.items()}
    c_multi = {d: acc(h) for d, h in hits_multi.items()}
    c_rel = {d: racc(h) for d, h in hits_rel.items()}
    desc = sorted(deltas, reverse=True)
    rel_mean = c_rel[desc[0]].copy()
    for d in desc[1:]:
        rel_mean = rel_mean + c_rel[d]
    rel_mean = rel_mean / len(desc)
    idx = {float(t): i for i, t in enumerate(taus)}
    if chosen:
        k_max = idx[chosen['maxBoxAcc']]
        k_d = {d: idx[chosen['maxBoxAccV2'][str(d)]] for d in deltas}
        k_rel = idx[chosen['release']]
    else:
        k_max = int(np.argmax(c_largest[50]))
        k_d = {d: int(np.argmax(c_multi[d])) for d in deltas}
        k_rel = int(np.argmax(rel_mean))
    per_delta = [c_multi[d][k_d[d]] for d in deltas]
    out = {
        'images': n,
        'MaxBoxAcc': float(c_largest[50][k_max]),
        'MaxBoxAccV2': float(np.average(per_delta)),
        'IoU': {str(d): float(c_multi[d][k_d[d]]) for d in deltas},
        'MaxBoxAccV2_release': float(rel_mean[k_rel]),
        'bestThreshold': float(taus[k_rel]),
        'release': {'IoU': {str(d): float(c_rel[d][k_rel] if chosen else c_rel[d].max()) for d in deltas}},
        'chosen': {'maxBoxAcc': float(taus[k_max]), 'maxBoxAccV2': {str(d): float(taus[k_d[d]]) for d in deltas},
                   'release': float(taus[k_rel])},
        'curves': {'boxAccV2': {str(d): c_multi[d].tolist() for d in deltas},
                   'boxAcc': {str(d): c_largest[d].tolist() for d in sorted(hits_largest)},
                   'release': {str(d): c_rel[d].tolist() for d in deltas}},
    }
    if ranked:
        t1, t5 = acc(top1), acc(top5)
        r1, r5 = racc(top1r), racc(top5r)
        out['top1Loc'] = float(t1[k_max])
        out['top5Loc'] = float(t5[k_max])
        out['release']['top1Loc'] = float(r1[k_rel] if chosen else r1.max())
        out['release']['top5Loc'] = float(r5[k_rel] if chosen else r5.max())
        out['curves']['top1Loc'] = t1.tolist()
        out['curves']['top5Loc'] = t5.tolist()
    out['perImage'] = [{'id': i, 'threshold': float(taus[k_rel]), 'box': b[k_rel], 'iou': float(r[k_rel]), 'iouMulti': float(mm[k_rel])}
                       for (i, b, r, mm) in per_img]
    return out


def mask_metrics(images, thresholds):
    edges = np.append(thresholds, [1.0, 2.0, 3.0])
    nb = len(edges) - 1
    th = np.zeros(nb)
    fh = np.zeros(nb)
    for im in images:
        m, gt = im['map'], im['mask']
        h1, _ = np.histogram(m[gt == 1], bins=edges)
        h0, _ = np.histogram(m[gt == 0], bins=edges)
        th += h1.astype(np.float64)
        fh += h0.astype(np.float64)
    num_true = th.sum()
    tp = th[::-1].cumsum()
    fn = num_true - tp
    fp = fh[::-1].cumsum()
    with np.errstate(divide='ignore', invalid='ignore'):
        precision = tp / (tp + fp)
        recall = tp / (tp + fn)
    non_zero = (tp + fp) != 0
    auc = (precision[1:] * np.diff(recall))[non_zero[1:]].sum() * 100
    iou = tp / (num_true + fp) * 100.
    k = int(np.argmax(iou))
    return {'images': len(images), 'PxAP': float(auc), 'PIoU': float(iou.max()), 'PIoUThreshold': float(edges[nb - 1 - k]),
            'positives': float(num_true), 'negatives': float(fh.sum()),
            'curves': {'precision': [None if np.isnan(v) else float(v) for v in precision], 'recall': recall.tolist(),
                       'iou': iou.tolist(), 'thresholds': [float(edges[nb - 1 - j]) for j in range(nb)]}}


def gen_params(rs, h, w):
    smooth = rs.random()
    return {
        'seed': int(rs.integers(1, 2 ** 32)), 'h': h, 'w': w,
        'radius': int(rs.integers(0, 3)) if smooth < 0.25 else int(rs.integers(2, 9)),
        'passes': int(rs.integers(1, 3)), 'bx': int(rs.integers(0, w)), 'by': int(rs.integers(0, h)),
        'br': int(rs.integers(2, max(3, max(h, w)))), 'ba': int(rs.integers(1, 32768)) if rs.random() < 0.7 else 0,
        'quant': int(rs.choice([1, 1, 256])), 'scale': 255,
    }


def rand_box(rs, h, w):
    x0, x1 = sorted(int(v) for v in rs.integers(0, w, 2))
    y0, y1 = sorted(int(v) for v in rs.integers(0, h, 2))
    return [x0, y0, x1, y1]


def near_box(rs, m, h, w):
    """A GT box near what the map suggests: the cv2 box at a random tau, jittered by a few pixels (inclusive)."""
    big, _ = boxes_at(m, [float(rs.uniform(0.1, 0.8))])[0]
    if big is None:
        return rand_box(rs, h, w)
    j = rs.integers(-3, 4, 4)
    x0 = int(np.clip(big[0] + j[0], 0, w - 1))
    y0 = int(np.clip(big[1] + j[1], 0, h - 1))
    x1 = int(np.clip(big[2] - 1 + j[2], x0, w - 1))
    y1 = int(np.clip(big[3] - 1 + j[3], y0, h - 1))
    return [x0, y0, x1, y1]


def box_dataset(rs, n, name):
    images = []
    for i in range(n):
        h, w = int(rs.integers(12, 90)), int(rs.integers(12, 90))
        p = gen_params(rs, h, w)
        gt = [near_box(rs, gen_map(p), h, w) if rs.random() < 0.7 else rand_box(rs, h, w) for _ in range(int(rs.integers(1, 5)))]
        images.append({'id': f'{name}/{i:03d}.jpg', 'params': p, 'h': h, 'w': w, 'gt': gt, 'rank': int(rs.integers(1, 9))})
    # Degenerate images.
    images.append({'id': f'{name}/zeros.jpg', 'values': [0.0] * (10 * 12), 'h': 10, 'w': 12, 'gt': [[0, 0, 0, 1]], 'rank': 1})
    images.append({'id': f'{name}/const.jpg', 'values': [0.5] * (9 * 7), 'h': 9, 'w': 7, 'gt': [[0, 0, 6, 8], [2, 2, 3, 3]], 'rank': 2})
    v = np.zeros((16, 20), np.float32)
    v[6:16, 12:20] = 1.0
    v[0:3, 0:3] = 0.4
    images.append({'id': f'{name}/corner.jpg', 'values': v.reshape(-1).tolist(), 'h': 16, 'w': 20, 'gt': [[12, 6, 19, 15]], 'rank': 6})
    ring = np.zeros((15, 15), np.float32)
    ring[1:14, 1:14] = 0.9
    ring[4:11, 4:11] = 0.0
    ring[6:9, 6:9] = 0.6
    images.append({'id': f'{name}/ring.jpg', 'values': ring.reshape(-1).tolist(), 'h': 15, 'w': 15, 'gt': [[4, 4, 10, 10]], 'rank': 1})
    return images


def mask_dataset(rs, n):
    images = []
    for i in range(n):
        h, w = int(rs.integers(10, 70)), int(rs.integers(10, 70))
        p = gen_params(rs, h, w)
        fg = {**p, 'radius': p['radius'] + int(rs.integers(0, 3)), 'ba': p['ba'] // 2}  # a related map: GT correlates with the score
        images.append({'id': f'masks/{i:03d}.jpg', 'h': h, 'w': w, 'params': p,
                       'fg': fg, 'fgCut': float(np.float32(rs.uniform(0.3, 0.8))),
                       'ign': gen_params(rs, h, w), 'ignCut': float(np.float32(rs.uniform(0.5, 0.95)))})
    e = np.float32(np.arange(100) / 100.0).reshape(10, 10)
    images.append({'id': 'masks/edges.jpg', 'h': 10, 'w': 10, 'values': e.reshape(-1).tolist(),
                   'maskValues': (np.arange(100) % 3 == 0).astype(int).tolist()})
    return images


def materialize_boxes(images):
    out = []
    for im in images:
        m = gen_map(im['params']) if 'params' in im else np.array(im['values'], np.float32).reshape(im['h'], im['w'])
        out.append({**im, 'map': m})
    return out


def materialize_masks(images):
    out = []
    for im in images:
        if 'params' in im:
            m = gen_map(im['params'])
            fg = gen_map(im['fg']) > np.float32(im['fgCut'])
            ign = (gen_map(im['ign']) > np.float32(im['ignCut'])) & ~fg
            mask = fg.astype(np.uint8) + 255 * ign.astype(np.uint8)
        else:
            m = np.array(im['values'], np.float32).reshape(im['h'], im['w'])
            mask = np.array(im['maskValues'], np.uint8).reshape(im['h'], im['w'])
        out.append({**im, 'map': m, 'mask': mask})
    return out


def strip(images):
    return [{k: v for k, v in im.items() if k not in ('map', 'mask')} for im in images]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default='spec/fixtures/metrics')
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rs = np.random.default_rng(77)
    grids = {'release': (0.01, 1, 0.01), 'wsol': (0, 1, 0.01), 'coarse': (0, 1, 0.1)}
    val = box_dataset(rs, 40, 'val')
    test = box_dataset(rs, 40, 'test')
    valm, testm = materialize_boxes(val), materialize_boxes(test)
    results = {}
    for g, (a, b, s) in grids.items():
        taus = np.arange(a, b, s)
        rv = box_metrics(valm, taus)
        results[f'val/{g}'] = rv
        results[f'test/{g}'] = box_metrics(testm, taus)
        results[f'test/{g}/chosen-from-val'] = box_metrics(testm, taus, chosen=rv['chosen'])
    results['val/release/delta-20-60'] = box_metrics(valm, np.arange(0.01, 1, 0.01), deltas=(20, 60))
    # wsolevaluation protocol: maps at 64x64, boxes given at the original size and resized by resize_bbox.
    rsz = []
    for i in range(12):
        W, H = int(rs.integers(50, 400)), int(rs.integers(50, 400))
        gt_orig = [rand_box(rs, H, W) for _ in range(int(rs.integers(1, 3)))]
        gt = [[int(b[0] * 64. / W), int(b[1] * 64. / H), int(b[2] * 64. / W), int(b[3] * 64. / H)] for b in gt_orig]
        rsz.append({'id': f'rsz/{i}.jpg', 'params': gen_params(rs, 64, 64), 'h': 64, 'w': 64, 'size': [W, H], 'gtOrig': gt_orig, 'gt': gt})
    results['resize64'] = box_metrics(materialize_boxes(rsz), np.arange(0.01, 1, 0.01))

    masks = mask_dataset(rs, 30)
    mm = materialize_masks(masks)
    for g, (a, b, s) in {'m01': (0, 1, 0.01), 'm05': (0, 1, 0.05), 'm001': (0, 1, 0.001)}.items():
        results[f'masks/{g}'] = mask_metrics(mm, np.arange(a, b, s))

    # cv2.imread(IMREAD_GRAYSCALE) of a colour and a gray PNG (libpng's RGB -> gray), as bytes + expected values.
    import base64
    png_cases = []
    for k, ch in enumerate((3, 1, 4)):
        a = rs.integers(0, 256, (7, 9, ch)).astype(np.uint8)
        if ch == 3:
            a[0, :3] = 77  # equal channels stay as they are
        ok, buf = cv2.imencode('.png', a if ch != 1 else a[:, :, 0])
        assert ok
        path = os.path.join(args.out, f'_tmp{k}.png')
        with open(path, 'wb') as f:
            f.write(buf.tobytes())
        g = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        os.remove(path)
        png_cases.append({'channels': ch, 'png': base64.b64encode(buf.tobytes()).decode(), 'gray': g.reshape(-1).tolist(), 'h': 7, 'w': 9})

    sums = []
    for k in range(60):
        n = int(rs.integers(1, 400))
        v = rs.standard_normal(n) * 10.0 ** rs.integers(-8, 17, n)
        sums.append({'values': v.tolist(), 'sum': float(np.sum(v))})
    fixture = {
        'generator': 'tools/ref_metrics.py', 'cv2': cv2.__version__, 'numpy': np.__version__, 'grids': grids,
        'datasets': {'val': strip(val), 'test': strip(test), 'resize64': rsz, 'masks': strip(masks)},
        'results': results, 'sums': sums, 'png': png_cases,
    }
    with open(os.path.join(args.out, 'reference.json'), 'w') as f:
        json.dump(fixture, f, separators=(',', ':'))
    print('wrote', os.path.join(args.out, 'reference.json'), file=sys.stderr)


if __name__ == '__main__':
    main()
