#!/usr/bin/python3
"""PyTorch reference timings for `uol bench --suite backbones`: ms per image (B=1, eval, no_grad, 1 thread, the same
architectures as tools/backbone_ref.py with their default random init). Usage: bench_backbones.py REPS NAME...
Prints a JSON object {name: ms}. Run by src/bench/backbones.ts with /usr/bin/python3 and OPENBLAS_CORETYPE set."""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backbone_ref as R  # noqa: E402

MODELS = {
    'vits16': lambda: (R.DinoViT(384, 12, 6, 16), lambda m, x: m.features(x)),
    'vits8': lambda: (R.DinoViT(384, 12, 6, 8), lambda m, x: m.features(x)),
    'vitb16': lambda: (R.DinoViT(768, 12, 12, 16), lambda m, x: m.features(x)),
    'dinov2s14': lambda: (R.DinoViT(384, 12, 6, 14, img_size=518, dinov2=True), lambda m, x: m.features(x)),
    'resnet50_ds32': lambda: (R.resnet50_ds(32), R.resnet_features),
    'resnet50_ds16': lambda: (R.resnet50_ds(16), R.resnet_features),
    'vgg16bn': lambda: (R.vgg16_bn_loc(), R.vgg_features),
}


def main():
    torch.set_num_threads(1)
    reps = int(sys.argv[1])
    out = {}
    x = torch.randn(1, 3, 224, 224)
    for name in sys.argv[2:]:
        m, f = MODELS[name]()
        m.eval()
        with torch.no_grad():
            f(m, x)
            t0 = time.perf_counter()
            for _ in range(reps):
                f(m, x)
            out[name] = (time.perf_counter() - t0) * 1000 / reps
    print(json.dumps(out))


if __name__ == '__main__':
    main()
