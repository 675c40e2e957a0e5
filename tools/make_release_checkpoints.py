#!/usr/bin/python3
"""Random-weight checkpoints in exactly the layouts the authors' release (UOLwRPS main.py) loads, and what the
release's own loading does with them: for spec/release-checkpoints.spec.ts (generated at test time, nothing committed).

Run with Debian's interpreter:  /usr/bin/python3 tools/make_release_checkpoints.py OUTDIR [--release-src DIR]

For every --loc_network of main.py this writes the file main.py opens, under the same name, holding what the
training recipe saves (the backbone plus the extras the release never loads: momentum encoders, queues, heads,
optimizer state, argparse options) at small width with the real parameter names (tools/backbone_ref.py: ResNet stem
width 2, layers [2,1,1,1]; ViT C=16, depth 2, 2 heads, patch 8, 4x4 position grid; VGG-BN widths 4..8). Then it
reproduces main.py's load: a fresh module nested as main.py nests it (chpt_loader.module.encoder_q = model, …),
`torch.load(file)[container]`, `load_state_dict(…, strict=False)`, and records torch's missing / unexpected keys, the
keys it loaded, and the features of the loaded module (ResNet at --resnet_downscale 16 and, for CCAM, 8; layer3 ‖
layer4 for CCAM) on a fixed random input. Broken variants (broken/…): tensors absent, a mis-shaped tensor, the
container absent, and SupContrast's own DDP key layout (which the release's nesting does not match: it loads nothing).
With --release-src (the extracted release), the small modules are checked against the release's own classes: the same
parameter names at full size (models/resnet.py resnet50 with and without ccam, models/vggtf.py make_layers,
models/vit.py vit_small(8)) and, for ResNet-50 ccam at downscale 16, the same features for the same weights.
manifest.json lists every case. Nothing here imports the code under test.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backbone_ref as R  # noqa: E402

RES_CFG = {'width': 2, 'layers': [2, 1, 1, 1]}
VIT_CFG = {'embedDim': 16, 'depth': 2, 'heads': 2, 'posGrid': 4}
VGG_CFG = [4, 4, 'M', 4, 4, 'M', 8, 8, 8, 'M', 8, 8, 8, 'N', 8, 8, 8, 'N']
INPUTS = {'resnet': (72, 56), 'vit': (40, 24), 'vgg': (48, 40)}


class ReleaseResNet(R.SmallResNet):
    """The release's models/resnet.py ResNet (no fc; strides [1, 2, 1+(ds>=16), 1+(ds==32)]; ccam = cat(layer3, layer4))."""

    def __init__(self, w, layers, downscale=16, ccam=False):
        super().__init__(w, tuple(layers), downscale)
        self.ccam = ccam

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x3 = self.layer3(self.layer2(self.layer1(x)))
        x4 = self.layer4(x3)
        return torch.cat([x3, x4], 1) if self.ccam else x4


class ReleaseVgg(nn.Module):
    """vggcamtf's inner module: `features` only (classifier keys of the torchvision file are ignored)."""

    def __init__(self, cfg):
        super().__init__()
        self.features = R.make_vgg_layers(cfg)

    def forward(self, x):
        return self.features(x)


class ReleaseVit(R.DinoViT):
    def forward(self, x):
        return self.features(x).permute(0, 3, 1, 2)


def make_module(family, ds=16, ccam=False):
    if family == 'resnet':
        return ReleaseResNet(RES_CFG['width'], RES_CFG['layers'], ds, ccam)
    if family == 'vit':
        return ReleaseVit(16, 2, 2, 8, img_size=32)
    return ReleaseVgg(VGG_CFG)


# main.py lines 113-209: file, container key (None = the saved object), nesting (attribute path of the module), family.
NETS = {
    'mocov1': ('moco_v1_200ep_pretrain.pth.tar', 'state_dict', ['module', 'encoder_q'], 'resnet'),
    'mocov2': ('moco_r50_v2-e3b0c442.pth', 'state_dict', [], 'resnet'),
    'mocov3': ('linear-1000ep.pth.tar', 'state_dict', ['module'], 'resnet'),
    'detcoAA': ('detco_200ep_AA.pth', 'state_dict', [], 'resnet'),
    'detco': ('detco_200ep.pth', 'state_dict', [], 'resnet'),
    'dinor50': ('dino_resnet50_pretrain.pth', None, [], 'resnet'),
    'dinovit': ('dino_deitsmall8_pretrain.pth', None, [], 'vit'),
    'densecl': ('densecl_r50_imagenet_200ep.pth', 'state_dict', [], 'resnet'),
    'byol': ('byol.pth.tar', None, [], 'resnet'),
    'superr50': ('resnet50-19c8e357.pth', None, [], 'resnet'),
    'vgg': ('vgg16_bn-6c64b313.pth', None, [], 'vgg'),
    'simsiam': ('simsiam256.pth.tar', 'state_dict', ['module', 'encoder'], 'resnet'),
    'supcon': ('supcon.pth', 'model', ['module', 'encoder'], 'resnet'),
    'ccam': ('current_epoch_5.pth', 'state_dict', ['backbone'], 'resnet'),
    'daol': ('dawsol_ilsvrc_res.tar', 'state_dict_extractor', [], 'resnet'),
}


def nest(model, path):
    """main.py's chpt_loader: nn.Module()s with `model` at attribute path `path` ([] = the model itself)."""
    if not path:
        return model
    root = nn.Module()
    cur = root
    for i, name in enumerate(path):
        setattr(cur, name, model if i == len(path) - 1 else nn.Module())
        cur = getattr(cur, name)
    return root


def pre(prefix, sd):
    return {prefix + k: v for k, v in sd.items()}


def trained(family, seed, ccam=False):
    m = make_module(family, ccam=ccam)
    small = {k[: -len('.weight')] for k in m.state_dict() if k.endswith('bn3.weight')}
    return R.randomize(m, seed, small).state_dict()


def release_payload(name, A, B):
    """What the training recipe saved: the backbone A (plus a momentum copy B where the recipe has one) and extras."""
    opt = {'state': {}, 'param_groups': [{'lr': 0.03, 'momentum': 0.9, 'params': [0, 1]}]}
    fc = {'fc.weight': torch.randn(4, 64), 'fc.bias': torch.randn(4)}
    if name == 'mocov1':
        return {'epoch': 200, 'arch': 'resnet50', 'optimizer': opt, 'state_dict': {
            **pre('module.encoder_q.', {**A, **fc}), **pre('module.encoder_k.', {**B, **fc}),
            'module.queue': torch.randn(4, 16), 'module.queue_ptr': torch.zeros(1, dtype=torch.long)}}
    if name in ('mocov2', 'densecl'):
        return {'state_dict': dict(A), 'author': 'OpenSelfSup' if name == 'mocov2' else 'DenseCL'}
    if name == 'mocov3':
        return {'epoch': 100, 'arch': 'resnet50', 'best_acc1': torch.tensor(74.6), 'optimizer': opt,
                'state_dict': pre('module.', {**A, **fc})}
    if name in ('detco', 'detcoAA'):
        return {'meta': {'epoch': 200}, 'state_dict': dict(A)}
    if name == 'dinor50':
        return dict(A)
    if name == 'byol':
        return {k: v for k, v in {**A, **fc}.items() if not k.endswith('num_batches_tracked')}
    if name == 'superr50':
        return {**A, **fc}
    if name == 'vgg':
        return {**A, 'classifier.0.weight': torch.randn(5, 8), 'classifier.0.bias': torch.randn(5)}
    if name == 'dinovit':
        return dict(A)
    if name == 'simsiam':
        proj = {'fc.0.weight': torch.randn(8, 64), 'fc.1.weight': torch.ones(8), 'fc.1.bias': torch.zeros(8),
                'fc.1.running_mean': torch.zeros(8), 'fc.1.running_var': torch.ones(8), 'fc.3.weight': torch.randn(4, 8)}
        return {'epoch': 100, 'arch': 'resnet50', 'optimizer': opt, 'state_dict': {
            **pre('module.encoder.', {**A, **proj}), 'module.predictor.0.weight': torch.randn(4, 4)}}
    if name == 'supcon':
        return {'opt': argparse.Namespace(model='resnet50', temp=0.1), 'epoch': 1000, 'optimizer': opt, 'model': {
            **pre('module.encoder.', A), 'module.head.0.weight': torch.randn(8, 64), 'module.head.0.bias': torch.randn(8)}}
    if name == 'ccam':
        return {'epoch': 5, 'optimizer': opt, 'state_dict': {
            **pre('backbone.', A), 'ac_head.conv.weight': torch.randn(1, 96, 1, 1), 'ac_head.bn.weight': torch.ones(1)}}
    if name == 'daol':
        return {'epoch': 10, 'state_dict_extractor': dict(A), 'state_dict_classifier': fc}
    raise KeyError(name)


def release_load(path, container, nesting, family, ccam=False, seed=99):
    """main.py's load of `path` into a fresh module: torch's missing / unexpected keys, loaded keys, the module."""
    torch.manual_seed(seed)
    model = make_module(family, ccam=ccam)
    loader = nest(model, nesting)
    # The release's torch predates weights_only (torch >= 2.6 defaults to True, which refuses the argparse options).
    ck = torch.load(path, map_location='cpu', weights_only=False)
    sd = ck if container is None else ck[container]
    res = loader.load_state_dict(sd, strict=False)
    own = set(loader.state_dict().keys())
    return {'loaded': [k for k in sd if k in own], 'ignored': list(res.unexpected_keys), 'missing': list(res.missing_keys)}, model


def features(model, x, ds=None):
    if ds is not None:
        ref = ReleaseResNet(RES_CFG['width'], RES_CFG['layers'], ds, model.ccam)
        ref.load_state_dict(model.state_dict())
        model = ref
    model.eval()
    with torch.no_grad():
        return model(x).permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32)


def check_release_classes(src):
    """The small modules' names and semantics against the release's own classes (full size)."""
    sys.path.insert(0, src)
    import io
    import contextlib
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            from models import resnet as rr, vggtf, vit as rv  # noqa: E402
    except ImportError as e:  # e.g. a torchvision without the private module the release imports
        return {'skipped': f'cannot import the release\'s models: {e}'}
    out = {}
    with contextlib.redirect_stdout(io.StringIO()):
        rel = rr.resnet50(resnet_downscale=16, ccam=True)
    ours = ReleaseResNet(64, [3, 4, 6, 3], 16, True)
    out['resnet50_keys_equal'] = list(rel.state_dict().keys()) == list(ours.state_dict().keys())
    R.randomize(ours, 3)
    rel.load_state_dict(ours.state_dict())
    rel.eval()
    ours.eval()
    x = torch.randn(1, 3, 64, 48, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = rel(x), ours(x)
    out['resnet50_ccam_ds16_shape'] = list(a.shape)
    out['resnet50_ccam_ds16_max_abs_diff'] = float((a - b).abs().max())
    vgg_rel = vggtf.make_layers(vggtf.cfg['vggcam16'], batch_norm=True)
    vgg_ours = R.make_vgg_layers(vggtf.cfg['vggcam16'])
    out['vgg16_keys_equal'] = list(vgg_rel.state_dict().keys()) == list(vgg_ours.state_dict().keys())
    out['vgg16_layers_equal'] = [repr(type(m)) + (repr((m.kernel_size, m.stride, m.padding)) if isinstance(m, nn.MaxPool2d) else '')
                                 for m in vgg_rel] == [repr(type(m)) + (repr((m.kernel_size, m.stride, m.padding)) if isinstance(m, nn.MaxPool2d) else '')
                                                       for m in vgg_ours]
    vit_rel = rv.vit_small(patch_size=8)
    vit_ours = R.DinoViT(384, 12, 6, 8, img_size=224)
    out['vit_small8_keys_equal'] = sorted(vit_rel.state_dict().keys()) == sorted(vit_ours.state_dict().keys())
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out')
    ap.add_argument('--release-src', help='extracted UOLwRPS release: check the small modules against its classes')
    a = ap.parse_args()
    out = a.out
    os.makedirs(os.path.join(out, 'broken'), exist_ok=True)
    torch.manual_seed(0)
    rng = np.random.default_rng(11)
    inputs = {}
    for fam, (h, w) in INPUTS.items():
        x = rng.standard_normal((1, h, w, 3)).astype(np.float32)
        np.save(os.path.join(out, f'input_{fam}.npy'), x)
        inputs[fam] = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    archcfg = {'resnet': RES_CFG, 'vit': VIT_CFG, 'vgg': {'cfg': VGG_CFG}}
    cases = []
    for i, (name, (file, container, nesting, family)) in enumerate(NETS.items()):
        ccam = name == 'ccam'
        A = trained(family, 10 + i, ccam)
        B = trained(family, 50 + i, ccam)
        path = os.path.join(out, file)
        torch.save(release_payload(name, A, B), path)
        rep, model = release_load(path, container, nesting, family, ccam)
        feats = {}
        for ds in ([16, 8] if ccam else [16]) if family == 'resnet' else [None]:
            y = features(model, inputs[family], ds)
            fn = f'expected_{name}{"" if ds is None else f"_ds{ds}"}.npy'
            np.save(os.path.join(out, fn), y)
            feats[str(ds or 0)] = fn
        cases.append({'network': name, 'file': file, 'family': family, 'archConfig': archcfg[family], 'expect': 'ok',
                      **rep, 'features': feats, 'input': f'input_{family}.npy'})

    def broken(name, payload, note, family='resnet'):
        file, container, nesting, _ = NETS[name]
        path = os.path.join(out, 'broken', file)
        torch.save(payload, path)
        c = {'network': name, 'file': f'broken/{file}', 'family': family, 'archConfig': archcfg[family], 'note': note}
        try:
            rep, _ = release_load(path, container, nesting, family, name == 'ccam')
            c.update(rep)
            c['torchRaised'] = None
        except (KeyError, RuntimeError) as e:
            c['torchRaised'] = f'{type(e).__name__}: {str(e).strip()[:300]}'
        cases.append(c)

    A = trained('resnet', 200)
    fc = {'fc.weight': torch.randn(4, 64), 'fc.bias': torch.randn(4)}
    byol = {k: v for k, v in {**A, **fc}.items() if not k.endswith('num_batches_tracked') and k not in ('layer4.0.conv2.weight', 'layer1.0.bn1.running_var')}
    broken('byol', byol, 'two tensors absent: the release runs with them at init')
    broken('supcon', {'epoch': 1000, 'model': {**pre('encoder.module.', A), 'head.0.weight': torch.randn(8, 64)}},
           "SupContrast's own DDP layout (encoder.module.*): the release's module.encoder nesting loads nothing")
    broken('daol', {'state_dict': dict(A)}, "container 'state_dict_extractor' absent")
    bad = dict(A)
    bad['layer4.0.conv1.weight'] = torch.randn(3, 64, 1, 1)
    broken('ccam', {'state_dict': pre('backbone.', bad)}, 'a mis-shaped tensor')

    manifest = {'cases': cases}
    if a.release_src:
        manifest['releaseClasses'] = check_release_classes(a.release_src)
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
    print(f'{len(cases)} cases')


if __name__ == '__main__':
    main()
