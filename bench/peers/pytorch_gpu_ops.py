#!/usr/bin/env python3
# pytorch_gpu_ops.py: the PyTorch 2.x peer of bench/gpu_ops_bench.cpp (comparison only; sprint never depends on
# Python). Same cases, shapes and settings, eager PyTorch (cuDNN/cuBLAS underneath), timed with CUDA events:
# median over --repeats loops of --iters calls after --warmup calls. Peaks measured first as sprint's side does
# (an 8192^3 torch.mm per dtype, a 1 GiB device copy); convolutions channels-last with KCRS (contiguous) weights,
# cudnn.benchmark on, TF32 and cudnn.deterministic from --tf32 / --deterministic (default off). One JSON object.
# Usage: python3 bench/peers/pytorch_gpu_ops.py [--dtypes f32,f16,bf16] [--iters 50] [--repeats 5]
#                                               [--tf32 on|off] [--deterministic on|off]
import argparse, json, statistics, sys

import torch
import torch.nn.functional as F

DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


def timed(fn, iters, warmup, repeats):
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        stop.record()
        stop.synchronize()
        ms.append(start.elapsed_time(stop) / iters)
    return statistics.median(ms)


def cases(dt, name):
    dev = "cuda"
    es = torch.tensor([], dtype=dt).element_size()
    out = []
    for m in (4096, 8192):
        x = torch.randn(m, m, device=dev, dtype=dt) * 0.1
        w = torch.randn(m, m, device=dev, dtype=dt) * 0.1
        b = torch.randn(m, device=dev, dtype=dt) * 0.1
        shape = f"{m}x{m}x{m}"
        out.append(("linear_forward_bias_relu", shape, 2.0 * m ** 3, 0.0, lambda x=x, w=w, b=b: F.relu(F.linear(x, w, b))))
        dy = torch.randn(m, m, device=dev, dtype=dt) * 0.1
        y = F.relu(F.linear(x, w, b))

        def lin_bwd(x=x, w=w, dy=dy, y=y):
            g = dy * (y > 0)
            g @ w  # dx
            g.t() @ x  # dw
            g.sum(0)  # db
        out.append(("linear_backward_relu", shape, 4.0 * m ** 3, 0.0, lin_bwd))
    torch.backends.cudnn.benchmark = True
    for n, c, k, hw, stride in ((256, 64, 64, 32, 1), (256, 128, 128, 16, 1), (256, 256, 256, 8, 1), (256, 128, 256, 16, 2)):
        x = torch.randn(n, c, hw, hw, device=dev, dtype=dt).to(memory_format=torch.channels_last)
        w = torch.randn(k, c, 3, 3, device=dev, dtype=dt) * 0.1  # KCRS, as sprint's weights
        o = (hw + 2 - 3) // stride + 1
        dy = torch.randn(n, k, o, o, device=dev, dtype=dt).to(memory_format=torch.channels_last)
        flops = 2.0 * n * k * o * o * c * 9
        shape = f"N{n} C{c} K{k} {hw}x{hw} s{stride} NHWC"
        out.append(("conv2d_forward", shape, flops, 0.0, lambda x=x, w=w, s=stride: F.conv2d(x, w, None, s, 1)))
        conv_bwd = torch.ops.aten.convolution_backward
        out.append(("conv2d_backward_data", shape, flops, 0.0,
                    lambda x=x, w=w, dy=dy, s=stride: conv_bwd(dy, x, w, None, [s, s], [1, 1], [1, 1], False, [0, 0], 1, [True, False, False])))
        out.append(("conv2d_backward_weight", shape, flops, 0.0,
                    lambda x=x, w=w, dy=dy, s=stride: conv_bwd(dy, x, w, None, [s, s], [1, 1], [1, 1], False, [0, 0], 1, [False, True, False])))
    n, c, hw = 256, 128, 16
    x = torch.randn(n, c, hw, hw, device=dev, dtype=dt).to(memory_format=torch.channels_last)
    bn = torch.nn.BatchNorm2d(c).to(dev)
    if dt != torch.float32:
        bn = bn.to(dt)
    out.append(("batch_norm_forward_training", f"N{n} C{c} {hw}x{hw} NHWC", 0.0, 3.0 * x.numel() * es, lambda x=x, bn=bn: bn(x)))
    n = 1 << 26
    a = torch.randn(n, device=dev, dtype=dt)
    b = torch.randn(n, device=dev, dtype=dt)
    o = torch.empty_like(a)
    out.append(("relu_forward", str(n), 0.0, 2.0 * n * es, lambda a=a, o=o: torch.clamp_min(a, 0, out=o)))
    out.append(("axpby", str(n), 0.0, 3.0 * n * es, lambda a=a, b=b, o=o: torch.add(a * 0.5, b, alpha=2.0, out=o)))
    if dt != torch.float32:
        f32 = torch.empty(n, device=dev, dtype=torch.float32)
        out.append(("cast_to_f32", str(n), 0.0, n * (es + 4.0), lambda a=a, f32=f32: f32.copy_(a)))
    n, k = 8192, 1000
    logits = torch.randn(n, k, device=dev, dtype=dt)
    target = torch.full((n,), 3, device=dev, dtype=torch.long)
    out.append(("cross_entropy_forward", f"{n}x{k}", 0.0, 2.0 * n * k * es,
                lambda l=logits, t=target: F.cross_entropy(l, t, label_smoothing=0.1)))
    if dt == torch.float32:
        sizes = (1728, 36864, 36864, 36864, 36864, 73728, 147456, 147456, 147456, 294912, 589824, 589824, 589824,
                 1179648, 2359296, 2359296, 2359296, 5120)
        params = [torch.nn.Parameter(torch.randn(s, device=dev)) for s in sizes]
        for p in params:
            p.grad = torch.randn_like(p)
        opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, foreach=True)
        opt.step()  # creates the momentum buffers
        total = float(sum(sizes))
        out.append(("sgd_momentum_multi_tensor", f"{len(sizes)} tensors, {total:.0f} values", 0.0, total * 4.0 * 5.0, opt.step))
    return out


def measure_peaks(dtypes, iters, warmup, repeats):
    peaks = {"gemm_tflops": {}}
    m = 8192
    for name in dtypes:
        x = torch.randn(m, m, device="cuda", dtype=DTYPES[name]) * 0.1
        w = torch.randn(m, m, device="cuda", dtype=DTYPES[name]) * 0.1
        t = timed(lambda: torch.mm(x, w.t()), iters, warmup, repeats)
        peaks["gemm_tflops"][name] = 2.0 * m ** 3 / (t * 1e-3) / 1e12
    n = 1 << 28
    a = torch.randn(n, device="cuda")
    b = torch.empty_like(a)
    t = timed(lambda: b.copy_(a), iters, warmup, repeats)
    peaks["copy_gbps"] = 2.0 * n * 4 / (t * 1e-3) / 1e9
    peaks["how"] = "8192^3 torch.mm per dtype; 1 GiB device copy, read + write"
    return peaks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtypes", default="f32,f16,bf16")
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tf32", choices=("on", "off"), default="off")
    ap.add_argument("--deterministic", choices=("on", "off"), default="off")
    ap.add_argument("--filter", default="")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("pytorch_gpu_ops: no CUDA device")
    torch.backends.cuda.matmul.allow_tf32 = args.tf32 == "on"  # as sprint: f32 stays f32 unless asked
    torch.backends.cudnn.allow_tf32 = args.tf32 == "on"
    torch.backends.cudnn.deterministic = args.deterministic == "on"
    dtypes = args.dtypes.split(",")
    results = []
    with torch.no_grad():
        peaks = measure_peaks(dtypes, args.iters, args.warmup, args.repeats)
        for name in dtypes:
            for op, shape, flops, nbytes, fn in cases(DTYPES[name], name):
                if args.filter and args.filter not in op:
                    continue
                t = timed(fn, args.iters, args.warmup, args.repeats)
                r = {"op": op, "dtype": name, "shape": shape, "ms": t}
                if flops > 0:
                    r["tflops"] = flops / (t * 1e-3) / 1e12
                    r["fraction_of_peak"] = r["tflops"] / peaks["gemm_tflops"][name]
                else:
                    r["gbps"] = nbytes / (t * 1e-3) / 1e9
                    r["fraction_of_peak"] = r["gbps"] / peaks["copy_gbps"]
                results.append(r)
                print(json.dumps(r), file=sys.stderr)
    settings = {"convolution_layout": "NHWC activations, KCRS weights",
                "f32_math": "tf32" if args.tf32 == "on" else "fma (no TF32)",
                "algorithm_search": "cudnn.benchmark", "deterministic": args.deterministic == "on"}
    print(json.dumps({"peer": f"pytorch {torch.__version__}", "device": torch.cuda.get_device_name(),
                      "settings": settings, "peaks": peaks, "results": results}))


if __name__ == "__main__":
    main()
