#!/usr/bin/python3
# pytorch_train.py: the PyTorch peer for sprint's end-to-end benchmarks (comparison only; sprint never depends on
# Python). Same recipe as `sprint train`: FashionMNIST normalised with mean 0.2860 / std 0.3530, data preloaded as
# tensors, reshuffled every epoch, SGD(lr, momentum), batch B; models mlp (784-128-10 + LogSoftmax + NLL) and cnn
# (conv3x3 32 - ReLU - maxpool2 - conv3x3 64 - ReLU - maxpool2 - fc 128 - ReLU - fc 10, cross-entropy).
# Times the training loop only (like sprint's train_seconds) and prints one JSON object.
# Usage: /usr/bin/python3 bench/peers/pytorch_train.py --model mlp --threads 1 --batch 64 --epochs 3
import argparse, gzip, json, os, statistics, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(data_dir, name):
    for candidate in (os.path.join(data_dir, name + ".gz"), os.path.join(data_dir, name)):
        if os.path.exists(candidate):
            return candidate
    raise SystemExit(f"missing {name} in {data_dir}")


def load(data_dir, split):
    prefix = "train" if split == "train" else "t10k"
    x = load_idx(find(data_dir, f"{prefix}-images-idx3-ubyte")).astype(np.float32) / 255.0
    y = load_idx(find(data_dir, f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
    x = (x - 0.2860) / 0.3530
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, 128), nn.Linear(128, 10)

    def forward(self, x):
        return F.log_softmax(self.fc2(F.relu(self.fc1(x.flatten(1)))), dim=1)


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 32, 3, padding=1), nn.Conv2d(32, 64, 3, padding=1)
        self.f1, self.f2 = nn.Linear(64 * 7 * 7, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.f2(F.relu(self.f1(x.flatten(1))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--limit-train", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=os.path.expanduser("~/.cache/sprint/fashion-mnist"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    xtr, ytr = load(args.data, "train")
    xte, yte = load(args.data, "test")
    if args.limit_train:
        xtr, ytr = xtr[:args.limit_train], ytr[:args.limit_train]
    model = Mlp() if args.model == "mlp" else Cnn()
    loss_fn = F.nll_loss if args.model == "mlp" else F.cross_entropy
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    epochs = []
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        t0 = time.perf_counter()
        total = 0.0
        for i in range(0, len(xtr), args.batch):
            idx = perm[i:i + args.batch]
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        seconds = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            correct = sum((model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
                          for i in range(0, len(xte), 1000))
        epochs.append({"epoch": epoch + 1, "train_loss": total / len(xtr), "test_accuracy": correct / len(xte),
                       "train_seconds": seconds, "samples_per_second": len(xtr) / seconds})
    print(json.dumps({"peer": f"pytorch {torch.__version__}", "model": args.model, "threads": args.threads,
                      "batch": args.batch, "epochs": epochs,
                      "median_epoch_seconds": statistics.median(e["train_seconds"] for e in epochs)}))


if __name__ == "__main__":
    main()
