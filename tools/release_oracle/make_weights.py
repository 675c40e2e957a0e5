#!/usr/bin/python3
"""Seeded random-weight checkpoints in the file names and layouts the authors' release loads.

Run with Debian's interpreter:  /usr/bin/python3 tools/release_oracle/make_weights.py OUT/weights

Files (torch 1.13 `torch.save`, zip format):
  moco_v1_200ep_pretrain.pth.tar   {'epoch', 'arch', 'state_dict': {'module.encoder_q.<resnet50 keys incl. fc.weight
                                   [128,2048], fc.bias>', 'module.encoder_k.<same>' (different values), 'module.queue'
                                   [128,4096], 'module.queue_ptr'}} — MoCo v1's layout (the real queue has 65536
                                   columns; shortened, nothing reads it). The release loads encoder_q into its ResNet-50.
                                   uol: `uol convert F --arch resnet50 --key-map moco`.
  dino_deitsmall8_pretrain.pth     the DINO ViT-S/8 backbone state dict, exactly the keys of torch.hub's
                                   `dino_vits8` model (`vit_small(patch_size=8, num_classes=0)`: no head).
                                   Served by the harness's torch.hub.load shim.
                                   uol: `uol convert F --arch vit_small --patch 8 --key-map dino`.
  vgg16_bn-6c64b313.pth            (torchvision's file name) torchvision `vgg16_bn` state dict, `features.*` keys only (the classifier is 120M
                                   parameters nobody reads: the release keeps only `features`). Served by the
                                   harness's `torchvision.models.vgg16_bn(pretrained=True)` shim.
                                   uol: `uol convert F --arch vgg16_bn --key-map torchvision`.
  weights.json                     seeds, shapes, sha256 of each file, and the structure checks below.

Random but well-structured: convolutions Kaiming-normal (fan_out), BN affine near (1, 0) with the last BN of each
residual branch at 0.3, then every BN's running statistics are *calibrated* on the repo's photos (one forward pass in
train mode with cumulative averaging over data/*.jpg resized to 224x224, ImageNet-normalised), so in eval mode each
BN output is ~N(beta, gamma^2) on natural images: activations neither vanish nor explode and deep features keep image
structure. The ViT uses Linear weights N(0, 0.6/fan_in), block LayerNorm affine near (1, 0), a small position
embedding, and a heavy-tailed final LayerNorm affine (see make_vit).
"""
import argparse
import glob
import hashlib
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MEAN = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)


def photos(size=224):
    xs = []
    for f in sorted(glob.glob(os.path.join(REPO, 'data', '*.jpg'))):
        with open(f, 'rb') as fh:
            im = Image.open(fh).convert('RGB').resize((size, size), Image.BILINEAR)
        xs.append(torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.).permute(2, 0, 1))
    return (torch.stack(xs) - MEAN) / STD


def init_cnn(model, seed, small_bn=()):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1]
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * math.sqrt(2.0 / fan_out))
                if m.bias is not None:
                    m.bias.copy_((torch.rand(m.bias.shape, generator=g) * 2 - 1) * 0.05)
            elif isinstance(m, nn.BatchNorm2d):
                base = 0.3 if name in small_bn else 1.0
                m.weight.copy_(base * (1 + 0.2 * (torch.rand(m.weight.shape, generator=g) * 2 - 1)))
                m.bias.copy_(0.1 * (torch.rand(m.bias.shape, generator=g) * 2 - 1))
            elif isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) / math.sqrt(m.in_features))
                m.bias.copy_(0.01 * torch.randn(m.bias.shape, generator=g))


def calibrate_bn(forward, model, x):
    """Sets each BN's running mean/var to the statistics of its input on x (cumulative average, one pass)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        forward(x)
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 0.1 if m.momentum is None else m.momentum


def resnet_layer4(m, x):
    x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
    return m.layer4(m.layer3(m.layer2(m.layer1(x))))


def make_resnet(seed, x):
    m = torchvision.models.resnet50(weights=None)
    small = {n for n, _ in m.named_modules() if n.endswith('bn3')}
    init_cnn(m, seed, small)
    calibrate_bn(lambda t: resnet_layer4(m, t), m, x)
    return m


def make_vgg(seed, x):
    # torchvision's vgg16_bn without its 120M-parameter classifier (same `features.*` names and shapes)
    m = nn.Module()
    m.features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs['D'], batch_norm=True)
    init_cnn(m.features, seed)
    # the release's localisation variant replaces the last two 2x2 max-pools by 3x3 stride-1 ones; calibrate on it
    feats = nn.Sequential(*[nn.MaxPool2d(3, 1, 1) if (isinstance(l, nn.MaxPool2d) and i in (33, 43)) else l
                            for i, l in enumerate(m.features)])
    calibrate_bn(feats, feats, x)
    return m


def vit_keys(depth=12):
    keys = ['cls_token', 'pos_embed', 'patch_embed.proj.weight', 'patch_embed.proj.bias']
    for i in range(depth):
        for k in ('norm1.weight', 'norm1.bias', 'attn.qkv.weight', 'attn.qkv.bias', 'attn.proj.weight',
                  'attn.proj.bias', 'norm2.weight', 'norm2.bias', 'mlp.fc1.weight', 'mlp.fc1.bias',
                  'mlp.fc2.weight', 'mlp.fc2.bias'):
            keys.append(f'blocks.{i}.{k}')
    return keys + ['norm.weight', 'norm.bias']


def make_vit(seed, dim=384, depth=12, patch=8, grid=28):
    """DINO ViT-S/8 backbone state dict (hub dino_vits8 key set and shapes)."""
    g = torch.Generator().manual_seed(seed)
    shapes = {'cls_token': (1, 1, dim), 'pos_embed': (1, 1 + grid * grid, dim),
              'patch_embed.proj.weight': (dim, 3, patch, patch), 'patch_embed.proj.bias': (dim,),
              'norm.weight': (dim,), 'norm.bias': (dim,)}
    for i in range(depth):
        p = f'blocks.{i}.'
        shapes.update({p + 'norm1.weight': (dim,), p + 'norm1.bias': (dim,), p + 'attn.qkv.weight': (3 * dim, dim),
                       p + 'attn.qkv.bias': (3 * dim,), p + 'attn.proj.weight': (dim, dim), p + 'attn.proj.bias': (dim,),
                       p + 'norm2.weight': (dim,), p + 'norm2.bias': (dim,), p + 'mlp.fc1.weight': (4 * dim, dim),
                       p + 'mlp.fc1.bias': (4 * dim,), p + 'mlp.fc2.weight': (dim, 4 * dim), p + 'mlp.fc2.bias': (dim,)})
    sd = {}
    for k in vit_keys(depth):
        s = shapes[k]
        if k.endswith('norm1.weight') or k.endswith('norm2.weight') or k == 'norm.weight':
            t = 1 + 0.2 * (torch.rand(s, generator=g) * 2 - 1)
        elif k == 'pos_embed':
            t = 0.1 * torch.randn(s, generator=g)
        elif k == 'cls_token':
            t = 0.5 * torch.randn(s, generator=g)
        elif k.endswith('.weight'):
            fan_in = int(np.prod(s[1:]))
            t = torch.randn(s, generator=g) * math.sqrt(0.6 / fan_in)
        else:
            t = 0.05 * torch.randn(s, generator=g)
        sd[k] = t.float().contiguous()
    # The final LayerNorm's affine decides how token norms vary, hence whether w* (which contrasts the norm-weighted
    # and the plain mean direction) is positive anywhere on an image. With near-(1, 0) values several maps of the
    # tiny data were <= 0 everywhere (the release then divides 0 by 0: NaN maps). Heavy-tailed gamma and spread beta,
    # from a generator seed picked by a search over 300 so that every CUB and Aircraft eval map has a positive
    # maximum with margin (>= 0.15 of a unit-norm cosine) on make_data.py's images.
    gn = torch.Generator().manual_seed(109)
    sd['norm.weight'] = torch.exp(torch.randn(dim, generator=gn)).float()
    sd['norm.bias'] = (0.5 * torch.randn(dim, generator=gn)).float()
    return sd


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for b in iter(lambda: f.read(1 << 20), b''):
            h.update(b)
    return h.hexdigest()


def stats(name, feat):
    """Structure checks of a [N,C,h,w] feature batch: finite, scale, spatial variation, distinct map levels."""
    f = feat.float()
    assert torch.isfinite(f).all(), name
    flat = f.reshape(f.shape[0], f.shape[1], -1)
    sal = flat.norm(dim=1)                                   # [N, hw] feature norm per position
    rel_spatial = float((sal.std(dim=1) / sal.mean(dim=1)).mean())
    levels = [len(np.unique(np.round(s.numpy() / (s.max().item() + 1e-12) * 255))) for s in sal]
    return dict(name=name, shape=list(f.shape), mean=float(f.mean()), std=float(f.std()),
                frac_zero=float((f == 0).float().mean()), rel_spatial_std_of_norm=rel_spatial,
                min_distinct_levels=int(min(levels)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('out')
    ap.add_argument('--seed', type=int, default=1234)
    ap.add_argument('--only', choices=['moco', 'vit', 'vgg'], action='append')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(a.seed)
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    x = photos()
    info = dict(generator='tools/release_oracle/make_weights.py', seed=a.seed, files={}, checks=[])
    prev = os.path.join(a.out, 'weights.json')
    if a.only and os.path.exists(prev):   # keep the entries of the files not rebuilt
        with open(prev) as f:
            old = json.load(f)
        if old.get('seed') == a.seed:
            info['files'] = old.get('files', {})
            info['checks'] = old.get('checks', [])
    which = a.only or ['moco', 'vit', 'vgg']

    if 'moco' in which:
        q = make_resnet(a.seed + 1, x)
        k = make_resnet(a.seed + 2, x)
        sd = {}
        for pre, m in (('module.encoder_q.', q), ('module.encoder_k.', k)):
            msd = m.state_dict()
            # MoCo v1's fc is Linear(2048, 128)
            g = torch.Generator().manual_seed(a.seed + 3)
            msd['fc.weight'] = torch.randn(128, 2048, generator=g) / math.sqrt(2048)
            msd['fc.bias'] = torch.zeros(128)
            for kk, v in msd.items():
                sd[pre + kk] = v.clone()
        g = torch.Generator().manual_seed(a.seed + 4)
        sd['module.queue'] = nn.functional.normalize(torch.randn(128, 4096, generator=g), dim=0)
        sd['module.queue_ptr'] = torch.zeros(1, dtype=torch.long)
        path = os.path.join(a.out, 'moco_v1_200ep_pretrain.pth.tar')
        torch.save({'epoch': 200, 'arch': 'resnet50', 'state_dict': sd}, path)
        with torch.no_grad():
            info['checks'] = [c for c in info['checks'] if not c['name'].startswith('resnet50')]
            info['checks'].append(stats('resnet50 layer4 stride 32', resnet_layer4(q, x)))
        info['files']['moco_v1_200ep_pretrain.pth.tar'] = dict(
            kind='MoCo v1 checkpoint', seed_q=a.seed + 1, seed_k=a.seed + 2, sha256=sha256(path),
            uol_convert='uol convert moco_v1_200ep_pretrain.pth.tar --arch resnet50 --key-map moco')
        del q, k, sd

    if 'vit' in which:
        sd = make_vit(a.seed + 5)
        path = os.path.join(a.out, 'dino_deitsmall8_pretrain.pth')
        torch.save(sd, path)
        info['files']['dino_deitsmall8_pretrain.pth'] = dict(
            kind='DINO ViT-S/8 backbone state dict (torch.hub dino_vits8 keys)', seed=a.seed + 5, sha256=sha256(path),
            uol_convert='uol convert dino_deitsmall8_pretrain.pth --arch vit_small --patch 8 --key-map dino')

    if 'vgg' in which:
        m = make_vgg(a.seed + 6, x)
        sd = {kk: v for kk, v in m.state_dict().items() if kk.startswith('features.')}
        path = os.path.join(a.out, 'vgg16_bn-6c64b313.pth')
        torch.save(sd, path)
        info['files']['vgg16_bn-6c64b313.pth'] = dict(
            kind='torchvision vgg16_bn state dict, features.* only', seed=a.seed + 6, sha256=sha256(path),
            uol_convert='uol convert vgg16_bn-6c64b313.pth --arch vgg16_bn --key-map torchvision')
    with open(os.path.join(a.out, 'weights.json'), 'w') as f:
        json.dump(info, f, indent=1)
    for c in info['checks']:
        print(c)
    return 0


if __name__ == '__main__':
    sys.exit(main())
