#!/usr/bin/python3
"""cv2 reference timing for `uol bench --suite boxes`: boxes at every tau, as wsolevaluation / the release compute them.

    /usr/bin/python3 tools/bench_boxes_cv2.py --dir DIR [--taus 0.01:1:0.01] [--repeat 3]

For every DIR/*.npy map (float [H, W] in [0, 1]) and every tau: gray = (map*255).astype(uint8); cv2.threshold at
int(tau*max); cv2.findContours(RETR_TREE, CHAIN_APPROX_SIMPLE); the largest contour by cv2.contourArea and every
contour's cv2.boundingRect (the single- and multi-contour box sets the box evaluator needs). cv2 runs on one thread.
Prints one JSON object: {"ms_per_map": ..., "maps": n, "cv2": version}.
"""
import argparse
import glob
import json
import os
import time

import cv2
import numpy as np


def boxes(m, taus):
    gray = (m * 255).astype(np.uint8)
    mx = np.max(gray)
    out = []
    for t in taus:
        _, th = cv2.threshold(gray, int(t * mx), 255, cv2.THRESH_BINARY)
        cs, _ = cv2.findContours(th, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
        if not cs:
            out.append(None)
            continue
        big = cv2.boundingRect(max(cs, key=cv2.contourArea))
        out.append((big, [cv2.boundingRect(c) for c in cs]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dir', required=True)
    ap.add_argument('--taus', default='0.01:1:0.01')
    ap.add_argument('--repeat', type=int, default=3)
    a = ap.parse_args()
    cv2.setNumThreads(1)
    start, stop, step = (float(x) for x in a.taus.split(':'))
    taus = np.arange(start, stop, step)
    maps = [np.load(f) for f in sorted(glob.glob(os.path.join(a.dir, '*.npy')))]
    for m in maps[:2]:
        boxes(m, taus)
    best = float('inf')
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        for m in maps:
            boxes(m, taus)
        best = min(best, (time.perf_counter() - t0) * 1000 / len(maps))
    print(json.dumps({'ms_per_map': best, 'maps': len(maps), 'cv2': cv2.__version__}))


if __name__ == '__main__':
    main()
