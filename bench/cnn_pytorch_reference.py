#!/usr/bin/python3
# cnn_pytorch_reference.py: the PyTorch side of bench/cnn_layers_bench.cpp (comparison only; sprint never depends
# on Python). Same model, batch, optimizer and thread count: conv3x3(1->32)-ReLU-maxpool2 -> conv3x3(32->64)-ReLU-
# maxpool2 -> flatten -> Linear(3136->128)-ReLU -> Linear(128->10), cross-entropy, SGD(lr 0.01, momentum 0.9).
# Prints one JSON line: median ms of the conv stack fwd+bwd, of a full training step, and one epoch's seconds.
# Usage: /usr/bin/python3 bench/cnn_pytorch_reference.py --threads 1 [--epoch] [--data /usr/share/datasets/fashion-mnist]
import argparse, gzip, json, os, statistics, time

import numpy as np
import torch
import torch.nn as nn


def load_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--epoch", action="store_true", help="also time one full epoch")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    img_path = os.path.join(args.data, "train-images-idx3-ubyte.gz")
    if os.path.exists(img_path):
        images = torch.from_numpy(load_idx(img_path).astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
        labels = torch.from_numpy(load_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz")).astype(np.int64))
    else:
        images = torch.rand(60000, 1, 28, 28)
        labels = torch.randint(0, 10, (60000,))
    images = (images - 0.2860) / 0.3530

    convs = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
    head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
    model = nn.Sequential(convs, head)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    b = args.batch

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    x = images[:b].contiguous(memory_format=fmt)
    y = labels[:b]
    # Conv stack forward + backward alone (random upstream gradient, as the C++ bench does).
    g = torch.randn(b, 64, 7, 7)
    conv_ms = []
    for i in range(args.steps + 5):
        t0 = time.perf_counter()
        out = convs(x)
        out.backward(g)
        t1 = time.perf_counter()
        if i >= 5:
            conv_ms.append((t1 - t0) * 1e3)
    step_ms = []
    for i in range(args.steps + 5):
        xi = images[(i * b) % 59968:(i * b) % 59968 + b].contiguous(memory_format=fmt)
        yi = labels[(i * b) % 59968:(i * b) % 59968 + b]
        t0 = time.perf_counter()
        step(xi, yi)
        t1 = time.perf_counter()
        if i >= 5:
            step_ms.append((t1 - t0) * 1e3)
    result = {"impl": "pytorch", "version": torch.__version__, "threads": args.threads, "batch": b,
              "channels_last": args.channels_last, "conv_stack_fwd_bwd_ms": statistics.median(conv_ms),
              "train_step_ms": statistics.median(step_ms)}
    if args.epoch:
        perm = torch.randperm(images.shape[0])
        t0 = time.perf_counter()
        total, correct, loss_sum = 0, 0, 0.0
        for s in range(0, images.shape[0], b):
            idx = perm[s:s + b]
            loss = step(images[idx].contiguous(memory_format=fmt), labels[idx])
            loss_sum += loss.item() * idx.numel()
            total += idx.numel()
        result["epoch_s"] = time.perf_counter() - t0
        result["epoch_mean_loss"] = loss_sum / total
    print(json.dumps(result))


if __name__ == "__main__":
    main()
