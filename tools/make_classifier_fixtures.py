#!/usr/bin/python3
"""Classifier forward references for spec/classify.spec.ts, from the authors' release's own model code.

Run with Debian's interpreter:
    /usr/bin/python3 tools/make_classifier_fixtures.py --out spec/fixtures/classify          # tiny models, committed
    /usr/bin/python3 tools/make_classifier_fixtures.py --full --out /tmp/x                  # full size, at test time

The release (../shared/oracles/UOLwRPS-991b975.tar.gz, or --release DIR) is extracted to a temporary folder and its
models/cubresnet.py and models/vit_classifier.py are imported as they are; nothing of it is copied here. Weights are
random (seeded) with non-trivial BatchNorm statistics, in the checkpoint layouts main.py loads:
  - cub_resnet50: cubresnet.ResNet state dict under `module.` (main.py's chpt_loader.module = classifier), i.e.
    `module.base_model.*`; tiny: the torchvision ResNet inside shrunk to stem width 4, layers [1,1,1,1], 10 classes;
  - torchvision_resnet50 (--full only): torchvision.models.resnet50() state dict, flat keys with fc;
  - dino_vits8_linear: vit_classifier.vit_small(8) backbone state dict (flat DINO keys, as the hub file) and the linear
    head as {'state_dict': {'module.linear.weight', 'module.linear.bias'}} (dino_deitsmall8_linearweights.pth layout);
    tiny: embed 32, depth 5, 2 heads, patch 8, 4x4 position grid, 10 classes (head 4*32 -> 10).
Inputs are NHWC float32 (already normalised) in inputs_<name>.npy; expected logits ([B,K] float32) in
logits_<name>.npy; manifest.json lists files, configs and input shapes. Nothing here imports the code under test.
"""
import argparse
import glob
import json
import os
import sys
import tarfile
import tempfile
from functools import partial

import numpy as np
import torch
import torch.nn as nn
import torchvision
from torchvision.models.resnet import Bottleneck


def release_dir(given):
    if given:
        return given
    here = os.path.dirname(os.path.abspath(__file__))
    tgz = os.path.join(here, '..', '..', 'shared', 'oracles', 'UOLwRPS-991b975.tar.gz')
    if not os.path.exists(tgz):
        tgz = '/work/shared/oracles/UOLwRPS-991b975.tar.gz'
    tmp = tempfile.mkdtemp(prefix='uol-release-')
    with tarfile.open(tgz) as t:
        t.extractall(tmp)
    return glob.glob(os.path.join(tmp, 'UOLwRPS-*'))[0]


def randomize(model, gen):
    """Seeded random weights with moderate scales; BatchNorm statistics and affine parameters non-trivial."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) * (1.0 / fan_in) ** 0.5)
            elif name.endswith('weight'):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))


def tiny_torchvision_resnet(width, classes):
    """torchvision's ResNet (its forward) with every module shrunk: stem `width`, one Bottleneck per stage."""
    r = torchvision.models.resnet.ResNet(Bottleneck, [1, 1, 1, 1], num_classes=classes)
    r.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
    r.bn1 = nn.BatchNorm2d(width)
    inpl = width
    for s in range(4):
        planes = width * 2 ** s
        stride = 1 if s == 0 else 2
        down = nn.Sequential(nn.Conv2d(inpl, planes * 4, 1, stride, bias=False), nn.BatchNorm2d(planes * 4))
        setattr(r, f'layer{s + 1}', nn.Sequential(Bottleneck(inpl, planes, stride, down)))
        inpl = planes * 4
    r.fc = nn.Linear(inpl, classes)
    return r


def save_case(out, name, files, x_nhwc, logits, extra, manifest):
    np.save(os.path.join(out, f'inputs_{name}.npy'), x_nhwc.astype(np.float32))
    np.save(os.path.join(out, f'logits_{name}.npy'), logits.astype(np.float32))
    manifest[name] = {'files': files, 'input': list(x_nhwc.shape), 'classes': int(logits.shape[1]), **extra}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--release')
    ap.add_argument('--full', action='store_true')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rel = release_dir(a.release)
    sys.path.insert(0, rel)
    import models.cubresnet as cubresnet  # noqa: E402  (the release's file)
    import models.vit_classifier as vitc  # noqa: E402  (the release's file)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(12345)
    manifest = {}

    # --- cub_resnet50 (release cubresnet.ResNet, checkpoint keys module.base_model.*) ---
    cls = cubresnet.ResNet(False, n_class=200 if a.full else 10)
    if not a.full:
        cls.base_model = tiny_torchvision_resnet(4, 10)
        cls.base_model.avgpool = nn.AdaptiveAvgPool2d((1, 1))
    randomize(cls, gen)
    cls.eval()
    wrapper = nn.Module()
    wrapper.module = cls
    f = 'cub_resnet50.pth.tar'
    torch.save(wrapper.state_dict(), os.path.join(a.out, f))
    side = 224 if a.full else 48
    x = torch.randn((2, 3, side, side), generator=gen)
    with torch.no_grad():
        y = cls(x).numpy()
    arch = {} if a.full else {'archConfig': {'layers': [1, 1, 1, 1], 'width': 4}}
    save_case(a.out, 'cub_resnet50', [f], x.permute(0, 2, 3, 1).numpy(), y, arch, manifest)

    # --- torchvision_resnet50 (full only: flat torchvision keys incl. fc) ---
    if a.full:
        tv = torchvision.models.resnet50()
        randomize(tv, gen)
        tv.eval()
        f = 'torchvision_resnet50.pth'
        torch.save(tv.state_dict(), os.path.join(a.out, f))
        x = torch.randn((1, 3, 224, 224), generator=gen)
        with torch.no_grad():
            y = tv(x).numpy()
        save_case(a.out, 'torchvision_resnet50', [f], x.permute(0, 2, 3, 1).numpy(), y, {}, manifest)

    # --- dino_vits8_linear (release vit_classifier: CLS of the last 4 blocks -> module.linear) ---
    if a.full:
        vit = vitc.vit_small(8)
        C, K, side = 384, 1000, 224
        extra = {}
    else:
        C, K, side = 32, 10, 40  # 5x5 patch grid against a 4x4 position grid: interpolated position embeddings
        vit = vitc.VisionTransformer(patch_size=8, embed_dim=C, depth=5, num_heads=2, mlp_ratio=4, qkv_bias=True,
                                     norm_layer=partial(nn.LayerNorm, eps=1e-6), img_size=[32])
        vit.module.linear = nn.Linear(4 * C, K)
        extra = {'archConfig': {'embedDim': C, 'depth': 5, 'heads': 2}}
    randomize(vit, gen)
    with torch.no_grad():
        vit.pos_embed.mul_(0.5)
    vit.eval()
    sd = vit.state_dict()
    backbone = {k: v for k, v in sd.items() if not k.startswith('module.') and not k.startswith('head.')}
    head = {'state_dict': {k: v for k, v in sd.items() if k.startswith('module.linear.')}}
    fb, fh = 'dino_vits8_backbone.pth', 'dino_vits8_linearweights.pth'
    torch.save(backbone, os.path.join(a.out, fb))
    torch.save(head, os.path.join(a.out, fh))
    x = torch.randn((2, 3, side, side), generator=gen)
    with torch.no_grad():
        y = vit(x).numpy()
    save_case(a.out, 'dino_vits8_linear', [fb, fh], x.permute(0, 2, 3, 1).numpy(), y, extra, manifest)

    with open(os.path.join(a.out, 'manifest.json'), 'w') as fo:
        json.dump({'generatedBy': 'tools/make_classifier_fixtures.py', 'torch': torch.__version__,
                   'torchvision': torchvision.__version__, 'cases': manifest}, fo, indent=1)
    print(json.dumps({k: v['files'] for k, v in manifest.items()}))


if __name__ == '__main__':
    main()
