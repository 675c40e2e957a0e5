#!/usr/bin/python3
"""PyTorch timing reference for `uol bench` (run with Debian's /usr/bin/python3: torch 1.13, torchvision 0.14).

Two modes, both print one JSON object on stdout (errors: {"error": ...} and exit status 3 when torch is missing,
2 for bad input):

  ops:    bench_torch.py ops [--threads 2]  < request.json
          request: {"reps": R, "rounds": N, "min_ms": T, "ops": [op, ...]} where op is
            {"name", "kind": "matmul", "a": [..., m, k], "b": [..., k, n], "transA": bool, "transB": bool}
              (shapes as TF.js gives them: with transA a is [..., k, m]; with transB b is [..., n, k]; batch dims
              broadcast like numpy), or
            {"name", "kind": "conv2d", "x": [B, H, W, C] (NHWC, as in TF.js), "filter": [fh, fw, C, O],
              "strides": [sh, sw], "pad": "same" | "valid", "dilations": [dh, dw]}
              (run in torch's native NCHW layout; TF "same" padding is applied exactly, asymmetric when needed).
          reply:   {"torch", "threads", "coretype", "results": [{"name", "ms", "gflops", "flops"}]}

  serve:  bench_torch.py serve [--threads 2]
          the ops mode as a long-lived process: one request per stdin line, one reply per stdout line (flushed), until
          EOF; lets the benchmark interleave our timings and torch's case by case without re-importing torch.
          A line {"model": {"name", "size", "batch", "iters", "warmup", "stride"}} times a whole model instead (built
          once and cached with its input; warm-up runs only the first time) and replies
          {"model", "batch", "size", "ms": [per-iteration ms], "ms_median", "output_shape"}.

  model:  bench_torch.py model NAME [--batch 1] [--size 224] [--threads 2] [--iters 10] [--warmup 2] [--stride 32]
          NAME: vit_small16, vit_small8 (DINO's ViT-S written out below, random weights), resnet50 (torchvision, the
          layer4 feature map; --stride 16/8 dilates the last stages as torchvision's replace_stride_with_dilation),
          vgg16_bn (torchvision features without the last max-pool), vgg16_bn_loc (the localization variant of
          uol-rps: all features, the last two max-pools 3x3 stride 1, output stride 8), mobilenet_v2 (torchvision
          features).
          reply:   {"model", "batch", "size", "threads", "images_per_s", "ms_per_batch", "output_shape", "torch", ...}

Timing: torch.no_grad(), torch.set_num_threads(threads), warm-up runs first; the reported time is the median over
rounds (ops) or the mean over iterations (models). OPENBLAS_CORETYPE is set to SKYLAKEX/HASWELL from /proc/cpuinfo when
unset, before torch (and with it OpenBLAS) is imported, because Debian's OpenBLAS misdetects some CPUs.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time


def cpu_flags():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags'):
                    return set(line.split(':', 1)[1].split())
    except OSError:
        pass
    return set()


def choose_coretype():
    flags = cpu_flags()
    if {'avx512f', 'avx512bw', 'avx512dq', 'avx512vl'} <= flags:
        return 'SKYLAKEX'
    if {'avx2', 'fma'} <= flags:
        return 'HASWELL'
    return None


if not os.environ.get('OPENBLAS_CORETYPE'):
    _ct = choose_coretype()
    if _ct:
        os.environ['OPENBLAS_CORETYPE'] = _ct


def fail(msg, code):
    print(json.dumps({'error': msg}))
    sys.exit(code)


try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except Exception as e:  # noqa: BLE001 - any import failure means "no reference"
    fail(f'torch not available: {e}', 3)


def env_info(threads):
    return {'torch': torch.__version__, 'threads': threads, 'coretype': os.environ.get('OPENBLAS_CORETYPE')}


# ---------------------------------------------------------------------------------------------------------------- ops

def same_pads(size, k, s, d):
    eff = (k - 1) * d + 1
    out = -(-size // s)
    total = max((out - 1) * s + eff - size, 0)
    return total // 2, total - total // 2


def make_op(op):
    kind = op.get('kind')
    if kind == 'matmul':
        a = torch.rand(op['a']) * 2 - 1
        b = torch.rand(op['b']) * 2 - 1
        ta, tb = bool(op.get('transA')), bool(op.get('transB'))
        m = a.shape[-1] if ta else a.shape[-2]
        k = a.shape[-2] if ta else a.shape[-1]
        n = b.shape[-2] if tb else b.shape[-1]
        batch = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        flops = 2 * math.prod(batch) * m * n * k

        def run():
            return torch.matmul(a.transpose(-1, -2) if ta else a, b.transpose(-1, -2) if tb else b)
        return run, flops
    if kind == 'conv2d':
        bsz, h, w, c = op['x']
        fh, fw, fc, o = op['filter']
        if fc != c:
            fail(f'{op["name"]}: filter in-channels {fc} != input channels {c}', 2)
        sh, sw = op.get('strides', [1, 1])
        dh, dw = op.get('dilations', [1, 1])
        pad = op.get('pad', 'valid')
        x = torch.rand(bsz, c, h, w) * 2 - 1
        wt = torch.rand(o, c, fh, fw) * 2 - 1
        if pad == 'same':
            pt, pb = same_pads(h, fh, sh, dh)
            pl, pr = same_pads(w, fw, sw, dw)
        elif pad == 'valid':
            pt = pb = pl = pr = 0
        else:
            fail(f'{op["name"]}: pad must be "same" or "valid"', 2)
        symmetric = pt == pb and pl == pr
        oh = (h + pt + pb - (fh - 1) * dh - 1) // sh + 1
        ow = (w + pl + pr - (fw - 1) * dw - 1) // sw + 1
        flops = 2 * bsz * oh * ow * o * fh * fw * c

        def run():
            if symmetric:
                return F.conv2d(x, wt, None, (sh, sw), (pt, pl), (dh, dw))
            return F.conv2d(F.pad(x, (pl, pr, pt, pb)), wt, None, (sh, sw), 0, (dh, dw))
        return run, flops
    fail(f'{op.get("name")}: unknown op kind {kind!r}', 2)


def bench_ops(req, threads):
    rounds = int(req.get('rounds', 5))
    min_ms = float(req.get('min_ms', 200))
    results = []
    with torch.no_grad():
        for op in req.get('ops', []):
            run, flops = make_op(op)
            for _ in range(3):
                run()
            # Pick repetitions so one round lasts about min_ms.
            t0 = time.perf_counter()
            run()
            one = max(time.perf_counter() - t0, 1e-6)
            reps = max(1, min(10000, int(min_ms / 1000 / one)))
            times = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                for _ in range(reps):
                    run()
                times.append((time.perf_counter() - t0) / reps)
            ms = statistics.median(times) * 1000
            results.append({'name': op['name'], 'ms': ms, 'flops': flops, 'gflops': flops / ms / 1e6})
    return results


# ---------------------------------------------------------------------------------------------------------- models

class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio=4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """DINO's VisionTransformer (vision_transformer.py) as used for features: pre-norm blocks, LayerNorm eps 1e-6,
    qkv bias, exact GELU, bicubic position-embedding interpolation with the +0.1 offset; returns the final-norm tokens."""

    def __init__(self, patch=16, dim=384, depth=12, heads=6, img_size=224):
        super().__init__()
        self.patch = patch
        self.patch_embed = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        n = (img_size // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def interpolate_pos_encoding(self, x, w, h):
        npatch = x.shape[1] - 1
        n = self.pos_embed.shape[1] - 1
        if npatch == n and w == h:
            return self.pos_embed
        cls_pe, patch_pe = self.pos_embed[:, :1], self.pos_embed[:, 1:]
        dim = x.shape[-1]
        w0, h0 = w // self.patch + 0.1, h // self.patch + 0.1
        side = int(math.sqrt(n))
        patch_pe = F.interpolate(patch_pe.reshape(1, side, side, dim).permute(0, 3, 1, 2),
                                 scale_factor=(w0 / side, h0 / side), mode='bicubic')
        patch_pe = patch_pe.permute(0, 2, 3, 1).reshape(1, -1, dim)
        return torch.cat((cls_pe, patch_pe), dim=1)

    def forward(self, img):
        b, _, w, h = img.shape
        x = self.patch_embed(img).flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token.expand(b, -1, -1), x), dim=1)
        x = x + self.interpolate_pos_encoding(x, w, h)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)


def build_model(name, stride):
    import torchvision
    if name == 'vit_small16':
        return ViT(patch=16)
    if name == 'vit_small8':
        return ViT(patch=8)
    if name == 'resnet50':
        dil = {32: [False, False, False], 16: [False, False, True], 8: [False, True, True]}.get(stride)
        if dil is None:
            fail('--stride must be 32, 16 or 8', 2)
        m = torchvision.models.resnet50(weights=None, replace_stride_with_dilation=dil)
        return nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2, m.layer3, m.layer4)
    if name == 'vgg16_bn':
        return torchvision.models.vgg16_bn(weights=None).features[:-1]
    if name == 'vgg16_bn_loc':
        f = torchvision.models.vgg16_bn(weights=None).features
        for i in (33, 43):
            f[i] = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        return f
    if name == 'mobilenet_v2':
        return torchvision.models.mobilenet_v2(weights=None).features
    fail(f'unknown model {name!r} (vit_small16, vit_small8, resnet50, vgg16_bn, vgg16_bn_loc, mobilenet_v2)', 2)


def bench_model(a):
    torch.manual_seed(0)
    model = build_model(a.name, a.stride).eval()
    x = torch.rand(a.batch, 3, a.size, a.size)
    with torch.no_grad():
        for _ in range(a.warmup):
            y = model(x)
        times = []
        for _ in range(a.iters):
            t0 = time.perf_counter()
            y = model(x)
            times.append(time.perf_counter() - t0)
    ms = statistics.mean(times) * 1000
    return {'model': a.name, 'batch': a.batch, 'size': a.size, 'stride': a.stride, 'iters': a.iters,
            'ms_per_batch': ms, 'ms_median': statistics.median(times) * 1000,
            'images_per_s': a.batch * 1000 / ms, 'output_shape': list(y.shape)}


_served = {}


def serve_model(req):
    """Times a cached model for the serve mode: per-iteration milliseconds."""
    name = req['name']
    size, batch = int(req.get('size', 224)), int(req.get('batch', 1))
    stride = int(req.get('stride', 32))
    key = (name, stride, size, batch)
    with torch.no_grad():
        if key not in _served:
            torch.manual_seed(0)
            model = build_model(name, stride).eval()
            x = torch.rand(batch, 3, size, size)
            for _ in range(int(req.get('warmup', 2))):
                model(x)
            _served.clear()  # one model at a time (memory)
            _served[key] = (model, x)
        model, x = _served[key]
        times = []
        for _ in range(int(req.get('iters', 3))):
            t0 = time.perf_counter()
            y = model(x)
            times.append((time.perf_counter() - t0) * 1000)
    return {'model': name, 'batch': batch, 'size': size, 'stride': stride, 'ms': times,
            'ms_median': statistics.median(times), 'output_shape': list(y.shape)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='mode', required=True)
    po = sub.add_parser('ops')
    po.add_argument('--threads', type=int, default=2)
    ps = sub.add_parser('serve')
    ps.add_argument('--threads', type=int, default=2)
    pm = sub.add_parser('model')
    pm.add_argument('name')
    pm.add_argument('--batch', type=int, default=1)
    pm.add_argument('--size', type=int, default=224)
    pm.add_argument('--threads', type=int, default=2)
    pm.add_argument('--iters', type=int, default=10)
    pm.add_argument('--warmup', type=int, default=2)
    pm.add_argument('--stride', type=int, default=32)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.mode == 'serve':
        print(json.dumps(dict(env_info(a.threads), ready=True)), flush=True)
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                req = json.loads(line)
            except ValueError as e:
                print(json.dumps({'error': f'request is not JSON: {e}'}), flush=True)
                continue
            try:
                if 'model' in req:
                    print(json.dumps(dict(env_info(a.threads), **serve_model(req['model']))), flush=True)
                else:
                    print(json.dumps(dict(env_info(a.threads), results=bench_ops(req, a.threads))), flush=True)
            except Exception as e:  # noqa: BLE001 - report and keep serving
                print(json.dumps({'error': f'{type(e).__name__}: {e}'}), flush=True)
        return
    if a.mode == 'ops':
        try:
            req = json.load(sys.stdin)
        except ValueError as e:
            fail(f'request is not JSON: {e}', 2)
        out = env_info(a.threads)
        out['results'] = bench_ops(req, a.threads)
    else:
        out = env_info(a.threads)
        out.update(bench_model(a))
    print(json.dumps(out))


if __name__ == '__main__':
    main()
