#!/usr/bin/env bash
# cpu_suite.sh: the CPU benchmarks of docs/benchmarks.md, sprint and its PyTorch peer side by side, one after the
# other on the same machine. Prints one JSON object per line (sprint_bench_train / bench/peers/pytorch_train.py).
# Usage: bench/cpu_suite.sh [BUILD_DIR]     (peer: Debian's python3-torch, run with /usr/bin/python3; skipped if absent)
set -euo pipefail
build=${1:-build}
peer=(/usr/bin/python3 "$(dirname "$0")/peers/pytorch_train.py")
have_peer=1
/usr/bin/python3 -c "import torch" 2>/dev/null || { have_peer=0; echo "cpu_suite: no PyTorch peer (apt-get install python3-torch)" >&2; }

run() {  # run MODEL BATCH THREADS EPOCHS [extra sprint args...]
  local model=$1 batch=$2 threads=$3 epochs=$4; shift 4
  "$build/bin/sprint_bench_train" --model "$model" --batch "$batch" --threads "$threads" --epochs "$epochs" "$@"
  if [[ $have_peer == 1 && $# -eq 0 ]]; then
    "${peer[@]}" --model "$model" --batch "$batch" --threads "$threads" --epochs "$epochs"
  fi
}

for threads in 1 2; do
  for batch in 64 256; do run mlp "$batch" "$threads" 3; done
done
run mlp 64 1 3 --gemm openblas
run mlp 64 1 3 --resident on
for threads in 1 2; do run cnn 64 "$threads" 2; done
