#!/usr/bin/python3
# pytorch_train.py: the PyTorch peer for sprint's end-to-end benchmarks (comparison only; sprint never depends on
# Python). Same recipe as `sprint train`: FashionMNIST normalised with mean 0.2860 / std 0.3530, data preloaded as
# tensors, reshuffled every epoch, SGD(lr, momentum), batch B; models mlp (784-128-10 + LogSoftmax + NLL) and cnn
# (conv3x3 32 - ReLU - maxpool2 - conv3x3 64 - ReLU - maxpool2 - fc 128 - ReLU - fc 10, cross-entropy).
# Times the training loop only (like sprint's train_seconds) and prints one JSON object.
# On --device cuda the data set lives on the GPU (as sprint's resident data path), the loss is summed on the device
# (no per-step host sync), convolutions run channels-last with cudnn.benchmark, and --dtype bf16|f16 uses autocast.
# --tf32 and --deterministic (default off) set the same numerics as sprint_bench_train's flags of those names.
# --dataset cifar10 reads the binary records sprint installs; models fc (3072-512-256-10) and resnet18 (CIFAR
# variant, as sprint's) are for it.
# Usage: /usr/bin/python3 bench/peers/pytorch_train.py --model mlp --threads 1 --batch 64 --epochs 3
#        python3 bench/peers/pytorch_train.py --device cuda --dataset cifar10 --model resnet18 --batch 256
import argparse, gzip, json, os, statistics, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def set_cpu_threads(n):
    """n compute threads for every library PyTorch's CPU ops run on. torch.set_num_threads covers OpenMP (its own
    kernels, oneDNN); Debian's torch does its float matrix products in OpenBLAS (pthreads build), whose thread
    count it leaves at the number of cores, so a '1-thread' run would do its GEMMs on every core."""
    torch.set_num_threads(n)
    try:
        import ctypes
        ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(n)
    except (OSError, AttributeError):
        pass  # no OpenBLAS loaded: nothing else to pin


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


CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def load_cifar(data_dir, split):
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if split == "train" else ["test_batch.bin"]
    raw = np.concatenate([np.fromfile(os.path.join(data_dir, n), dtype=np.uint8).reshape(-1, 3073) for n in names])
    y = raw[:, 0].astype(np.int64)
    x = raw[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255.0
    x = (x - np.array(CIFAR_MEAN, np.float32)[None, :, None, None]) / np.array(CIFAR_STD, np.float32)[None, :, None, None]
    return torch.from_numpy(x), torch.from_numpy(y)


def load(data_dir, split):
    prefix = "train" if split == "train" else "t10k"
    x = load_idx(find(data_dir, f"{prefix}-images-idx3-ubyte")).astype(np.float32) / 255.0
    y = load_idx(find(data_dir, f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
    x = (x - 0.2860) / 0.3530
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)


class Mlp(nn.Module):
    def __init__(self, features=784):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(features, 128), nn.Linear(128, 10)

    def forward(self, x):
        return F.log_softmax(self.fc2(F.relu(self.fc1(x.flatten(1)))), dim=1)


class Fc(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(features, 512), nn.Linear(512, 256), nn.Linear(256, 10)

    def forward(self, x):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x.flatten(1))))))


class Block(nn.Module):
    """torchvision's BasicBlock (same module names: conv1, bn1, conv2, bn2, downsample)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    """torchvision's ResNet with BasicBlocks (same module names: conv1, bn1, layer1.0.conv1, ..., fc).
    stem "cifar": conv1 a 3x3 stride-1 conv and no max-pool; "imagenet": torchvision's 7x7 stride-2 conv and
    3x3 stride-2 max-pool. share: layer1.0.conv2 uses layer1.0.conv1's weight (seed 001's weight sharing; the
    state_dict then holds that tensor under both names, parameters() once)."""

    def __init__(self, channels, classes=10, blocks=(2, 2, 2, 2), stem="cifar", share=False):
        super().__init__()
        if stem == "cifar":
            self.conv1 = nn.Conv2d(channels, 64, 3, 1, 1, bias=False)
        else:
            self.conv1 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1) if stem == "imagenet" else nn.Identity()
        cin = 64
        for stage, width in enumerate((64, 128, 256, 512)):
            layer = []
            for b in range(blocks[stage]):
                layer.append(Block(cin, width, 2 if stage > 0 and b == 0 else 1))
                cin = width
            setattr(self, f"layer{stage + 1}", nn.Sequential(*layer))
        if share:
            self.layer1[0].conv2.weight = self.layer1[0].conv1.weight
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def ResNet18(channels, classes=10):
    """torchvision's resnet18(num_classes=10) with conv1 a 3x3 stride-1 conv and no max-pool (the CIFAR variant);
    state_dict names equal torchvision's and sprint's."""
    return ResNet(channels, classes)


def ResNet10(channels, classes=10, share=False):
    """ResNet-10: one BasicBlock per stage, CIFAR stem (seed 001)."""
    return ResNet(channels, classes, blocks=(1, 1, 1, 1), share=share)


def ResNet18ImageNet(channels, classes=10):
    """torchvision's resnet18(num_classes=classes) exactly."""
    return ResNet(channels, classes, stem="imagenet")


class Cnn(nn.Module):
    def __init__(self, channels=1, side=28):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(channels, 32, 3, padding=1), nn.Conv2d(32, 64, 3, padding=1)
        self.f1, self.f2 = nn.Linear(64 * (side // 4) ** 2, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.f2(F.relu(self.f1(x.flatten(1))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["mlp", "cnn", "fc", "resnet18"], default="mlp")
    ap.add_argument("--dataset", choices=["fashion-mnist", "cifar10"], default="fashion-mnist")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", choices=["f32", "bf16", "f16"], default="f32")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--limit-train", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default="")
    ap.add_argument("--tf32", choices=("on", "off"), default="off")  # cuda: as sprint_bench_train --tf32
    ap.add_argument("--deterministic", choices=("on", "off"), default="off")
    args = ap.parse_args()
    root = os.environ.get("SPRINT_DATA", os.path.expanduser("~/.cache/sprint"))
    data = args.data or os.path.join(root, args.dataset)
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    set_cpu_threads(args.threads)
    torch.manual_seed(args.seed)
    loader = load_cifar if args.dataset == "cifar10" else load
    xtr, ytr = loader(data, "train")
    xte, yte = loader(data, "test")
    if args.limit_train:
        xtr, ytr = xtr[:args.limit_train], ytr[:args.limit_train]
    channels, side = xtr.shape[1], xtr.shape[2]
    features = channels * side * side
    model = {"mlp": lambda: Mlp(features), "cnn": lambda: Cnn(channels, side), "fc": lambda: Fc(features),
             "resnet18": lambda: ResNet18(channels)}[args.model]()
    loss_fn = F.nll_loss if args.model == "mlp" else F.cross_entropy
    model = model.to(dev)
    xtr, ytr, xte, yte = xtr.to(dev), ytr.to(dev), xte.to(dev), yte.to(dev)
    # The same numerics as sprint's side: PyTorch's default lets cuDNN convolutions use TF32; sprint's does not.
    torch.backends.cuda.matmul.allow_tf32 = args.tf32 == "on"
    torch.backends.cudnn.allow_tf32 = args.tf32 == "on"
    torch.backends.cudnn.deterministic = args.deterministic == "on"
    if cuda and args.model in ("cnn", "resnet18"):
        torch.backends.cudnn.benchmark = True
        model = model.to(memory_format=torch.channels_last)
        xtr, xte = xtr.contiguous(memory_format=torch.channels_last), xte.contiguous(memory_format=torch.channels_last)
    amp_dtype = {"bf16": torch.bfloat16, "f16": torch.float16}.get(args.dtype)
    scaler = torch.cuda.amp.GradScaler(enabled=cuda and args.dtype == "f16")
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    epochs = []
    for epoch in range(args.epochs):
        model.train()
        if cuda:
            torch.cuda.synchronize()
        perm = torch.randperm(len(xtr), device=dev)
        t0 = time.perf_counter()
        total = torch.zeros((), device=dev) if cuda else 0.0
        for i in range(0, len(xtr), args.batch):
            idx = perm[i:i + args.batch]
            opt.zero_grad()
            if amp_dtype is None:  # the plain loop: autocast and the scaler cost per-step overhead even when off
                loss = loss_fn(model(xtr[idx]), ytr[idx])
                loss.backward()
                opt.step()
            else:
                with torch.autocast(dev.type, dtype=amp_dtype):
                    loss = loss_fn(model(xtr[idx]), ytr[idx])
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            if cuda:
                total += loss.detach().float() * len(idx)
            else:
                total += loss.item() * len(idx)
        if cuda:
            torch.cuda.synchronize()
            total = total.item()
        seconds = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            correct = sum((model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
                          for i in range(0, len(xte), 1000))
        epochs.append({"epoch": epoch + 1, "train_loss": total / len(xtr), "test_accuracy": correct / len(xte),
                       "train_seconds": seconds, "samples_per_second": len(xtr) / seconds})
    median = statistics.median(e["train_seconds"] for e in epochs)
    floor = {}
    if not cuda and args.model in ("mlp", "fc"):  # as sprint_bench_train: GEMM work per epoch, and a large GEMM
        weights = [p for p in model.parameters() if p.dim() == 2]
        gflop = sum(2.0 * len(xtr) * p.numel() * (2.0 if i == 0 else 3.0) for i, p in enumerate(weights)) / 1e9
        a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
        times = []
        for r in range(6):
            t0 = time.perf_counter()
            torch.mm(a, b.t())
            if r > 0:
                times.append(time.perf_counter() - t0)
        floor = {"epoch_gemm_gflop": gflop, "epoch_gemm_gflops": gflop / median,
                 "gemm_peak_gflops": 2.0 * 1024 ** 3 / statistics.median(times) / 1e9}
    print(json.dumps({"peer": f"pytorch {torch.__version__}", "model": args.model, "dataset": args.dataset,
                      "device": args.device, "dtype": args.dtype, "threads": args.threads,
                      "batch": args.batch, "epochs": epochs,
                      **({"settings": {"f32_math": "tf32" if args.tf32 == "on" else "fma (no TF32)",
                                       "deterministic": args.deterministic == "on"}} if cuda else {}),
                      "median_epoch_seconds": median, **floor}))


if __name__ == "__main__":
    main()
