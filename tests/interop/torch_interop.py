#!/usr/bin/python3
# torch_interop.py: checkpoints between PyTorch and sprint, both ways, with the PyTorch twins of sprint's models
# (bench/peers). PyTorch -> sprint: a twin with random weights and BatchNorm statistics is saved as safetensors (by
# the small writer below, the layout safetensors.torch.save_file produces; Debian has no python3-safetensors), a
# random batch goes to `sprint eval --inputs x.npy --logits y.npy`, and sprint's logits must equal the twin's.
# sprint -> PyTorch: `sprint train` saves a checkpoint, the twin loads it with load_state_dict(strict=True), and
# the twin's logits must equal `sprint eval`'s on the same batch.
# Usage: torch_interop.py SPRINT_BINARY WORK_DIR [DATA_DIR]. DATA_DIR (holding fashion-mnist/) defaults to
# $SPRINT_DATA, else ~/.cache/sprint; without FashionMNIST the second part is skipped (and fails when
# SPRINT_REQUIRE_DATA=1). Exit 77 (CTest: skipped) without torch.
import json, os, struct, subprocess, sys

try:
    import numpy as np
    import torch
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench", "peers"))
import cifar_models  # noqa: E402
import pytorch_train  # noqa: E402

DTYPES = {torch.float32: ("F32", np.float32), torch.int64: ("I64", np.int64)}
CODES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "F16": np.float16, "U8": np.uint8}


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        code, np_type = DTYPES[t.dtype]
        raw = t.numpy().astype(np_type).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def load_safetensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        begin, end = spec["data_offsets"]
        array = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=CODES[spec["dtype"]]).reshape(spec["shape"])
        out[name] = torch.from_numpy(array.copy())
    return out


def randomise(net, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.5 / max(1, p[0].numel()) ** 0.5))
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.num_batches_tracked.fill_(17)
    return net.eval()


def sprint_logits(sprint, work, model, weights, x, extra=()):
    np.save(os.path.join(work, "x.npy"), x.numpy())
    y = os.path.join(work, "y.npy")
    cmd = [sprint, "eval", "--model", model, "--checkpoint", weights, "--inputs", os.path.join(work, "x.npy"),
           "--logits", y, "--threads", "2", *extra]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"FAIL {model}: {' '.join(cmd)}\n{r.stderr}")
    return torch.from_numpy(np.load(y))


def compare(what, got, want):
    err = (got - want).abs().max().item()
    scale = 1.0 + want.abs().max().item()
    ok = got.shape == want.shape and err <= 1e-4 * scale
    print(f"{'ok  ' if ok else 'FAIL'} {what}: max |sprint - torch| = {err:.3g} (logits up to {scale - 1:.3g})")
    return ok


def main():
    sprint, work = sys.argv[1], sys.argv[2]
    data_dir = sys.argv[3] if len(sys.argv) > 3 else os.environ.get(
        "SPRINT_DATA", os.path.join(os.path.expanduser("~"), ".cache", "sprint"))
    if not os.path.isdir(os.path.join(data_dir, "fashion-mnist")):
        if os.environ.get("SPRINT_REQUIRE_DATA") == "1":
            raise SystemExit(f"FAIL: FashionMNIST is not installed under {data_dir}")
        data_dir = ""
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    ok = True
    # PyTorch -> sprint, every model with a twin.
    twins = [
        ("mlp", lambda: pytorch_train.Mlp(784), (4, 1, 28, 28), ()),
        ("fc", lambda: pytorch_train.Fc(3072), (3, 3, 32, 32), ()),
        ("cnn", lambda: pytorch_train.Cnn(1, 28), (4, 1, 28, 28), ()),
        ("resnet18", lambda: pytorch_train.ResNet18(3), (2, 3, 32, 32), ()),
        ("resnet10", lambda: pytorch_train.ResNet10(3), (2, 3, 32, 32), ()),
        ("resnet10", lambda: pytorch_train.ResNet10(3, share=True), (2, 3, 32, 32), ("--share-weights",)),
        ("resnet18-imagenet", lambda: pytorch_train.ResNet18ImageNet(3), (2, 3, 64, 64), ()),
        ("airbench94", cifar_models.Airbench94, (3, 3, 32, 32), ()),
        ("resnet9", cifar_models.ResNet9, (2, 3, 32, 32), ()),
        ("vgg16", cifar_models.VGG16, (2, 3, 32, 32), ()),
    ]
    for model, make, shape, extra in twins:
        label = " ".join([model, *extra])
        net = randomise(make(), seed=len(model))
        weights = os.path.join(work, f"{model}{len(extra)}-torch.safetensors")
        save_safetensors(weights, net.state_dict())
        x = torch.randn(shape)
        with torch.no_grad():
            want = net(x)
        ok &= compare(f"{label}: PyTorch weights in sprint", sprint_logits(sprint, work, model, weights, x, extra),
                      want)
    # sprint -> PyTorch: a checkpoint sprint trained (a few steps, so BatchNorm statistics moved) into the twin.
    if data_dir:
        trained = [("cnn", lambda: pytorch_train.Cnn(1, 28), ()), ("resnet18", lambda: pytorch_train.ResNet18(1), ()),
                   ("resnet10", lambda: pytorch_train.ResNet10(1, share=True), ("--share-weights",))]
        for model, make, extra in trained:
            run = os.path.join(work, f"{model}-run")
            cmd = [sprint, "train", "--model", model, "--dataset", "fashion-mnist", "--data-dir", data_dir,
                   "--limit-train", "128", "--limit-test", "64", "--batch-size", "32", "--max-steps", "3",
                   "--threads", "2", "--progress", "off", "--checkpoint-dir", run, *extra]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"FAIL {' '.join(cmd)}\n{r.stderr}")
            net = make()
            net.load_state_dict(load_safetensors(os.path.join(run, "latest.safetensors")), strict=True)
            net.eval()
            x = torch.randn(3, 1, 28, 28)
            with torch.no_grad():
                want = net(x)
            ok &= compare(f"{' '.join([model, *extra])}: sprint checkpoint in PyTorch",
                          sprint_logits(sprint, work, model, run, x, extra), want)
    else:
        print("sprint -> PyTorch part skipped: no FashionMNIST directory given")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
