#!/usr/bin/python3
"""Tiny checkpoints saved by torch in every layout the converter supports, with PyTorch features to compare against:
fixtures for spec/backbones-checkpoints.spec.ts.

Run with Debian's interpreter:  /usr/bin/python3 tools/make_checkpoints.py spec/fixtures/backbones/ckpt

Models are small-width versions of the real architectures with the real parameter names (tools/backbone_ref.py):
ViT (DINO semantics) C=16, depth 2, 2 heads, patch 8, 4×4 position grid; DINOv2 C=16, patch 7, with 2 registers and
without; bottleneck ResNet stem width 2, layers [2,1,1,1]; VGG-BN localization config with widths 4..8.
Files (torch 1.13 `torch.save`; `_legacy` = `_use_new_zipfile_serialization=False`):
  - DINO backbone state dicts (zip, legacy), a DINO full checkpoint (student ≠ teacher, optimizer, argparse args),
    float16 / bfloat16 copies, non-contiguous views (transposed, permuted, sliced with offsets, stride-0 expand) in
    both formats, safetensors (float32, and float16+bfloat16) written by hand from the format description;
  - MoCo v1 (zip) / v2 (legacy) with encoder_q ≠ encoder_k, MoCo v3, SimSiam, DenseCL (mmselfsup and extracted),
    BYOL (flat, no num_batches_tracked), torchvision (with fc), DINO-R50 (flat, no fc), VGG16-BN torchvision layout;
  - broken ones: a missing, an extra and a mis-shaped tensor;
  - hostile pickles that would run `touch <marker>` (os.system via torch.save zip and legacy, a bare pickle naming
    `os system`, a protocol-4 STACK_GLOBAL `builtins eval`): this script proves they are live by loading the zip one
    with torch.load in a child process and seeing the marker appear, then deletes the marker.
expected/dino_vit_attn.npy is the last block's softmaxed attention of dino_vit_zip.pth on the ViT input.
For each loadable file, expected/<name>.npy holds the reference model's features ([1,h,w,C] float32) with exactly the
tensors torch.load returns (cast to float32), on the family's input inputs/<family>.npy. manifest.json lists it all.
Nothing here imports the code under test.
"""
import argparse
import json
import os
import pickle
import struct
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backbone_ref as R  # noqa: E402

MARKER = '/tmp/uol-rps-hostile-pickle-ran'

VIT = dict(arch='vit_small', archConfig={'embedDim': 16, 'depth': 2, 'heads': 2}, patch=8)
V2 = dict(arch='dinov2_small', archConfig={'embedDim': 16, 'depth': 2, 'heads': 2})
RES = dict(arch='resnet50', archConfig={'width': 2, 'layers': [2, 1, 1, 1]})
VGG_CFG = [4, 4, 'M', 4, 4, 'M', 8, 8, 8, 'M', 8, 8, 8, 'N', 8, 8, 8, 'N']
VGG = dict(arch='vgg16_bn', archConfig={'cfg': VGG_CFG})
INPUTS = {'vit': (40, 24), 'dinov2': (35, 21), 'resnet': (72, 56), 'vgg': (48, 40)}


def new_vit(seed):
    return R.randomize(R.DinoViT(16, 2, 2, 8, img_size=32), seed)


def new_v2(seed, registers):
    return R.randomize(R.DinoViT(16, 2, 2, 7, img_size=28, dinov2=True, registers=registers), seed)


def new_resnet(seed, fc=None):
    m = R.SmallResNet(2, (2, 1, 1, 1), fc=fc)
    small = {k[: -len('.weight')] for k in m.state_dict() if k.endswith('bn3.weight')}
    return R.randomize(m, seed, small)


def new_vgg(seed):
    return R.randomize(R.SmallVgg(VGG_CFG), seed)


def features(family, model, x):
    with torch.no_grad():
        if family in ('vit', 'dinov2'):
            return model.features(x)
        if family == 'resnet':
            return model.features(x)
        return model.forward_features(x)


def fresh(family):
    return {'vit': lambda: R.DinoViT(16, 2, 2, 8, img_size=32),
            'dinov2': None,
            'resnet': lambda: R.SmallResNet(2, (2, 1, 1, 1)),
            'vgg': lambda: R.SmallVgg(VGG_CFG)}[family]


def reference_from(sd, family, registers=0):
    """A fresh reference model loaded with `sd` (already stripped to backbone keys), float32."""
    if family == 'dinov2':
        m = R.DinoViT(16, 2, 2, 7, img_size=28, dinov2=True, registers=registers)
    else:
        m = fresh(family)()
    own = m.state_dict()
    load = {k: v.float() for k, v in sd.items() if k in own}
    missing, unexpected = m.load_state_dict(load, strict=False)
    assert all(k.endswith('num_batches_tracked') or k == 'mask_token' for k in missing), missing
    m.eval()
    return m


def write_safetensors(path, tensors):
    """safetensors by the format description: u64 LE header length, JSON header, data block."""
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        t = t.contiguous()
        if t.dtype == torch.float32:
            dt, b = 'F32', t.numpy().astype('<f4').tobytes()
        elif t.dtype == torch.float16:
            dt, b = 'F16', t.numpy().astype('<f2').tobytes()
        elif t.dtype == torch.bfloat16:
            dt, b = 'BF16', t.view(torch.int16).numpy().astype('<i2').tobytes()
        else:
            raise ValueError(t.dtype)
        header[k] = {'dtype': dt, 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header['__metadata__'] = {'format': 'pt'}
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class Hostile:
    def __reduce__(self):
        return (os.system, (f'touch {MARKER}',))


def views_state(sd):
    """The same values as non-contiguous tensors sharing storages."""
    sd = {k: v.clone() for k, v in sd.items()}
    C = sd['norm.weight'].shape[0]
    w = sd['blocks.0.attn.qkv.weight']                       # [3C, C]
    sd['blocks.0.attn.qkv.weight'] = w.t().contiguous().t()  # stride (1, 3C)
    pe = sd['patch_embed.proj.weight']                       # [C,3,p,p]
    sd['patch_embed.proj.weight'] = pe.permute(2, 3, 1, 0).contiguous().permute(3, 2, 0, 1)
    buf = torch.cat([torch.zeros(5), sd['blocks.0.attn.qkv.bias'], sd['norm.weight'], torch.zeros(3)])
    sd['blocks.0.attn.qkv.bias'] = buf[5:5 + 3 * C]          # offset 5 into a shared storage
    sd['norm.weight'] = buf[5 + 3 * C:5 + 4 * C]
    sd['norm.bias'] = torch.tensor([0.05]).expand(C)         # stride 0
    sd['blocks.1.mlp.fc1.weight'] = sd['blocks.1.mlp.fc1.weight'].t().contiguous().t()
    return sd


def main(out):
    torch.manual_seed(0)
    for d in ('', 'expected', 'inputs'):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    rng = np.random.default_rng(7)
    inputs = {}
    for fam, (h, w) in INPUTS.items():
        x = rng.standard_normal((1, h, w, 3)).astype(np.float32)
        np.save(os.path.join(out, 'inputs', f'{fam}.npy'), x)
        inputs[fam] = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    manifest = []

    def save(name, obj, legacy=False):
        torch.save(obj, os.path.join(out, name), _use_new_zipfile_serialization=not legacy)

    def ok(name, fam, spec, key_map, backbone_sd, registers=0, note=''):
        m = reference_from(backbone_sd, fam, registers)
        y = features(fam, m, inputs[fam]).contiguous().numpy().astype(np.float32)
        np.save(os.path.join(out, 'expected', f'{os.path.splitext(name)[0]}.npy'), y)
        manifest.append({'file': name, 'family': fam, **spec, 'keyMap': key_map, 'expect': 'ok',
                         'features': f'expected/{os.path.splitext(name)[0]}.npy', 'input': f'inputs/{fam}.npy', 'note': note})

    def bad(name, spec, error, note=''):
        manifest.append({'file': name, **spec, 'expect': 'error', 'error': error, 'note': note})

    # ---------------------------------------------------------------- ViT (DINO)
    A = new_vit(1).state_dict()
    B = new_vit(2).state_dict()
    save('dino_vit_zip.pth', A)
    ok('dino_vit_zip.pth', 'vit', VIT, 'dino', A, note='flat backbone state dict, zip')
    with torch.no_grad():
        attn = reference_from(A, 'vit').last_selfattention(inputs['vit']).contiguous().numpy().astype(np.float32)
    np.save(os.path.join(out, 'expected', 'dino_vit_attn.npy'), attn)
    save('dino_vit_legacy.pth', A, legacy=True)
    ok('dino_vit_legacy.pth', 'vit', VIT, 'dino', A, note='flat backbone state dict, legacy format')
    head = {'mlp.0.weight': torch.randn(16, 16), 'mlp.0.bias': torch.randn(16), 'last_layer.weight_g': torch.ones(8, 1),
            'last_layer.weight_v': torch.randn(8, 16)}
    full = {
        'student': {**{f'module.backbone.{k}': v for k, v in B.items()}, **{f'module.head.{k}': v for k, v in head.items()}},
        'teacher': {**{f'backbone.{k}': v for k, v in A.items()}, **{f'head.{k}': v.clone() for k, v in head.items()}},
        'optimizer': {'state': {0: {'exp_avg': torch.randn(4), 'step': 10}}, 'param_groups': [{'lr': 5e-4, 'params': [0]}]},
        'epoch': 100,
        'args': argparse.Namespace(arch='vit_small', patch_size=8, lr=0.0005, out_dim=65536, use_fp16=True,
                                   local_crops_scale=(0.05, 0.4), dist_url='env://'),
        'dino_loss': {'center': torch.randn(1, 8)},
        'fp16_scaler': {'scale': 65536.0, 'growth_factor': 2.0, 'backoff_factor': 0.5, 'growth_interval': 2000, '_growth_tracker': 5},
    }
    save('dino_vit_full.pth', full)
    ok('dino_vit_full.pth', 'vit', VIT, 'dino-teacher', A, note='DINO full checkpoint: teacher backbone (student differs)')
    H = {k: v.half() for k, v in A.items()}
    save('dino_vit_fp16.pth', H)
    ok('dino_vit_fp16.pth', 'vit', VIT, 'dino', H, note='float16 tensors')
    BF = {k: v.bfloat16() for k, v in A.items()}
    save('dino_vit_bf16_legacy.pth', BF, legacy=True)
    ok('dino_vit_bf16_legacy.pth', 'vit', VIT, 'dino', BF, note='bfloat16 tensors, legacy format')
    Vw = views_state(A)
    save('dino_vit_views.pth', Vw)
    ok('dino_vit_views.pth', 'vit', VIT, 'dino', Vw, note='non-contiguous views (transposed, permuted, offsets, stride 0), zip')
    save('dino_vit_views_legacy.pth', Vw, legacy=True)
    ok('dino_vit_views_legacy.pth', 'vit', VIT, 'dino', Vw, note='non-contiguous views, legacy format')
    write_safetensors(os.path.join(out, 'dino_vit.safetensors'), A)
    ok('dino_vit.safetensors', 'vit', VIT, 'dino', A, note='safetensors F32')
    mixed = {k: (v.half() if i % 2 == 0 else v.bfloat16()) for i, (k, v) in enumerate(A.items())}
    write_safetensors(os.path.join(out, 'dino_vit_f16_bf16.safetensors'), mixed)
    ok('dino_vit_f16_bf16.safetensors', 'vit', VIT, 'dino', mixed, note='safetensors F16 and BF16')
    miss = {k: v for k, v in A.items() if k != 'blocks.1.mlp.fc2.bias'}
    save('dino_vit_missing.pth', miss)
    bad('dino_vit_missing.pth', VIT, 'missing tensor "blocks.1.mlp.fc2.bias"')
    extra = {**A, 'blocks.0.attn.extra_weight': torch.randn(3)}
    save('dino_vit_extra.pth', extra)
    bad('dino_vit_extra.pth', VIT, 'unexpected tensor "blocks.0.attn.extra_weight"')
    mis = {**A, 'norm.weight': torch.randn(31)}
    save('dino_vit_misshaped.pth', mis)
    bad('dino_vit_misshaped.pth', VIT, 'tensor "norm.weight" has shape [31], expected [16]')
    bad('dino_vit_zip.pth', {**VIT, 'patch': 16}, 'patch size 8, but `patch` 16 was given')

    # ---------------------------------------------------------------- DINOv2
    D2 = new_v2(3, 2).state_dict()
    save('dinov2_reg.pth', D2)
    ok('dinov2_reg.pth', 'dinov2', V2, 'dino', D2, registers=2, note='DINOv2 with 2 registers and mask_token')
    D0 = new_v2(4, 0).state_dict()
    D0_nomask = {k: v for k, v in D0.items() if k != 'mask_token'}
    write_safetensors(os.path.join(out, 'dinov2_noreg.safetensors'), D0_nomask)
    ok('dinov2_noreg.safetensors', 'dinov2', V2, 'dino', D0_nomask, note='DINOv2 without registers, no mask_token')

    # ---------------------------------------------------------------- ResNet
    RA = new_resnet(5).state_dict()
    RB = new_resnet(6).state_dict()
    mlp_fc = {'fc.0.weight': torch.randn(8, 64), 'fc.0.bias': torch.randn(8), 'fc.2.weight': torch.randn(4, 8), 'fc.2.bias': torch.randn(4)}
    lin_fc = {'fc.weight': torch.randn(4, 64), 'fc.bias': torch.randn(4)}
    opt = {'state': {}, 'param_groups': [{'lr': 0.03, 'momentum': 0.9, 'params': [0, 1]}]}
    moco2 = {'epoch': 200, 'arch': 'resnet50', 'optimizer': opt, 'state_dict': {
        **{f'module.encoder_q.{k}': v for k, v in {**RA, **mlp_fc}.items()},
        **{f'module.encoder_k.{k}': v for k, v in {**RB, **mlp_fc}.items()},
        'module.queue': torch.randn(4, 16), 'module.queue_ptr': torch.zeros(1, dtype=torch.long)}}
    save('moco_v2_legacy.pth.tar', moco2, legacy=True)
    ok('moco_v2_legacy.pth.tar', 'resnet', RES, 'moco', RA, note='MoCo v2 (legacy format): encoder_q, MLP fc dropped')
    moco1 = {'epoch': 200, 'arch': 'resnet50', 'optimizer': opt, 'state_dict': {
        **{f'module.encoder_q.{k}': v for k, v in {**RA, **lin_fc}.items()},
        **{f'module.encoder_k.{k}': v for k, v in {**RB, **lin_fc}.items()},
        'module.queue': torch.randn(4, 16), 'module.queue_ptr': torch.zeros(1, dtype=torch.long)}}
    save('moco_v1.pth.tar', moco1)
    ok('moco_v1.pth.tar', 'resnet', RES, 'moco', RA, note='MoCo v1 (zip)')
    mocov3 = {'epoch': 100, 'arch': 'resnet50', 'optimizer': opt, 'scaler': {'scale': 1024.0, '_growth_tracker': 3},
              'state_dict': {**{f'module.base_encoder.{k}': v for k, v in {**RA, **mlp_fc}.items()},
                             **{f'module.momentum_encoder.{k}': v for k, v in {**RB, **mlp_fc}.items()},
                             'module.predictor.0.weight': torch.randn(8, 4)}}
    save('mocov3.pth.tar', mocov3)
    ok('mocov3.pth.tar', 'resnet', RES, 'mocov3', RA, note='MoCo v3: base_encoder')
    simsiam = {'epoch': 100, 'arch': 'resnet50', 'optimizer': opt, 'state_dict': {
        **{f'module.encoder.{k}': v for k, v in {**RA, 'fc.0.weight': torch.randn(8, 64), 'fc.1.weight': torch.ones(8),
                                                  'fc.1.bias': torch.zeros(8), 'fc.1.running_mean': torch.zeros(8),
                                                  'fc.1.running_var': torch.ones(8), 'fc.3.weight': torch.randn(4, 8)}.items()},
        'module.predictor.0.weight': torch.randn(4, 4)}}
    save('simsiam.pth.tar', simsiam)
    ok('simsiam.pth.tar', 'resnet', RES, 'simsiam', RA, note='SimSiam: encoder, projector fc.* dropped')
    mm = {'meta': {'mmselfsup_version': '1.0.0', 'epoch': 200}, 'state_dict': {
        **{f'backbone.{k}': v for k, v in RA.items()}, 'neck.mlp.0.weight': torch.randn(8, 64), 'head.weight': torch.randn(4)}}
    save('densecl_mmselfsup.pth', mm)
    ok('densecl_mmselfsup.pth', 'resnet', RES, 'densecl', RA, note='DenseCL via mmselfsup: backbone.*')
    ext = {'state_dict': dict(RA), 'author': 'DenseCL'}
    save('densecl_extracted.pth', ext)
    ok('densecl_extracted.pth', 'resnet', RES, 'densecl', RA, note='DenseCL extracted backbone')
    byol = {k: v for k, v in {**RA, **lin_fc}.items() if not k.endswith('num_batches_tracked')}
    save('byol_converted.pth', byol)
    ok('byol_converted.pth', 'resnet', RES, 'torchvision', byol, note='BYOL converted: flat, fc kept, no num_batches_tracked (auto picks the torchvision map: same rule)')
    tv = {**RA, **lin_fc}
    save('torchvision_resnet.pth', tv)
    ok('torchvision_resnet.pth', 'resnet', RES, 'torchvision', tv, note='torchvision supervised: fc dropped')
    save('dino_resnet.pth', RA)
    ok('dino_resnet.pth', 'resnet', RES, 'dino', RA, note='DINO ResNet-50 backbone file (no fc)')
    for ds in (16, 8):
        m = R.SmallResNet(2, (2, 1, 1, 1), downscale=ds)
        m.load_state_dict(RA)
        m.eval()
        y = features('resnet', m, inputs['resnet']).contiguous().numpy()
        np.save(os.path.join(out, 'expected', f'dino_resnet_ds{ds}.npy'), y)

    # ---------------------------------------------------------------- VGG
    VA = new_vgg(8).state_dict()
    save('vgg16bn_torchvision.pth', VA)
    ok('vgg16bn_torchvision.pth', 'vgg', VGG, 'torchvision', VA, note='torchvision vgg16_bn layout, classifier dropped')

    # ---------------------------------------------------------------- hostile pickles
    if os.path.exists(MARKER):
        os.remove(MARKER)
    save('hostile_zip.pth', {'model': Hostile()})
    save('hostile_legacy.pth', {'model': Hostile()}, legacy=True)
    with open(os.path.join(out, 'hostile_os_system.pkl'), 'wb') as f:
        # protocol 2: GLOBAL 'os system', the argument tuple, REDUCE, STOP
        f.write(b'\x80\x02cos\nsystem\nq\x00X' + struct.pack('<I', len(f'touch {MARKER}')) + f'touch {MARKER}'.encode() + b'\x85q\x01Rq\x02.')
    with open(os.path.join(out, 'hostile_stack_global.pkl'), 'wb') as f:
        code = f"__import__('os').system('touch {MARKER}')"
        f.write(b'\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94' + b'\x8c' + bytes([len(code)]) + code.encode() + b'\x94\x85\x94R\x94.')
    # Prove the payloads are live: an unsafe loader runs them.
    for name, loader in (('hostile_zip.pth', 'import torch,sys; torch.load(sys.argv[1])'),
                         ('hostile_legacy.pth', 'import torch,sys; torch.load(sys.argv[1])'),
                         ('hostile_os_system.pkl', 'import pickle,sys; pickle.load(open(sys.argv[1],"rb"))'),
                         ('hostile_stack_global.pkl', 'import pickle,sys; pickle.load(open(sys.argv[1],"rb"))')):
        subprocess.run([sys.executable, '-c', loader, os.path.join(out, name)], check=False, capture_output=True)
        assert os.path.exists(MARKER), f'{name}: payload did not run under an unsafe loader'
        os.remove(MARKER)
    for name, glob in (('hostile_zip.pth', 'posix.system'), ('hostile_legacy.pth', 'posix.system'),
                       ('hostile_os_system.pkl', 'os.system'), ('hostile_stack_global.pkl', 'builtins.eval')):
        manifest.append({'file': name, **VIT, 'expect': 'hostile', 'error': f'refusing global "{glob}"', 'marker': MARKER,
                         'note': 'payload verified live with an unsafe loader when this fixture was made'})

    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
    print(f'{len(manifest)} entries; files: {sum(os.path.getsize(os.path.join(out, x)) for x in os.listdir(out) if os.path.isfile(os.path.join(out, x)))} bytes')


if __name__ == '__main__':
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, 'spec', 'fixtures', 'backbones', 'ckpt'))
