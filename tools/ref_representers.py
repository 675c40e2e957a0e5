#!/usr/bin/python3
"""Independent numpy/scipy reference for the representer-point path (docs/method.md §1, §3; src/rps/optimize.ts).

Run with Debian's interpreter:  /usr/bin/python3 tools/ref_representers.py spec/fixtures/representers

Nothing here imports the code under test. Everything is float64. For each case it writes:
  features/<stem>.npy        training feature maps, float32 [h,w,C] (small)
  test/<stem>.npy            test feature maps, float32 [h,w,C]
  expected/meta.json         N, c = |v|/|u|, parameter sets, reference optimum facts
  expected/norms.npy         |f_i| over all N training points (sorted stems, row-major positions)   [N]
  expected/w_cf.npy          closed-form w* = normalise(v/|v| - u/|u|)                              [C]
  expected/alpha_cf.npy      representer weights of w*, normalised frame: alpha_i = (|f_i|/c - 1)/|sum_j (|f_j|/c - 1) f^_j|,
                             so that sum_i alpha_i f^_i = w*                                          [N]
  expected/<p>/labels.npy    soft labels y_i = sigmoid(kappa (|f_i|/c - 1))                           [N]
  expected/<p>/w_raw.npy     logistic optimum of J(w) = mean_i [softplus(t w.f^_i) - y_i t w.f^_i] + lam |w|^2
                             (scipy L-BFGS-B, then Newton polish)                                             [C]
  expected/<p>/alpha_raw.npy alpha_i = -(1/2 lam N) dL_i/dyhat_i = t (y_i - p_i) / (2 lam N)          [N]
  expected/<p>/rv_<stem>.npy representer values of the unit-norm w = w_raw/|w_raw| for each test position:
                             RV[i, q] = (alpha_i/|w_raw|) <f^_i, f^_q>                              [N, h*w]
  expected/cf/rv_<stem>.npy  the same for the closed form (alpha_cf)                                  [N, h*w]
  expected/<p>/raw_<stem>.npy, expected/cf/raw_<stem>.npy  raw scores <w_unit, f^_q> of the test map   [h*w]
where <p> names a parameter set (lambda, scale t, kappa).

Case "small" also has a class-wise reference (labels.csv, lines stem,classIndex): for each class k, over the points of
class-k images only (N_k points, c_k = |v_k|/|u_k| from them), the closed form w*_k and the logistic optimum of
J_k(w) = mean_{i in k} [softplus(t w.f^_i) - y_i t w.f^_i] + lam |w|^2 with y_i = sigmoid(kappa (|f_i|/c_k - 1)):
  expected/classwise.json    {classes: [{index, N, c, w_cf: [C], <p>: {w_raw: [C], wNorm, objective, residual}}]}
"""
import json
import os
import sys

import numpy as np
import scipy.optimize as so

EPS = 1e-12


def normalize(f):
    n = np.sqrt((f ** 2).sum(-1, keepdims=True))
    return f / np.maximum(n, EPS)


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def realistic_map(rng, h, w, C, fg_dir):
    """ReLU'd sparse features; high-norm positions lean towards a shared foreground direction; one zero position."""
    base = np.maximum(rng.standard_normal((h, w, C)) - 0.5, 0)
    base = base / np.maximum(np.linalg.norm(base, axis=-1, keepdims=True), 1e-9)
    scale = rng.uniform(0, 100, size=(h, w, 1))
    f = base + (scale / 100.0) * fg_dir * 1.5
    f = f / np.linalg.norm(f, axis=-1, keepdims=True) * scale
    f[0, 0, :] = 0.0
    return f.astype(np.float32)


def logistic_optimum(fh, y, lam, t):
    N, C = fh.shape

    def J(w):
        z = t * (fh @ w)
        L = np.logaddexp(0.0, z) - y * z
        g = fh.T @ (t * (sigmoid(z) - y)) / N + 2 * lam * w
        return L.mean() + lam * (w @ w), g

    r = so.minimize(J, np.zeros(C), jac=True, method='L-BFGS-B',
                    options=dict(gtol=1e-13, ftol=1e-17, maxiter=20000, maxcor=30))
    w = r.x
    # Newton polish in float64 (exact Hessian; C is small): takes the optimum to machine precision.
    for _ in range(8):
        z = t * (fh @ w)
        p = sigmoid(z)
        g = fh.T @ (t * (p - y)) / N + 2 * lam * w
        H = (fh * (t * t * p * (1 - p))[:, None]).T @ fh / N + 2 * lam * np.eye(C)
        w = w - np.linalg.solve(H, g)
    z = t * (fh @ w)
    alpha = t * (y - sigmoid(z)) / (2 * lam * N)
    res = np.linalg.norm(w - fh.T @ alpha) / np.linalg.norm(w)
    return w, alpha, float(J(w)[0]), float(res), int(r.nit)


def write_case(root, name, feats, tests, params):
    d = os.path.join(root, name)
    for sub in ['features', 'test', 'expected/cf']:
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    stems = sorted(feats)
    for s in stems:
        np.save(os.path.join(d, 'features', s + '.npy'), feats[s])
    for s in sorted(tests):
        np.save(os.path.join(d, 'test', s + '.npy'), tests[s])
    C = feats[stems[0]].shape[-1]
    F = np.concatenate([feats[s].reshape(-1, C).astype(np.float64) for s in stems])
    N = F.shape[0]
    norms = np.linalg.norm(F, axis=1)
    fh = normalize(F)
    v, u = F.mean(0), fh.mean(0)
    c = np.linalg.norm(v) / np.linalg.norm(u)
    w_cf = v / np.linalg.norm(v) - u / np.linalg.norm(u)
    w_cf /= np.linalg.norm(w_cf)
    s = norms / c - 1.0
    agg = fh.T @ s
    alpha_cf = s / np.linalg.norm(agg)
    assert np.linalg.norm(fh.T @ alpha_cf - w_cf) < 1e-9, 'representer form of the closed form'
    np.save(os.path.join(d, 'expected', 'norms.npy'), norms)
    np.save(os.path.join(d, 'expected', 'w_cf.npy'), w_cf)
    np.save(os.path.join(d, 'expected', 'alpha_cf.npy'), alpha_cf)
    meta = {'N': int(N), 'channels': int(C), 'c': float(c), 'stems': stems,
            'grids': {s: list(feats[s].shape[:2]) for s in stems}, 'tests': sorted(tests), 'params': {}}

    def rv_out(sub, wu, alpha_unit, tol):
        for ts in sorted(tests):
            q = normalize(tests[ts].reshape(-1, C).astype(np.float64))
            rv = alpha_unit[:, None] * (fh @ q.T)
            raw = q @ wu
            assert np.abs(rv.sum(0) - raw).max() < tol, np.abs(rv.sum(0) - raw).max()
            np.save(os.path.join(d, 'expected', sub, f'rv_{ts}.npy'), rv)
            np.save(os.path.join(d, 'expected', sub, f'raw_{ts}.npy'), raw)

    rv_out('cf', w_cf, alpha_cf, 1e-12)
    for pname, (lam, t, kappa) in params.items():
        os.makedirs(os.path.join(d, 'expected', pname), exist_ok=True)
        y = sigmoid(kappa * (norms / c - 1.0))
        w, alpha, J, res, nit = logistic_optimum(fh, y, lam, t)
        nw = np.linalg.norm(w)
        np.save(os.path.join(d, 'expected', pname, 'labels.npy'), y)
        np.save(os.path.join(d, 'expected', pname, 'w_raw.npy'), w)
        np.save(os.path.join(d, 'expected', pname, 'alpha_raw.npy'), alpha)
        assert res < 1e-12, f'reference optimum not converged: residual {res}'
        rv_out(pname, w / nw, alpha / nw, 2 * res + 1e-12)
        meta['params'][pname] = {'lambda': lam, 'scale': t, 'kappa': kappa, 'objective': J, 'wNorm': float(nw),
                                 'residual': res, 'iterations': nit,
                                 'cosineToClosedForm': float(w @ w_cf / nw)}
    with open(os.path.join(d, 'expected', 'meta.json'), 'w') as fh_:
        json.dump(meta, fh_, indent=1)


CLASS_LABELS = {'train_00': 7, 'train_01': 3, 'train_02': 7, 'train_03': 3, 'train_04': 7}


def write_classwise(root, name, feats, labels, params):
    d = os.path.join(root, name)
    with open(os.path.join(d, 'labels.csv'), 'w') as fh_:
        fh_.write(''.join(f'{s},{k}\n' for s, k in sorted(labels.items())))
    C = feats[next(iter(feats))].shape[-1]
    out = []
    for k in sorted(set(labels.values())):
        stems = sorted(s for s in feats if labels[s] == k)
        F = np.concatenate([feats[s].reshape(-1, C).astype(np.float64) for s in stems])
        norms = np.linalg.norm(F, axis=1)
        fh = normalize(F)
        v, u = F.mean(0), fh.mean(0)
        c = np.linalg.norm(v) / np.linalg.norm(u)
        w_cf = v / np.linalg.norm(v) - u / np.linalg.norm(u)
        w_cf /= np.linalg.norm(w_cf)
        entry = {'index': k, 'N': int(F.shape[0]), 'c': float(c), 'w_cf': w_cf.tolist()}
        for pname, (lam, t, kappa) in params.items():
            y = sigmoid(kappa * (norms / c - 1.0))
            w, _alpha, J, res, _nit = logistic_optimum(fh, y, lam, t)
            assert res < 1e-12, f'class {k}: reference optimum not converged: residual {res}'
            entry[pname] = {'w_raw': w.tolist(), 'wNorm': float(np.linalg.norm(w)), 'objective': J, 'residual': res}
        out.append(entry)
    with open(os.path.join(d, 'expected', 'classwise.json'), 'w') as fh_:
        json.dump({'labels': 'labels.csv', 'classes': out}, fh_, indent=1)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else 'spec/fixtures/representers'
    rng = np.random.default_rng(20230904)
    params = {'default': (1e-3, 1.0, 5.0), 'alt': (2e-2, 2.0, 3.0)}
    # Case "small": 5 training maps of mixed grid sizes, C = 24; two test maps.
    C = 24
    fg = np.abs(rng.standard_normal(C))
    fg /= np.linalg.norm(fg)
    grids = [(4, 5), (3, 3), (5, 4), (4, 4), (2, 6)]
    feats = {f'train_{i:02d}': realistic_map(rng, h, w, C, fg) for i, (h, w) in enumerate(grids)}
    tests = {'test_a': realistic_map(rng, 4, 4, C, fg), 'test_b': realistic_map(rng, 3, 5, C, fg)}
    write_case(out, 'small', feats, tests, params)
    write_classwise(out, 'small', feats, CLASS_LABELS, params)
    # Case "wide": C = 384, 4 maps of 5x5, one test map.
    C = 384
    fg = np.abs(rng.standard_normal(C))
    fg /= np.linalg.norm(fg)
    feats = {f'img_{i:03d}': realistic_map(rng, 5, 5, C, fg) for i in range(4)}
    tests = {'test_a': realistic_map(rng, 4, 4, C, fg)}
    write_case(out, 'wide', feats, tests, {'default': params['default']})
    print('wrote', out)


if __name__ == '__main__':
    main()
