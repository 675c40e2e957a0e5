#!/usr/bin/python3
"""Reference Top-1 / Top-5 Loc for spec/toploc.spec.ts: an independent numpy + cv2 restatement of the definitions.

Run with Debian's python:  /usr/bin/python3 tools/ref_toploc.py [--out spec/fixtures/classify/toploc.json]

The authors' release (validation.py, `localization` + `evaluation`), restated:
  - rank of the true class t from the logits l (float32): topk = #{k : l[k] >= l[t]}  (ties count against t);
  - per tau: gray = uint8(255*map); binary = gray > int(tau*max(gray)); cv2.findContours(RETR_TREE); the contour with
    the largest cv2.contourArea (first on ties, Python's max); box [x, y, x+w, y+h] from cv2.boundingRect, unclipped;
    IoU = the release's calculate_IOU (inclusive +1 areas, best over the GT boxes); no contour = miss;
  - hit_top1[tau] += IoU >= 0.5 and topk <= 1; hit_top5[tau] += IoU >= 0.5 and topk <= 5;
  - acc = (hits / seen) * 100 per tau; the JSON reports "Top-1" = max over tau of top1, "Top-5" = max over tau of top5
    (each its own tau); the progress line shows top1/top5 at argmax(iou50) (first maximum);
  - test protocol of main.py: the test split evaluated at the single tau = val's BestThreshold
    (argmax over tau of (iou70 + iou50 + iou30) / 3).
uol's wsolevaluation-style variant: box clipped to [0, W-1] x [0, H-1] (an empty map counts as [0,0,0,0]), IoU as
wsolevaluation's calculate_multiple_iou, Top-1/Top-5 read at MaxBoxAcc's tau (argmax over tau of the delta=50 BoxAcc
of that largest-contour box, count*100/n), on test at val's MaxBoxAcc tau.
Maps come from the integer generator of tools/ref_boxes.py (params committed, TS regenerates them); logits are
random float32 with planted ties (true class tied with others at the top, inside the top 5 and at the boundary).
"""
import argparse
import json
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_boxes import gen_map  # noqa: E402  (the shared map generator, not code under test)

K = 12
TAUS = np.arange(0.01, 1, 0.01)


def largest_box(m, tau):
    gray = np.squeeze(m * 255).astype(np.uint8)
    _, th = cv2.threshold(gray, int(tau * np.max(gray)), 255, cv2.THRESH_BINARY)
    cs, _ = cv2.findContours(th, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    if len(cs) == 0:
        return None
    c = max(cs, key=cv2.contourArea)
    x, y, w, h = cv2.boundingRect(c)
    return [x, y, x + w, y + h]


def release_iou(gts, b):
    best = 0.0
    for g in gts:
        ix = max(0, min(g[2], b[2]) - max(g[0], b[0]) + 1)
        iy = max(0, min(g[3], b[3]) - max(g[1], b[1]) + 1)
        inter = ix * iy
        ua = (g[2] - g[0] + 1) * (g[3] - g[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter
        v = inter / float(ua)
        if v > best:
            best = v
    return best


def wsol_iou(gts, b):
    a = np.asarray([b], np.int64)
    g = np.asarray(gts, np.int64)
    ix = np.maximum(0, np.minimum(a[:, None, 2], g[None, :, 2]) - np.maximum(a[:, None, 0], g[None, :, 0]) + 1)
    iy = np.maximum(0, np.minimum(a[:, None, 3], g[None, :, 3]) - np.maximum(a[:, None, 1], g[None, :, 1]) + 1)
    inter = ix * iy
    aa = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)
    ag = (g[:, 2] - g[:, 0] + 1) * (g[:, 3] - g[:, 1] + 1)
    return float((inter / (aa[:, None] + ag[None, :] - inter)).max())


def rank_of(logits, t):
    l = np.asarray(logits, np.float32)
    return int((l >= l[t]).sum())


def evaluate(images, taus):
    n = len(images)
    T = len(taus)
    seen = np.zeros(T)
    h30, h50, h70, t1, t5 = (np.zeros(T) for _ in range(5))
    w50, wt1, wt5 = (np.zeros(T, np.int64) for _ in range(3))
    ranks = []
    for im in images:
        m = map_of(im)
        H, W = m.shape
        r = rank_of(im['logits'], im['label'])
        ranks.append(r)
        for i, tau in enumerate(taus):
            b = largest_box(m, tau)
            seen[i] += 1
            if b is not None:
                iou = release_iou(im['gt'], b)
                h70[i] += iou >= 0.7
                h30[i] += iou >= 0.3
                if iou >= 0.5:
                    h50[i] += 1
                    t1[i] += r <= 1
                    t5[i] += r <= 5
            cb = [0, 0, 0, 0] if b is None else [b[0], b[1], min(b[2], W - 1), min(b[3], H - 1)]
            wi = wsol_iou(im['gt'], cb)
            if wi >= 0.5:
                w50[i] += 1
                wt1[i] += r <= 1
                wt5[i] += r <= 5
    iou30, iou50, iou70 = (h30 / seen) * 100, (h50 / seen) * 100, (h70 / seen) * 100
    top1, top5 = (t1 / seen) * 100, (t5 / seen) * 100
    v2 = (iou70 + iou50 + iou30) / 3.
    bestt = int(np.argmax(iou50))
    wacc = w50 * 100. / n
    kmax = int(np.argmax(wacc))
    return {
        'ranks': ranks,
        'release': {
            'Top-1': float(top1.max()), 'Top-5': float(top5.max()),
            'progressTop1': float(top1[bestt]), 'progressTop5': float(top5[bestt]),
            'BestThreshold': float(taus[int(v2.argmax())]),
            'top1Curve': top1.tolist(), 'top5Curve': top5.tolist(),
        },
        'wsol': {
            'maxBoxAccThreshold': float(taus[kmax]),
            'top1Loc': float(wt1[kmax] * 100. / n), 'top5Loc': float(wt5[kmax] * 100. / n),
            'top1Curve': (wt1 * 100. / n).tolist(), 'top5Curve': (wt5 * 100. / n).tolist(),
        },
    }


def map_of(im):
    return gen_map(im['params']) if 'params' in im else np.array(im['values'], np.float32).reshape(im['h'], im['w'])


def gen_params(rs, h, w):
    return {'seed': int(rs.integers(1, 2 ** 32)), 'h': h, 'w': w, 'radius': int(rs.integers(2, 9)),
            'passes': int(rs.integers(1, 3)), 'bx': int(rs.integers(0, w)), 'by': int(rs.integers(0, h)),
            'br': int(rs.integers(max(3, min(h, w) // 4), max(4, max(h, w)))), 'ba': int(rs.integers(8000, 32768)),
            'quant': 1, 'scale': 255}


def logits_with_rank(rs, label, kind):
    l = rs.normal(0, 2, K).astype(np.float32)
    if kind == 'top':          # the true class strictly first
        l[label] = np.float32(l.max() + 1)
    elif kind == 'tie-top':    # tied with one other class at the top: rank 2 under the release's rule
        other = (label + 1 + int(rs.integers(0, K - 1))) % K
        l[label] = l[other] = np.float32(l.max() + 1)
    elif kind == 'tie-5':      # tied with classes so that exactly 5 score >= it
        order = np.argsort(-l, kind='stable')
        others = [int(k) for k in order if k != label]
        l[label] = l[others[3]]  # others[0..3] >= it, itself: rank 5
    elif kind == 'tie-6':      # tied at the Top-5 boundary: rank 6
        order = np.argsort(-l, kind='stable')
        others = [int(k) for k in order if k != label]
        l[label] = l[others[4]]
    return l.astype(np.float32)


def dataset(rs, n, name):
    kinds = ['top', 'tie-top', 'tie-5', 'tie-6', 'random', 'random']
    out = []
    for i in range(n):
        h, w = int(rs.integers(16, 72)), int(rs.integers(16, 72))
        p = gen_params(rs, h, w)
        m = gen_map(p)
        gts = []
        for _ in range(int(rs.integers(1, 3))):
            b = largest_box(m, float(rs.uniform(0.2, 0.7)))
            if b is None or rs.random() < 0.15:
                x0, x1 = sorted(int(v) for v in rs.integers(0, w, 2))
                y0, y1 = sorted(int(v) for v in rs.integers(0, h, 2))
                gts.append([x0, y0, x1, y1])
            else:
                j = rs.integers(-2, 3, 4)
                x0 = int(np.clip(b[0] + j[0], 0, w - 1))
                y0 = int(np.clip(b[1] + j[1], 0, h - 1))
                gts.append([x0, y0, int(np.clip(b[2] - 1 + j[2], x0, w - 1)), int(np.clip(b[3] - 1 + j[3], y0, h - 1))])
        label = int(rs.integers(0, K))
        kind = kinds[i % len(kinds)]
        logits = logits_with_rank(rs, label, kind)
        out.append({'id': f'{name}/{i:03d}.jpg', 'params': p, 'h': h, 'w': w, 'gt': gts, 'label': label,
                    'logits': [float(v) for v in logits], 'kind': kind})
    # An empty map (no contour at any tau) with the true class first.
    out.append({'id': f'{name}/zeros.jpg', 'values': [0.0] * (10 * 12), 'h': 10, 'w': 12, 'gt': [[0, 0, 5, 5]],
                'label': 3, 'logits': [float(v) for v in logits_with_rank(rs, 3, 'top')], 'kind': 'top'})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default='spec/fixtures/classify/toploc.json')
    ap.add_argument('--seed', type=int, default=2)
    a = ap.parse_args()
    rs = np.random.default_rng(a.seed)
    val = dataset(rs, 30, 'val')
    test = dataset(rs, 30, 'test')
    rv = evaluate(val, TAUS)
    rt = evaluate(test, TAUS)
    # main.py's test run: the single tau = val's BestThreshold; uol reads its wsol-style Top-k at val's MaxBoxAcc tau.
    rt_rel = evaluate(test, np.array([rv['release']['BestThreshold']]))
    rt_wsol = evaluate(test, np.array([rv['wsol']['maxBoxAccThreshold']]))
    res = {
        'classes': K,
        'datasets': {'val': val, 'test': test},
        'results': {
            'val': rv, 'test': rt,
            'test-at-val': {'release': rt_rel['release'], 'wsol': rt_wsol['wsol']},
        },
    }
    with open(a.out, 'w') as f:
        json.dump(res, f, separators=(',', ':'))
    for k in ('val', 'test'):
        r = res['results'][k]
        print(k, 'release Top-1/Top-5', r['release']['Top-1'], r['release']['Top-5'], 'progress', r['release']['progressTop1'],
              'wsol', r['wsol']['top1Loc'], r['wsol']['top5Loc'], 'ranks', sorted(set(r['ranks'])))


if __name__ == '__main__':
    main()
