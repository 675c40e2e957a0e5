#!/usr/bin/python3
"""Runs the authors' release `main.py` unmodified as `__main__`, after installing CPU shims and read-only recorders.

Used by run_release.py (not meant to be called by hand):
    cd <prepared release cwd> && /usr/bin/python3 launcher.py CONFIG.json main.py [main.py args...]

CONFIG.json: {"seed": int, "out": dir, "vit_weights": file|null, "vgg_weights": file|null,
              "cifar_root": dir|null, "sampling_ratio": float, "classwise": bool}

Shims (behaviour the release needs from a machine it was not written for; each changes nothing the method computes):
  - `torch.Tensor.cuda` / `torch.nn.Module.cuda` -> identity (CPU only);
  - `random.randint` -> returns `seed` for the release's single module-level call `sd=random.randint(1000,10000)`
    (then restored), so `seed_everything(sd)` and hence the DataLoader shuffle order are reproducible;
  - `torch.hub.load('facebookresearch/dino:main', 'dino_vits8')` -> an object whose `.state_dict()` is the local
    file (the release only calls `.state_dict()` on it); any other hub call is refused;
  - `torchvision.models.vgg16_bn(pretrained=True)` -> torchvision's `features` (make_layers(cfgs['D'], bn)) loaded
    strictly from the local file (the release only copies `features.*` out of it);
  - `matplotlib.pyplot` (imported by func.py, used only by its colormap helper for --save_image) -> a stub module
    that raises on use, when matplotlib is not installed (Debian's python3 here has none);
  - release `datasets/cifar.py` hard-codes `root="/data1/cifar/"` and md5-checks the real CIFAR files: the root is
    mapped to `cifar_root` (VisionDataset.__init__) and `check_integrity` becomes "the file exists".
Recorders (wrap, call through, return the original's result unchanged):
  - `validation.load_param` -> OUT/param.npy ([K,C] float32, first call = the fit; the second call reads the cache);
  - the train datasets' `__getitem__` while load_param runs -> OUT/train_order.txt (`id,label` in the order the fit's
    DataLoader fetched them) and OUT/train_ids.txt (those that entered w*, derived from the order with the release's
    own rules: the first floor(N*r) for the mean; for --classwise the per-class quota);
  - `validation.localization` / `validation.evaluation` -> OUT/maps/<split>/<img_id>.npy (float32 [crop,crop], the
    normalised, upsampled map the release thresholds), OUT/maps/<split>/order.txt (`img_id` in evaluation order),
    OUT/maps/<split>/gt_boxes.json (the resized GT boxes the release compares with);
  - `torch.nn.Module.load_state_dict` -> OUT/load_report.json (missing / unexpected keys of every load).
"""
import json
import os
import random
import runpy
import sys


def main():
    cfg_path, script = sys.argv[1], sys.argv[2]
    with open(cfg_path) as f:
        cfg = json.load(f)
    out = cfg['out']
    os.makedirs(out, exist_ok=True)
    sys.argv = [script] + sys.argv[3:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))

    import numpy as np
    import torch
    import torch.nn as nn
    import torchvision

    # ---- shims -------------------------------------------------------------------------------------------------
    try:
        import matplotlib.pyplot  # noqa: F401  (func.py imports it; only its --save_image colormap uses it)
    except ImportError:
        import types

        def _absent(name):
            raise RuntimeError(f'release oracle: matplotlib is not installed (pyplot.{name} used)')
        mpl, plt = types.ModuleType('matplotlib'), types.ModuleType('matplotlib.pyplot')
        plt.__getattr__ = _absent
        mpl.pyplot = plt
        sys.modules['matplotlib'], sys.modules['matplotlib.pyplot'] = mpl, plt
    torch.Tensor.cuda = lambda self, *a, **k: self
    nn.Module.cuda = lambda self, *a, **k: self

    real_randint = random.randint

    def fixed_randint(a, b):
        random.randint = real_randint
        assert (a, b) == (1000, 10000), (a, b)
        return int(cfg['seed'])
    random.randint = fixed_randint

    class HubModel:
        def __init__(self, path):
            self.path = path

        def state_dict(self):
            return torch.load(self.path, map_location='cpu')

    def hub_load(repo, model, *a, **k):
        if (repo, model) != ('facebookresearch/dino:main', 'dino_vits8') or not cfg.get('vit_weights'):
            raise RuntimeError(f'release oracle: torch.hub.load({repo!r}, {model!r}) has no local shim')
        return HubModel(cfg['vit_weights'])
    torch.hub.load = hub_load

    def vgg16_bn(pretrained=False, **k):
        if not pretrained or not cfg.get('vgg_weights'):
            raise RuntimeError('release oracle: vgg16_bn shim expects pretrained=True and a local file')
        m = nn.Module()
        m.features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs['D'], batch_norm=True)
        m.load_state_dict(torch.load(cfg['vgg_weights'], map_location='cpu'), strict=True)
        return m
    torchvision.models.vgg16_bn = vgg16_bn

    from torchvision.datasets.vision import VisionDataset
    real_vd_init = VisionDataset.__init__

    def vd_init(self, root, *a, **k):
        if root == '/data1/cifar/' and cfg.get('cifar_root'):
            root = cfg['cifar_root']
        real_vd_init(self, root, *a, **k)
    VisionDataset.__init__ = vd_init

    import datasets.cifar as rcifar
    rcifar.check_integrity = lambda fpath, md5=None: os.path.isfile(fpath)

    # ---- recorders ---------------------------------------------------------------------------------------------
    loads = []
    real_lsd = nn.Module.load_state_dict

    def lsd(self, state_dict, strict=True):
        res = real_lsd(self, state_dict, strict)
        loads.append(dict(module=type(self).__name__, strict=bool(strict), n_keys=len(state_dict),
                          missing=list(res.missing_keys), unexpected=list(res.unexpected_keys)))
        return res
    nn.Module.load_state_dict = lsd

    import validation as V
    state = dict(in_fit=False, order=[], split=None, maps={})

    train_classes = [V.Cub2011, V.AIRCRAFT, V.CIFAR10, V.Cars]
    for cls in train_classes:
        real_get = cls.__getitem__

        def getitem(self, idx, _real=real_get):
            r = _real(self, idx)
            if state['in_fit']:
                state['order'].append((str(r[2]), int(r[3])))
            return r
        cls.__getitem__ = getitem

    real_load_param = V.load_param

    def load_param(args, loc, cls=None):
        first = not os.path.exists(os.path.join(out, 'param.npy'))
        state['in_fit'] = True
        state['order'] = []
        try:
            p = real_load_param(args, loc, cls)
        finally:
            state['in_fit'] = False
        if first:
            np.save(os.path.join(out, 'param.npy'), p.detach().cpu().numpy().astype(np.float32))
            write_train(args, state['order'])
        return p
    V.load_param = load_param

    def write_train(args, order):
        with open(os.path.join(out, 'train_order.txt'), 'w') as f:
            f.writelines(f'{i},{lab}\n' for i, lab in order)
        if not order:
            return  # parameter cache hit: nothing fetched
        n = cfg['train_len']
        r = args.sampling_ratio
        if args.classwise:
            import math
            nclass = cfg['nclass']
            spc = math.floor(n * r / nclass)
            cnt = {}
            used = []
            for i, lab in order:
                if spc < 10 and cnt.get(lab, 0) > spc:
                    continue
                cnt[lab] = cnt.get(lab, 0) + 1
                used.append((i, lab))
        else:
            import math
            used = order[:math.floor(n * r)]
        with open(os.path.join(out, 'train_ids.txt'), 'w') as f:
            f.writelines(f'{i}\n' for i, _ in used)

    real_evaluation = V.evaluation

    def evaluation(img, img_id, attmap, bbox, args, topk, act_threshold, savename=None):
        split = state['split']
        d = os.path.join(out, 'maps', split)
        os.makedirs(d, exist_ok=True)
        rec = state['maps'].setdefault(split, dict(order=[], boxes={}))
        for b in range(attmap.shape[0]):
            iid = str(img_id[b])
            np.save(os.path.join(d, iid + '.npy'), np.ascontiguousarray(attmap[b, :, :, 0], dtype=np.float32))
            rec['order'].append(iid)
            rec['boxes'][iid] = np.frombuffer(bbox[b], np.float32).reshape(-1, 4).tolist()
        return real_evaluation(img, img_id, attmap, bbox, args, topk, act_threshold, savename)
    V.evaluation = evaluation

    real_localization = V.localization

    def localization(data_loader, networks, args, *a, **k):
        ds = data_loader.dataset
        split = getattr(ds, 'split', None) or getattr(ds, 'train', None)
        state['split'] = split if isinstance(split, str) else 'test'
        return real_localization(data_loader, networks, args, *a, **k)
    V.localization = localization

    # ---- run the release ---------------------------------------------------------------------------------------
    try:
        runpy.run_path(script, run_name='__main__')
    finally:
        with open(os.path.join(out, 'load_report.json'), 'w') as f:
            json.dump(loads, f, indent=1)
        for split, rec in state['maps'].items():
            d = os.path.join(out, 'maps', split)
            with open(os.path.join(d, 'order.txt'), 'w') as f:
                f.writelines(f'{i}\n' for i in rec['order'])
            with open(os.path.join(d, 'gt_boxes.json'), 'w') as f:
                json.dump(rec['boxes'], f, indent=0)


if __name__ == '__main__':
    main()
