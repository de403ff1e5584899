#!/usr/bin/python3
# pytorch_ddp.py: the PyTorch peer for `sprint train --distributed` (comparison only; sprint never depends on
# Python). W processes on this machine (torch.multiprocessing, the gloo backend over localhost: what PyTorch's CPU
# data parallelism uses), each with --threads compute threads, train the model of pytorch_train.py wrapped in
# DistributedDataParallel (gradients averaged in buckets of --bucket-mb MiB while backward runs, PyTorch's
# default). Same recipe as sprint: one global permutation per epoch shared by every rank, each global batch of
# W x --batch samples split into W contiguous shards, SGD(lr, momentum). Rank 0 times the training loop of each
# epoch (as sprint's train_seconds) and prints one JSON object; the loss is the mean over all ranks' samples.
# Usage: /usr/bin/python3 bench/peers/pytorch_ddp.py --model cnn --world 2 --threads 1 --batch 64 --epochs 1
# With --rank R it runs that one rank in this process (no spawn): start one per host with MASTER_ADDR (rank 0's
# address), MASTER_PORT and GLOO_SOCKET_IFNAME set, as for scripts/two_hosts.sh's hosts; rank 0 prints the JSON.
import argparse, json, os, statistics, time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

import pytorch_train as peer


def run(rank, args, out):
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(args.port))
    dist.init_process_group("gloo", rank=rank, world_size=args.world)
    peer.set_cpu_threads(args.threads)
    torch.manual_seed(args.seed)  # the same initial weights everywhere (DDP also broadcasts rank 0's)
    root = os.environ.get("SPRINT_DATA", os.path.expanduser("~/.cache/sprint"))
    data = args.data or os.path.join(root, args.dataset)
    loader = peer.load_cifar if args.dataset == "cifar10" else peer.load
    xtr, ytr = loader(data, "train")
    xte, yte = loader(data, "test")
    if args.limit_train > 0:  # the first N samples, as sprint's --limit-train
        xtr, ytr = xtr[:args.limit_train], ytr[:args.limit_train]
    if args.limit_test > 0:
        xte, yte = xte[:args.limit_test], yte[:args.limit_test]
    channels, side = xtr.shape[1], xtr.shape[2]
    model = {"mlp": lambda: peer.Mlp(channels * side * side), "cnn": lambda: peer.Cnn(channels, side),
             "resnet18": lambda: peer.ResNet18(channels)}[args.model]()
    loss_fn = F.nll_loss if args.model == "mlp" else F.cross_entropy
    ddp = DistributedDataParallel(model, bucket_cap_mb=args.bucket_mb)
    opt = torch.optim.SGD(ddp.parameters(), lr=args.lr, momentum=args.momentum)
    global_batch = args.batch * args.world
    epochs = []
    for epoch in range(args.epochs):
        ddp.train()
        g = torch.Generator().manual_seed(args.seed * 1000 + epoch)
        perm = torch.randperm(len(xtr), generator=g)
        dist.barrier()
        t0 = time.perf_counter()
        total, seen = 0.0, 0
        for i in range(0, len(xtr), global_batch):
            batch = perm[i:i + global_batch]
            shard = batch.tensor_split(args.world)[rank]
            opt.zero_grad()
            loss = loss_fn(ddp(xtr[shard]), ytr[shard])
            loss.backward()
            opt.step()
            total += loss.item() * len(shard)
            seen += len(shard)
        sums = torch.tensor([total, float(seen)], dtype=torch.float64)
        dist.all_reduce(sums)
        seconds = time.perf_counter() - t0
        ddp.eval()
        with torch.no_grad():
            correct = sum((model(xte[j:j + 1000]).argmax(1) == yte[j:j + 1000]).sum().item()
                          for j in range(0, len(xte), 1000))
        epochs.append({"epoch": epoch + 1, "train_loss": sums[0].item() / sums[1].item(),
                       "test_accuracy": correct / len(xte), "train_seconds": seconds,
                       "samples_per_second": len(xtr) / seconds})
    if rank == 0:
        out(json.dumps({"peer": f"pytorch {torch.__version__} DDP gloo", "model": args.model,
                            "dataset": args.dataset, "world": args.world, "threads": args.threads,
                            "batch_per_rank": args.batch, "bucket_mb": args.bucket_mb, "epochs": epochs,
                            "median_epoch_seconds": statistics.median(e["train_seconds"] for e in epochs)}))
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["mlp", "cnn", "resnet18"], default="cnn")
    ap.add_argument("--dataset", choices=["fashion-mnist", "cifar10"], default="fashion-mnist")
    ap.add_argument("--world", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64, help="samples per rank per step")
    ap.add_argument("--bucket-mb", type=float, default=25.0)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--port", type=int, default=29517)
    ap.add_argument("--data", default="")
    ap.add_argument("--limit-train", type=int, default=0, help="train on the first N samples (0: all)")
    ap.add_argument("--limit-test", type=int, default=0, help="test on the first N samples (0: all)")
    ap.add_argument("--rank", type=int, default=-1, help="run this one rank here (MASTER_ADDR, MASTER_PORT set)")
    args = ap.parse_args()
    if args.rank >= 0:
        run(args.rank, args, print)
        return
    ctx = mp.get_context("spawn")
    out = ctx.SimpleQueue()
    mp.spawn(run, args=(args, out.put), nprocs=args.world, join=True)
    print(out.get())


if __name__ == "__main__":
    main()
