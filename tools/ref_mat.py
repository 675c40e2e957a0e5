#!/usr/bin/python3
"""MAT-file v5 fixtures for src/data/mat.ts, written by scipy.io.savemat (Debian python3-scipy), with scipy.io.loadmat's
reading of each file as the expected JSON. Run: /usr/bin/python3 tools/ref_mat.py"""
import json
import os

import numpy as np
import scipy.io

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'spec', 'fixtures', 'data', 'mat')


def cars_struct(n):
    dt = [('bbox_x1', 'O'), ('bbox_y1', 'O'), ('bbox_x2', 'O'), ('bbox_y2', 'O'), ('class', 'O'), ('fname', 'O')]
    a = np.zeros((1, n), dtype=dt)
    for i in range(n):
        a[0, i] = (np.array([[10 + i]], np.uint8), np.array([[20 + 2 * i]], np.uint16), np.array([[300 + i]], np.uint16),
                   np.array([[200 + i]], np.uint16), np.array([[1 + i % 3]], np.uint8), np.array([f'{i + 1:05d}.jpg']))
    return a


def cellcol(strings):
    c = np.empty((len(strings), 1), dtype=object)
    for i, s in enumerate(strings):
        c[i, 0] = np.array([s])
    return c


def nested():
    inner = np.empty((1, 1), dtype=object)
    inner[0, 0] = np.array(['x'])
    c = np.empty((1, 2), dtype=object)
    c[0, 0] = np.array([[1.0, 2.0]])
    c[0, 1] = inner
    return c


def to_json(v):
    """scipy's view of a value, in the shape our accessors return."""
    if isinstance(v, np.ndarray) and v.dtype.names:
        return {'struct': [{k: to_json(e[k]) for k in v.dtype.names} for e in v.ravel(order='F')], 'dims': list(v.shape)}
    if isinstance(v, np.ndarray) and v.dtype == object:
        return {'cell': [to_json(e) for e in v.ravel(order='F')], 'dims': list(v.shape)}
    if isinstance(v, np.ndarray) and v.dtype.kind == 'U':
        return {'char': [str(s) for s in v.ravel(order='F')], 'dims': list(v.shape)}
    if isinstance(v, np.ndarray):
        if v.dtype.kind == 'c':
            return {'re': v.real.ravel(order='F').tolist(), 'im': v.imag.ravel(order='F').tolist(), 'dims': list(v.shape), 'dtype': str(v.dtype)}
        return {'num': v.astype(np.float64).ravel(order='F').tolist(), 'dims': list(v.shape), 'dtype': str(v.dtype)}
    raise TypeError(type(v))


def main():
    os.makedirs(OUT, exist_ok=True)
    variables = {
        'annotations': cars_struct(5),
        'class_names': np.array([[np.array(['AM General Hummer SUV 2000']), np.array(['Acura RL Sedan 2012']), np.array(['Ünïcødé Car'])]], dtype=object),
        'file_list': cellcol(['n02085620-Chihuahua/n02085620_5927.jpg', 'n02085782-Japanese_spaniel/n02085782_2.jpg']),
        'labels': np.array([[1.0], [2.0]]),
        'm_double': np.arange(12, dtype=np.float64).reshape(3, 4) * 0.5 - 1,
        'm_single': np.array([[1.5, -2.25, 3e10]], np.float32),
        'm_int8': np.array([[-128, 127, 0]], np.int8),
        'm_uint8': np.array([[0, 255]], np.uint8),
        'm_int16': np.array([[-32768, 32767]], np.int16),
        'm_uint16': np.array([[65535]], np.uint16),
        'm_int32': np.array([[-2147483648, 2147483647, 7]], np.int32),
        'm_uint32': np.array([[4294967295]], np.uint32),
        'm_int64': np.array([[-2 ** 40, 2 ** 40]], np.int64),
        'm_uint64': np.array([[2 ** 50]], np.uint64),
        'm_logical': np.array([[True, False, True]]),
        'm_complex': np.array([[1 + 2j, -3.5 - 0.5j]]),
        'm_charmat': np.array(['abc', 'def']),
        'm_empty': np.zeros((0, 0)),
        'm_nested': nested(),
        'm_3d': np.arange(24, dtype=np.float64).reshape(2, 3, 4),
    }
    expected = {}
    for compress in (False, True):
        name = f'vars_{"z" if compress else "raw"}.mat'
        scipy.io.savemat(os.path.join(OUT, name), variables, do_compression=compress, oned_as='row')
        got = scipy.io.loadmat(os.path.join(OUT, name))
        expected[name] = {k: to_json(v) for k, v in got.items() if not k.startswith('__')}
    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump(expected, f, indent=0, ensure_ascii=False)
    # v4 and v7.3-like headers must be refused clearly
    scipy.io.savemat(os.path.join(OUT, 'v4.mat'), {'a': np.ones((2, 2))}, format='4')
    print('wrote', OUT)


main()
