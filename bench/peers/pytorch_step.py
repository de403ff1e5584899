#!/usr/bin/python3
# pytorch_step.py: the PyTorch side of bench/step_bench.cpp (comparison only; sprint never depends on Python):
# median time of one training step (zero_grad, forward, loss, backward, SGD(lr 0.01, momentum 0.9)) on synthetic
# inputs of a data set's shape, and the process's peak resident memory. Models as in pytorch_train.py (mlp, cnn,
# fc, resnet18) and cifar_models.py (airbench94, resnet9, vgg16). --channels-last runs the conv models channels-last (PyTorch's default is NCHW).
# --amp bf16|f16 runs forward and loss under torch.autocast (PyTorch's mixed precision: f32 weights and gradients,
# half operands for the ops autocast lists).
# Usage: /usr/bin/python3 bench/peers/pytorch_step.py --model resnet18 --shape 3x32x32 --batch 64 --threads 2
import argparse, json, os, resource, statistics, sys, time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_train import Cnn, Fc, Mlp, ResNet18, set_cpu_threads  # noqa: E402
from cifar_models import MODELS as CIFAR_MODELS  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["mlp", "cnn", "fc", "resnet18", *CIFAR_MODELS], default="cnn")
    ap.add_argument("--shape", default="1x28x28")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--amp", choices=["off", "bf16", "f16"], default="off")
    args = ap.parse_args()
    set_cpu_threads(args.threads)
    torch.manual_seed(0)
    c, h, w = (int(v) for v in args.shape.split("x"))
    features = c * h * w
    model = {"mlp": lambda: Mlp(features), "cnn": lambda: Cnn(c, h), "fc": lambda: Fc(features),
             "resnet18": lambda: ResNet18(c), **{k: v for k, v in CIFAR_MODELS.items()}}[args.model]()
    loss_fn = F.nll_loss if args.model == "mlp" else F.cross_entropy
    x = torch.randn(args.batch, c, h, w)
    y = torch.arange(args.batch) % 10
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    # Frozen parameters (airbench94's whitening weight and BatchNorm scales) are left out, as sprint skips them.
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    model.train()
    times = []
    for step in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        if args.amp == "off":
            loss = loss_fn(model(x), y)
        else:
            with torch.autocast("cpu", dtype=torch.bfloat16 if args.amp == "bf16" else torch.float16):
                loss = loss_fn(model(x).float(), y)
        loss.backward()
        opt.step()
        t1 = time.perf_counter()
        if step >= args.warmup:
            times.append((t1 - t0) * 1e3)
    print(json.dumps({"engine": f"pytorch {torch.__version__}", "model": args.model, "shape": args.shape,
                      "batch": args.batch, "threads": args.threads,
                      "format": "nhwc" if args.channels_last else "nchw", "steps": args.steps, "amp": args.amp,
                      "median_step_ms": statistics.median(times), "min_step_ms": min(times),
                      "last_loss": loss.item(),
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


if __name__ == "__main__":
    main()
