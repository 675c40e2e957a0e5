"""Reference backbones in PyTorch (Debian python3-torch 1.13 / torchvision 0.14) and the deterministic weight formula.

Used by tools/make_backbone_goldens.py and tools/make_checkpoints.py; imports nothing from the project's TS code.

- `DinoViT`: written from the architecture definitions of DINO (facebookresearch/dino vision_transformer.py) and
  DINOv2 (facebookresearch/dinov2 models/vision_transformer.py, layers/): conv patch embedding, CLS token, position
  embeddings interpolated with F.interpolate(mode='bicubic') exactly as those repos call it (DINO / DINOv2 without
  registers: scale_factor=(g+0.1)/M; DINOv2 with registers: size=(gh,gw), antialias=True), registers inserted after
  the position embeddings, pre-norm blocks with LayerNorm(eps=1e-6), qkv bias, exact GELU, optional LayerScale.
  `features()` = final-normed patch tokens, ReLU'd, as [B, gh, gw, C] (the authors' release feature).
- ResNet-50: torchvision's resnet50 with the release's downscale (stride 1 in layer4 [and layer3]).
- VGG16-BN: torchvision's vgg16_bn with the last two max-pools replaced by MaxPool2d(3, 1, 1) (the release's 'N').

Weight formula (reproduced bit-exactly by src/backbones/synthetic.ts): for a tensor named K with n elements,
  seed = fnv1a32(K); h_i = fmix32((seed + i * 0x9E3779B1) mod 2^32)   (murmur3 finaliser)
  r_i = ((h_i >> 8) - 2^23) / 2^23   in [-1, 1), exact in float32
  w_i = float32(offset + float32(r_i * scale))   with scale, offset float32
"""
import hashlib
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

M32 = 0xFFFFFFFF


def fnv1a32(s):
    h = 0x811C9DC5
    for b in s.encode('utf-8'):
        h ^= b
        h = (h * 0x01000193) & M32
    return h


def fmix32(h):
    h = h.astype(np.uint64)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & np.uint64(M32)
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & np.uint64(M32)
    h ^= h >> np.uint64(16)
    return h


def formula(key, shape, scale, offset):
    """float32 array of `shape` from the formula above."""
    n = int(np.prod(shape)) if len(shape) else 1
    seed = np.uint64(fnv1a32(key))
    i = np.arange(n, dtype=np.uint64)
    h = fmix32((seed + i * np.uint64(0x9E3779B1)) & np.uint64(M32))
    r = ((h >> np.uint64(8)).astype(np.int64) - (1 << 23)).astype(np.float32) / np.float32(1 << 23)
    w = np.float32(offset) + r * np.float32(scale)
    return w.astype(np.float32).reshape(shape)


def f32(x):
    """x rounded to float32, as a Python float (what goes into the JSON spec)."""
    return float(np.float32(x))


# ------------------------------------------------------------------------------------------------ ViT (DINO / DINOv2)

class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C)), attn


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * self.gamma


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, layer_scale):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.ls1 = LayerScale(dim) if layer_scale else nn.Identity()
        self.ls2 = LayerScale(dim) if layer_scale else nn.Identity()

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x))[0])
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    def __init__(self, patch, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class DinoViT(nn.Module):
    """DINO (dinov2=False) or DINOv2 (dinov2=True) ViT; img_size sets the stored position grid (224 / 518)."""

    def __init__(self, dim, depth, heads, patch, img_size=224, dinov2=False, registers=0, mlp_ratio=4.0):
        super().__init__()
        self.patch = patch
        self.dinov2 = dinov2
        self.registers = registers
        m = img_size // patch
        self.patch_embed = PatchEmbed(patch, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + m * m, dim))
        if dinov2:
            self.mask_token = nn.Parameter(torch.zeros(1, dim))
            if registers:
                self.register_tokens = nn.Parameter(torch.zeros(1, registers, dim))
        self.blocks = nn.ModuleList([Block(dim, heads, mlp_ratio, dinov2) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        # DINOv2 hub: models with registers use antialias=True and interpolate_offset=0; the others offset 0.1.
        self.antialias = dinov2 and registers > 0
        self.offset = 0.0 if self.antialias else 0.1

    def interpolate_pos_encoding(self, x, w, h):
        npatch = x.shape[1] - 1
        N = self.pos_embed.shape[1] - 1
        if npatch == N and w == h:
            return self.pos_embed
        cls_pos = self.pos_embed[:, 0]
        patch_pos = self.pos_embed[:, 1:]
        dim = x.shape[-1]
        w0 = w // self.patch
        h0 = h // self.patch
        M = int(math.sqrt(N))
        kwargs = {}
        if self.offset:
            kwargs['scale_factor'] = (float(w0 + self.offset) / M, float(h0 + self.offset) / M)
        else:
            kwargs['size'] = (w0, h0)
        patch_pos = F.interpolate(patch_pos.reshape(1, M, M, dim).permute(0, 3, 1, 2), mode='bicubic',
                                  antialias=self.antialias, **kwargs)
        assert (w0, h0) == tuple(patch_pos.shape[-2:])
        patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, -1, dim)
        return torch.cat((cls_pos.unsqueeze(0), patch_pos), dim=1)

    def prepare_tokens(self, x):
        B, nc, w, h = x.shape
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(B, -1, -1), x), dim=1)
        x = x + self.interpolate_pos_encoding(x, w, h)
        if self.registers:
            x = torch.cat((x[:, :1], self.register_tokens.expand(B, -1, -1), x[:, 1:]), dim=1)
        return x

    def last_selfattention(self, x):
        """Softmaxed attention of the last block, [B, heads, N, N] (DINO's get_last_selfattention)."""
        t = self.prepare_tokens(x)
        for blk in self.blocks[:-1]:
            t = blk(t)
        blk = self.blocks[-1]
        return blk.attn(blk.norm1(t))[1]

    def features(self, x):
        """[B,3,H,W] -> [B, H/p, W/p, C]: final-normed patch tokens, ReLU'd."""
        B, _, H, W = x.shape
        t = self.prepare_tokens(x)
        for blk in self.blocks:
            t = blk(t)
        t = self.norm(t)[:, 1 + self.registers:]
        return torch.relu(t).reshape(B, H // self.patch, W // self.patch, -1)


def vit_weight_spec(model):
    """(key, shape, scale, offset) for every tensor of a DinoViT state dict."""
    out = []
    for k, v in model.state_dict().items():
        shape = list(v.shape)
        if k in ('cls_token', 'pos_embed', 'register_tokens', 'mask_token'):
            s, o = 0.5, 0.0
        elif k.endswith('norm1.weight') or k.endswith('norm2.weight') or k == 'norm.weight':
            s, o = 0.2, 1.0
        elif k.endswith('.gamma'):
            s, o = 0.2, 0.4
        elif k.endswith('.weight') and len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            s, o = math.sqrt(3.0 / fan_in), 0.0
        elif k.endswith('.weight') and len(shape) == 2:
            s, o = math.sqrt(3.0 / shape[1]), 0.0
        else:  # biases
            s, o = 0.1, 0.0
        out.append((k, shape, f32(s), f32(o)))
    return out


# ------------------------------------------------------------------------------------------------ ResNet-50 / VGG16-BN

def resnet50_ds(downscale):
    m = torchvision.models.resnet50()
    layers = [m.layer4] if downscale <= 16 else []
    if downscale == 8:
        layers.append(m.layer3)
    for layer in layers:
        layer[0].conv2.stride = (1, 1)
        layer[0].downsample[0].stride = (1, 1)
    return m


def resnet_features(m, x):
    x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
    return m.layer4(m.layer3(m.layer2(m.layer1(x)))).permute(0, 2, 3, 1)


def vgg16_bn_loc():
    m = torchvision.models.vgg16_bn()
    for i in (33, 43):
        assert isinstance(m.features[i], nn.MaxPool2d)
        m.features[i] = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
    return m


def vgg_features(m, x):
    return m.features(x).permute(0, 2, 3, 1)


def cnn_weight_spec(model, last_bn_small=()):
    """(key, shape, scale, offset) for a conv/BN net; BN layers named in last_bn_small get small gammas."""
    out = []
    for k, v in model.state_dict().items():
        shape = list(v.shape)
        if k.endswith('num_batches_tracked'):
            continue
        if k.endswith('.weight') and len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            s, o = math.sqrt(6.0 / fan_in), 0.0
        elif k.endswith('.weight') and len(shape) == 2:
            s, o = math.sqrt(3.0 / shape[1]), 0.0
        elif k.endswith('running_var'):
            s, o = 0.5, 1.0
        elif k.endswith('running_mean'):
            s, o = 0.1, 0.0
        elif k.endswith('.weight'):  # BN gamma
            prefix = k[: -len('.weight')]
            s, o = (0.1, 0.3) if prefix in last_bn_small else (0.2, 1.0)
        else:
            s, o = 0.1, 0.0
        out.append((k, shape, f32(s), f32(o)))
    return out


def state_from_spec(spec):
    return {k: torch.from_numpy(formula(k, shape, s, o)) for k, shape, s, o in spec}


def spec_sha256(spec):
    h = hashlib.sha256()
    for k, shape, s, o in spec:
        h.update(formula(k, shape, s, o).astype('<f4').tobytes())
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------ small CNNs (checkpoint tests)

class SmallBottleneck(nn.Module):
    """torchvision Bottleneck (v1.5: stride on conv2) at any width, same parameter names."""

    def __init__(self, inplanes, planes, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (self.downsample(x) if self.downsample is not None else x))


class SmallResNet(nn.Module):
    """torchvision-named bottleneck ResNet with a stem width `w` (ResNet-50: w=64, layers [3,4,6,3])."""

    def __init__(self, w=4, layers=(2, 1, 1, 1), downscale=32, fc=None):
        super().__init__()
        self.conv1 = nn.Conv2d(3, w, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        strides = [1, 2, 2 if downscale >= 16 else 1, 2 if downscale == 32 else 1]
        inplanes = w
        for s, n in enumerate(layers):
            planes = w * 2 ** s
            blocks = []
            for b in range(n):
                st = strides[s] if b == 0 else 1
                down = None
                if b == 0:
                    down = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, stride=st, bias=False), nn.BatchNorm2d(planes * 4))
                blocks.append(SmallBottleneck(inplanes, planes, st, down))
                inplanes = planes * 4
            setattr(self, f'layer{s + 1}', nn.Sequential(*blocks))
        if fc is not None:
            self.fc = fc

    def features(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x)))).permute(0, 2, 3, 1)


def make_vgg_layers(cfg):
    """The release's make_layers(batch_norm=True): 'M' = MaxPool2d(2,2), 'N' = MaxPool2d(3,1,1)."""
    layers, c = [], 3
    for v in cfg:
        if v == 'M':
            layers.append(nn.MaxPool2d(2, 2))
        elif v == 'N':
            layers.append(nn.MaxPool2d(3, 1, 1))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            c = v
    return nn.Sequential(*layers)


class SmallVgg(nn.Module):
    def __init__(self, cfg, classes=5):
        super().__init__()
        self.features = make_vgg_layers(cfg)
        last = [v for v in cfg if isinstance(v, int)][-1]
        self.classifier = nn.Sequential(nn.Linear(last, classes))

    def forward_features(self, x):
        return self.features(x).permute(0, 2, 3, 1)


def randomize(model, seed, bn_small=()):
    """Fills every tensor of `model` with seeded random values of sensible scale (torch RNG)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if not v.is_floating_point():
                continue
            shape = list(v.shape)
            u = torch.rand(shape, generator=g) * 2 - 1
            if k.endswith('running_var'):
                v.copy_(1 + 0.5 * u)
            elif k.endswith('running_mean'):
                v.copy_(0.1 * u)
            elif k.endswith('.gamma'):
                v.copy_(0.4 + 0.2 * u)
            elif k.endswith('.weight') and len(shape) >= 2:
                fan_in = int(np.prod(shape[1:]))
                v.copy_(u * math.sqrt((6.0 if len(shape) == 4 and 'patch_embed' not in k else 3.0) / fan_in))
            elif k.endswith('.weight'):
                v.copy_(1 + 0.2 * u if k[: -len('.weight')] not in bn_small else 0.3 + 0.1 * u)
            else:
                v.copy_(0.5 * u if k in ('cls_token', 'pos_embed', 'register_tokens', 'mask_token') else 0.1 * u)
    model.eval()
    return model
