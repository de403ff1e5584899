#!/usr/bin/env bash
# device_check.sh: the GPU checks and benchmarks of issue #3, run on the lent GPU machine in one call, over the
# pack made by scripts/pack_for_device.sh (carried as device-pack/). Writes logs and JSON under $OUT (default
# ./device-out). Every step has its own time limit, so one hang cannot eat the whole lease.
# Usage (device tool): run(command="scripts/device_check.sh", carry=["device-pack"], timeout_s=560)
#        STEPS="tests ops train" (default: all) selects steps.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-$PWD/device-out}
mkdir -p "$out"
steps=${STEPS:-"probe tests ops train"}
pack=/tmp/sprint-pack
rm -rf "$pack" && mkdir -p "$pack" && tar -xJf device-pack/pack.tar.xz -C "$pack" || { echo "no device-pack/pack.tar.xz" >&2; exit 1; }
py=$(command -v python3)
# CUDA 13 libraries: the CUDA image's, else PyTorch's nvidia wheels.
libdirs=$pack/lib
for name in libcublasLt.so.13 libcudnn.so.9; do
  found=$( (ls /usr/local/cuda/lib64/$name* 2>/dev/null; "$py" - <<PY 2>/dev/null
import glob, os, nvidia
for root in nvidia.__path__:
    for p in glob.glob(os.path.join(root, "**", "$name*"), recursive=True):
        print(p)
PY
  ) | head -1)
  [[ -n "$found" ]] && libdirs=$libdirs:$(dirname "$found")
done
export LD_LIBRARY_PATH=$libdirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export SPRINT_DATA=$pack/data
bin=$pack/bin
log=$out/log.txt
say() { echo "== $* ($(date +%T))" | tee -a "$log"; }
step() { local limit=$1; shift; timeout "$limit" "$@" 2>&1 | tee -a "$log"; echo "rc=${PIPESTATUS[0]}" | tee -a "$log"; }

if [[ " $steps " == *" probe "* ]]; then
  say probe
  step 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  step 10 bash -c "ldd $bin/sprint | grep -E 'not found|cudnn|cublas' || true"
  step 30 "$bin/sprint" info
fi
if [[ " $steps " == *" tests "* ]]; then
  say tests
  for t in gpu_test parity_test parity_conv_test; do
    step 180 "$pack/tests/$t" --gtest_brief=1 --gtest_output=json:"$out/$t.json"
  done
fi
if [[ " $steps " == *" ops "* ]]; then
  say ops
  step 150 bash -c "'$bin/sprint_bench_gpu_ops' --iters 20 --repeats 3 > '$out/sprint_gpu_ops.json'"
  step 150 bash -c "'$py' bench/peers/pytorch_gpu_ops.py --iters 20 --repeats 3 > '$out/torch_gpu_ops.json'"
fi
if [[ " $steps " == *" train "* ]]; then
  say train
  : > "$out/train.jsonl"
  for cfg in "mlp 64" "mlp 256" "cnn 64" "cnn 256"; do
    set -- $cfg
    step 90 bash -c "'$bin/sprint_bench_train' --device cuda --resident on --model $1 --batch $2 --epochs 3 >> '$out/train.jsonl'"
    step 90 bash -c "'$py' bench/peers/pytorch_train.py --device cuda --model $1 --batch $2 --epochs 3 --data '$pack/data/fashion-mnist' >> '$out/train.jsonl'"
  done
  step 90 "$bin/sprint" train --device cuda --cuda-graph --model mlp --epochs 2 --report "$out/graph_report.json"
fi
say done
