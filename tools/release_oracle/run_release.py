#!/usr/bin/python3
"""Runs the authors' release (UOLwRPS, main.py unmodified) on CPU on the tiny datasets and random-weight checkpoints
made by make_data.py / make_weights.py, and records everything a comparison with uol needs.

    /usr/bin/python3 tools/release_oracle/run_release.py [--tar T] --data OUT/data --metadata OUT/metadata \\
        --weights OUT/weights --out OUT/release [--exp NAME ...] [--list] [--keep-cwd]

T defaults to <repo>/../shared/oracles/UOLwRPS-991b975.tar.gz. The tarball is extracted into a temporary directory
(nothing of it is copied into the repo); each experiment runs in its own copy of the release tree, whose cwd holds
`datasets/metadata` (-> --metadata), the checkpoint under the name main.py opens, and `cifar-10-batches-py`; it is run
through launcher.py (shims + read-only recorders, see there) with the fixed seed SEED.

Per experiment, OUT/release/<exp>/:
  command.txt    the main.py argv          seed.txt    the seed the release's randint returned
  resultval.json / resulttest.json         the release's own result files (copied from its ./results/<exp_info>/)
  args.json      the release's args dump   param.npy   w* ([K,C] float32; K=1, or 200 with --classwise on CUB)
  train_order.txt / train_ids.txt          fit images in DataLoader order / those that entered w*
  maps/<split>/<img_id>.npy, order.txt, gt_boxes.json   every map the release evaluated (float32 [crop,crop])
  load_report.json, log.txt                checkpoint load keys; the release's stdout+stderr
OUT/release/manifest.json lists every experiment run: argv, dataset, network, sizes, flags, seed, files, run time.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_TAR = os.path.join(os.path.dirname(REPO), 'shared', 'oracles', 'UOLwRPS-991b975.tar.gz')
SEED = 4242

# name -> (dataset, loc_network, extra main.py flags, image_size, crop_size, batch_size)
EXPERIMENTS = {
    'cub_mocov1_ds32': ('CUB', 'mocov1', ['--resnet_downscale', '32'], 160, 144, 4),
    'cub_mocov1_ds16': ('CUB', 'mocov1', ['--resnet_downscale', '16'], 160, 144, 4),
    'cub_dinovit': ('CUB', 'dinovit', [], 160, 144, 4),
    'cub_vgg': ('CUB', 'vgg', [], 160, 144, 4),
    'cub_mocov1_classwise': ('CUB', 'mocov1', ['--resnet_downscale', '32', '--classwise'], 160, 144, 4),
    'cub_mocov1_caam': ('CUB', 'mocov1', ['--resnet_downscale', '32', '--caam'], 160, 144, 4),
    'cub_mocov1_sr05': ('CUB', 'mocov1', ['--resnet_downscale', '32', '--sampling_ratio', '0.5'], 160, 144, 3),
    'cub_mocov1_cifar10': ('CUB', 'mocov1', ['--resnet_downscale', '32', '--base_dataset', 'CIFAR10'], 160, 144, 4),
    'aircraft_mocov1': ('AIRCRAFT', 'mocov1', ['--resnet_downscale', '16'], 160, 144, 4),
    # not in the default set: slow here (ViT-S/8 fit at 224: ~1.5 min; README's 480/448 evaluation: ~2.5 min)
    'aircraft_dinovit': ('AIRCRAFT', 'dinovit', [], 160, 144, 4),
    'cub_mocov1_ds32_448': ('CUB', 'mocov1', ['--resnet_downscale', '32'], 480, 448, 4),
}
OPTIONAL = ('aircraft_dinovit', 'cub_mocov1_ds32_448')
DEFAULT = [k for k in EXPERIMENTS if k not in OPTIONAL]
CHECKPOINT = {'mocov1': ('moco_v1_200ep_pretrain.pth.tar', 'moco_v1_200ep_pretrain.pth.tar'),
              'dinovit': (None, 'dino_deitsmall8_pretrain.pth'), 'vgg': (None, 'vgg16_bn-6c64b313.pth')}


def count_lines(path):
    with open(path) as f:
        return sum(1 for line in f if line.strip())


def train_info(args, dataset, flags):
    """(number of fit images, nclass as load_param sets it) for the fit's base dataset."""
    base = flags[flags.index('--base_dataset') + 1] if '--base_dataset' in flags else dataset
    if base == 'CUB':
        return count_lines(os.path.join(args.metadata, 'CUB', 'train', 'class_labels.txt')), 200
    if base == 'AIRCRAFT':
        return count_lines(os.path.join(args.data, 'AIRCRAFT', 'data', 'images_train_size.txt')), 0
    if base == 'CIFAR10':
        import pickle
        n = 0
        for k in range(1, 6):
            with open(os.path.join(args.data, 'cifar-10-batches-py', f'data_batch_{k}'), 'rb') as f:
                n += len(pickle.load(f, encoding='latin1')['labels'])
        return n, 10
    raise ValueError(base)


def run_one(name, args, src):
    dataset, net, flags, isz, csz, bs = EXPERIMENTS[name]
    out = os.path.abspath(os.path.join(args.out, name))
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    cwd = os.path.join(args.tmp, name)
    shutil.copytree(src, cwd, symlinks=True)
    os.symlink(os.path.abspath(args.metadata), os.path.join(cwd, 'datasets', 'metadata'))
    os.symlink(os.path.abspath(os.path.join(args.data, 'cifar-10-batches-py')), os.path.join(cwd, 'cifar-10-batches-py'))
    as_name, wfile = CHECKPOINT[net]
    wpath = os.path.abspath(os.path.join(args.weights, wfile))
    if not os.path.isfile(wpath):
        raise SystemExit(f'{wpath}: missing (run make_weights.py)')
    if as_name:
        os.symlink(wpath, os.path.join(cwd, as_name))
    argv = ['--data_dir', os.path.abspath(args.data), '--dataset', dataset, '--loc_network', net,
            '--workers', '0', '--batch_size', str(bs), '--image_size', str(isz), '--crop_size', str(csz)] + flags
    n_train, nclass = train_info(args, dataset, flags)
    cfg = dict(seed=SEED, out=out, vit_weights=wpath if net == 'dinovit' else None,
               vgg_weights=wpath if net == 'vgg' else None, cifar_root=cwd, train_len=n_train, nclass=nclass)
    cfg_path = os.path.join(cwd, 'oracle_config.json')
    with open(cfg_path, 'w') as f:
        json.dump(cfg, f)
    env = dict(os.environ, PYTHONHASHSEED='0', OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               PYTHONDONTWRITEBYTECODE='1', CUDA_VISIBLE_DEVICES='')
    cmd = [sys.executable, os.path.join(HERE, 'launcher.py'), cfg_path, 'main.py'] + argv
    t0 = time.time()
    with open(os.path.join(out, 'log.txt'), 'w') as log:
        rc = subprocess.call(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    dt = time.time() - t0
    with open(os.path.join(out, 'command.txt'), 'w') as f:
        f.write('python3 main.py ' + ' '.join(argv) + '\n')
    with open(os.path.join(out, 'seed.txt'), 'w') as f:
        f.write(f'{SEED}\n')
    if rc != 0:
        with open(os.path.join(out, 'log.txt')) as f:
            tail = f.read()[-3000:]
        raise SystemExit(f'{name}: release exited with {rc}\n{tail}')
    res_dirs = [os.path.join(cwd, 'results', d) for d in os.listdir(os.path.join(cwd, 'results'))]
    assert len(res_dirs) == 1, res_dirs
    for fn in ('resultval.json', 'resulttest.json', 'args.json'):
        p = os.path.join(res_dirs[0], fn)
        if os.path.exists(p):
            shutil.copyfile(p, os.path.join(out, fn))
    files = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    with open(os.path.join(out, 'load_report.json')) as f:
        loads = json.load(f)
    return dict(name=name, argv=argv, dataset=dataset, loc_network=net, image_size=isz, crop_size=csz, batch_size=bs,
                downscale=int(flags[flags.index('--resnet_downscale') + 1]) if '--resnet_downscale' in flags else None,
                flags=flags, seed=SEED, checkpoint=wfile, n_train=n_train, nclass=nclass,
                release_result_dir=os.path.basename(res_dirs[0]), load_report=loads,
                maps_splits=sorted(os.listdir(os.path.join(out, 'maps'))) if os.path.isdir(os.path.join(out, 'maps')) else [],
                files=[f for f in files if '/maps/' not in '/' + f and not f.startswith('maps/')] + ['maps/...'],
                seconds=round(dt, 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--tar', default=DEFAULT_TAR)
    ap.add_argument('--data')
    ap.add_argument('--metadata')
    ap.add_argument('--weights')
    ap.add_argument('--out')
    ap.add_argument('--exp', action='append', help='experiment name (repeatable; default: all but aircraft_dinovit and cub_mocov1_ds32_448)')
    ap.add_argument('--list', action='store_true', help='print the experiment names and their main.py flags')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--keep-cwd', action='store_true', help='keep the temporary release directories')
    args = ap.parse_args()
    if args.list:
        for k, (ds, net, flags, isz, csz, bs) in EXPERIMENTS.items():
            print(f'{k:22s}{" (optional)" if k in OPTIONAL else ""} --dataset {ds} --loc_network {net} --image_size {isz} --crop_size {csz} '
                  f'--batch_size {bs} {" ".join(flags)}')
        return 0
    for k in ('data', 'metadata', 'weights', 'out'):
        if not getattr(args, k):
            ap.error(f'--{k} is required')
    names = args.exp or DEFAULT
    for n in names:
        if n not in EXPERIMENTS:
            ap.error(f'unknown experiment {n!r} (see --list)')
    os.makedirs(args.out, exist_ok=True)
    args.tmp = tempfile.mkdtemp(prefix='release-oracle-')
    try:
        with tarfile.open(args.tar) as t:
            for m in t.getmembers():
                if m.name.startswith('/') or '..' in m.name.split('/') or not (m.isfile() or m.isdir()):
                    raise SystemExit(f'{args.tar}: refusing member {m.name!r}')
            t.extractall(os.path.join(args.tmp, 'src'))
        tops = os.listdir(os.path.join(args.tmp, 'src'))
        assert len(tops) == 1, tops
        src = os.path.join(args.tmp, 'src', tops[0])
        man_path = os.path.join(args.out, 'manifest.json')
        manifest = dict(tar=os.path.abspath(args.tar), release=tops[0], seed=SEED, experiments={})
        if os.path.exists(man_path):
            with open(man_path) as f:
                old = json.load(f)
            manifest['experiments'] = old.get('experiments', {})
        for n in names:
            print(f'{n} ...', flush=True)
            rec = run_one(n, args, src)
            manifest['experiments'][n] = rec
            with open(man_path, 'w') as f:
                json.dump(manifest, f, indent=1)
            res = {}
            for fn in ('resultval.json', 'resulttest.json'):
                p = os.path.join(args.out, n, fn)
                if os.path.exists(p):
                    with open(p) as f:
                        res[fn[6:-5]] = json.load(f)
            print(f'{n}: {rec["seconds"]} s {json.dumps(res)}', flush=True)
    finally:
        if args.keep_cwd:
            print('release directories kept in', args.tmp)
        else:
            shutil.rmtree(args.tmp, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
