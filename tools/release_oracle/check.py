#!/usr/bin/python3
"""Self-check of the release oracle's outputs: determinism (a re-run regenerates them identically) and sanity (the
tiny data and random weights give informative, well-formed results).

    /usr/bin/python3 tools/release_oracle/check.py --data OUT/data --metadata OUT/metadata --weights OUT/weights \\
        --release OUT/release [--rerun EXP ...] [--tar T] [--sharp NODE_MODULES]

Sanity (every experiment found in OUT/release/manifest.json):
  - result JSONs have the release's keys, finite values; metrics are neither all 0 nor all 100 over val+test;
  - maps: float32 [crop,crop], finite, in [0,1], each with > 20 distinct uint8 levels; the box the release would
    draw changes with tau on most images (>= 3 distinct boxes over the 99-threshold grid);
  - w*: finite rows of unit norm for every class that has train images;
  - every checkpoint load (load_report.json) filled all the model's keys (the release loads with strict=False);
  - the result JSONs are recomputed from the recorded maps and GT boxes (the release's formulas, rewritten) and must
    match exactly — the recorded maps are the ones the release scored;
  - BestThreshold is not at an edge of the grid (0.01 / 0.99) for most experiments (reported per experiment).
Determinism (--rerun EXP): runs run_release.py for EXP into a temporary folder and compares result JSONs, param.npy,
train_order/train_ids and every map bit for bit with OUT/release/EXP.
--sharp NODE_MODULES: decodes every JPEG under --data with sharp (node) and with PIL and reports whether the RGB
bytes are identical.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = ['MaxBoxAccV2', 'IOU30', 'IOU50', 'IOU70', 'Top-1', 'Top-5', 'BestThreshold']
GRID = np.arange(0.01, 1, 0.01)


def release_box(m, t):
    """The release's box for map m at threshold t (largest contour by cv2.contourArea), or None."""
    gray = np.squeeze(m * 255).astype(np.uint8)
    _, th = cv2.threshold(gray, int(t * np.max(gray)), 255, cv2.THRESH_BINARY)
    cs, _ = cv2.findContours(th, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    if not cs:
        return None
    x, y, w, h = cv2.boundingRect(max(cs, key=cv2.contourArea))
    return (x, y, x + w, y + h)


def iou_release(gts, box):
    """Max IoU of box with the GT boxes, in the release's +1 pixel convention."""
    best = 0.
    for g in gts:
        xa, ya, xb, yb = max(g[0], box[0]), max(g[1], box[1]), min(g[2], box[2]), min(g[3], box[3])
        inter = max(0, xb - xa + 1) * max(0, yb - ya + 1)
        a = (g[2] - g[0] + 1) * (g[3] - g[1] + 1)
        b = (box[2] - box[0] + 1) * (box[3] - box[1] + 1)
        best = max(best, inter / float(a + b - inter))
    return best


def metrics_from_maps(md, thresholds):
    """The result JSON recomputed from the recorded maps and GT boxes (same formulas as the release, rewritten)."""
    with open(os.path.join(md, 'order.txt')) as f:
        ids = [line.strip() for line in f if line.strip()]
    with open(os.path.join(md, 'gt_boxes.json')) as f:
        gt = json.load(f)
    n = len(thresholds)
    seen, h30, h50, h70 = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    for iid in ids:
        m = np.load(os.path.join(md, iid + '.npy'))
        for i, t in enumerate(thresholds):
            seen[i] += 1
            b = release_box(m, t)
            if b is None:
                continue
            v = iou_release(gt[iid], b)
            h70[i] += v >= 0.7
            h50[i] += v >= 0.5
            h30[i] += v >= 0.3
    i70, i50, i30 = h70 / seen * 100, h50 / seen * 100, h30 / seen * 100
    mb = (i70 + i50 + i30) / 3.
    return {'MaxBoxAccV2': float(mb.max()), 'IOU30': float(i30.max()), 'IOU50': float(i50.max()),
            'IOU70': float(i70.max()), 'BestThreshold': float(thresholds[mb.argmax()])}


def sanity(rel, name, rec, problems, notes):
    d = os.path.join(rel, name)
    vals = []
    best = []
    for fn in ('resultval.json', 'resulttest.json'):
        p = os.path.join(d, fn)
        if not os.path.exists(p):
            continue
        with open(p) as f:
            r = json.load(f)
        if sorted(r) != sorted(KEYS):
            problems.append(f'{name}/{fn}: keys {sorted(r)}')
        if not all(np.isfinite(v) for v in r.values()):
            problems.append(f'{name}/{fn}: non-finite value {r}')
        vals += [r['IOU30'], r['IOU50'], r['IOU70']]
        best.append(r['BestThreshold'])
    if not vals:
        problems.append(f'{name}: no result JSON')
    elif all(v == 0 for v in vals) or all(v == 100 for v in vals):
        problems.append(f'{name}: uninformative metrics {vals}')
    edge = any(abs(b - 0.01) < 1e-9 or abs(b - 0.99) < 1e-9 for b in best[:1])
    n_maps, few_boxes = 0, 0
    for split in rec.get('maps_splits', []):
        md = os.path.join(d, 'maps', split)
        with open(os.path.join(md, 'order.txt')) as f:
            ids = [line.strip() for line in f if line.strip()]
        for iid in dict.fromkeys(ids):
            m = np.load(os.path.join(md, iid + '.npy'))
            n_maps += 1
            if m.dtype != np.float32 or m.shape != (rec['crop_size'], rec['crop_size']):
                problems.append(f'{name}/{split}/{iid}: {m.dtype} {m.shape}')
            if not np.isfinite(m).all():
                problems.append(f'{name}/{split}/{iid}: non-finite map (NaN: {int(np.isnan(m).sum())})')
                continue
            if m.min() < 0 or m.max() > 1:
                problems.append(f'{name}/{split}/{iid}: map outside [0,1]: {m.min()} {m.max()}')
            if len(np.unique((m * 255).astype(np.uint8))) <= 20:
                problems.append(f'{name}/{split}/{iid}: <= 20 distinct levels')
            boxes = {release_box(m, t) for t in GRID}
            if len(boxes) < 3:
                few_boxes += 1
    if n_maps and few_boxes > n_maps // 4:
        problems.append(f'{name}: the box changes with tau on only {n_maps - few_boxes}/{n_maps} maps')
    for ld in rec.get('load_report', []):
        miss = [k for k in ld['missing'] if not k.endswith('num_batches_tracked')]
        if miss:
            problems.append(f'{name}: checkpoint load into {ld["module"]} left {len(miss)} keys random: {miss[:3]}')
    # the recorded maps + GT boxes reproduce the release's own result JSONs exactly (recorder consistency)
    if rec['dataset'] == 'CUB':
        pairs = [('resultval.json', 'val', GRID), ('resulttest.json', 'test', None)]
    else:
        pairs = [('resulttest.json', rec['maps_splits'][0], GRID)]
    for fn, split, grid in pairs:
        with open(os.path.join(d, fn)) as f:
            r = json.load(f)
        if grid is None:
            with open(os.path.join(d, 'resultval.json')) as f:
                grid = [json.load(f)['BestThreshold']]
        mine = metrics_from_maps(os.path.join(d, 'maps', split), grid)
        diff = {k: (v, r[k]) for k, v in mine.items() if v != r[k]}
        if diff:
            problems.append(f'{name}/{fn}: recomputed from the recorded maps differs: {diff}')
    p = np.load(os.path.join(d, 'param.npy'))
    with open(os.path.join(d, 'train_order.txt')) as f:
        labels = sorted({int(line.rsplit(',', 1)[1]) for line in f if line.strip()})
    rows = p[labels] if p.shape[0] > 1 else p
    if not np.isfinite(rows).all() or np.abs(np.linalg.norm(rows, axis=1) - 1).max() > 1e-4:
        problems.append(f'{name}: w* rows not finite unit vectors')
    notes.append(f'{name:22s} maps {n_maps:3d} (tau-invariant box: {few_boxes}) BestThreshold {best} '
                 f'IoU30/50/70 {vals}{"  [edge]" if edge else ""} w* {list(p.shape)}'
                 f'{" (NaN rows for classes without train images: %d)" % int((~np.isfinite(p).all(1)).sum()) if p.shape[0] > 1 else ""}')
    return edge


def same_tree(a, b, problems, name):
    fa = sorted(os.path.relpath(os.path.join(r, f), a) for r, _, fs in os.walk(a) for f in fs)
    fb = sorted(os.path.relpath(os.path.join(r, f), b) for r, _, fs in os.walk(b) for f in fs)
    skip = {'log.txt', 'args.json', 'load_report.json'}   # args.json holds the run's temp res_dir; log has timings
    fa = [f for f in fa if f not in skip]
    fb = [f for f in fb if f not in skip]
    if fa != fb:
        problems.append(f'{name}: re-run wrote different files: {sorted(set(fa) ^ set(fb))[:5]}')
    n = 0
    for f in fa:
        if f not in fb:
            continue
        with open(os.path.join(a, f), 'rb') as x, open(os.path.join(b, f), 'rb') as y:
            if x.read() != y.read():
                problems.append(f'{name}: {f} differs on re-run')
        n += 1
    return n


def sharp_check(data, node_modules):
    jpgs = sorted(os.path.join(r, f) for r, _, fs in os.walk(data) for f in fs if f.endswith('.jpg'))
    with tempfile.TemporaryDirectory() as td:
        js = os.path.join(td, 'dec.js')
        with open(js, 'w') as f:
            f.write("const sharp = require(process.argv[2]); const fs = require('fs');\n"
                    "(async () => { const list = JSON.parse(fs.readFileSync(process.argv[3]));\n"
                    "  for (const [src, dst] of list) { const { data } = await sharp(src).removeAlpha().raw()"
                    ".toBuffer({ resolveWithObject: true }); fs.writeFileSync(dst, data); } })();\n")
        pairs = [(p, os.path.join(td, f'{k}.raw')) for k, p in enumerate(jpgs)]
        with open(os.path.join(td, 'list.json'), 'w') as f:
            json.dump(pairs, f)
        subprocess.check_call(['node', js, os.path.join(node_modules, 'sharp'), os.path.join(td, 'list.json')])
        differ = []
        for src, raw in pairs:
            with open(src, 'rb') as f:
                a = np.asarray(Image.open(f).convert('RGB'))
            b = np.fromfile(raw, np.uint8)
            if b.size != a.size or not np.array_equal(a.reshape(-1), b):
                differ.append(src)
    return len(jpgs), differ


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', required=True)
    ap.add_argument('--metadata', required=True)
    ap.add_argument('--weights', required=True)
    ap.add_argument('--release', required=True, help='the run_release.py --out folder to check')
    ap.add_argument('--rerun', action='append', default=[])
    ap.add_argument('--tar')
    ap.add_argument('--sharp', metavar='NODE_MODULES')
    a = ap.parse_args()
    problems, notes = [], []
    with open(os.path.join(a.release, 'manifest.json')) as f:
        man = json.load(f)
    edges = 0
    for name, rec in man['experiments'].items():
        edges += sanity(a.release, name, rec, problems, notes)
    if edges > len(man['experiments']) // 3:
        problems.append(f'BestThreshold at a grid edge in {edges} experiments')
    for name in a.rerun:
        with tempfile.TemporaryDirectory(prefix='oracle-rerun-') as td:
            cmd = [sys.executable, os.path.join(HERE, 'run_release.py'), '--data', a.data, '--metadata', a.metadata,
                   '--weights', a.weights, '--out', td, '--exp', name] + (['--tar', a.tar] if a.tar else [])
            subprocess.check_call(cmd, stdout=subprocess.DEVNULL)
            n = same_tree(os.path.join(a.release, name), os.path.join(td, name), problems, name)
            notes.append(f'{name}: re-run compared {n} files bit for bit')
    if a.sharp:
        n, differ = sharp_check(a.data, a.sharp)
        notes.append(f'sharp vs PIL: {n} JPEGs, {len(differ)} decode differently')
        if differ:
            problems.append(f'sharp and PIL decode differently: {differ[:5]}')
    for n in notes:
        print(n)
    for p in problems:
        print('PROBLEM:', p)
    print('OK' if not problems else f'{len(problems)} problem(s)')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
