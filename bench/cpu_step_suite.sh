#!/usr/bin/env bash
# cpu_step_suite.sh: median training-step time of the conv models on the CPU, sprint and its PyTorch peer
# alternating (sprint, peer, sprint, peer, ...) so that both see the same machine state. One JSON object per line
# (sprint_bench_step / bench/peers/pytorch_step.py); the peer runs NCHW (PyTorch's default) and channels-last.
# Usage: [AIRBENCH=1] [AMP=bf16] bench/cpu_step_suite.sh [BUILD_DIR] [ROUNDS]   (peer: Debian's python3-torch via
# /usr/bin/python3). AMP=bf16 (or f16) runs both sides in mixed precision: sprint --amp, PyTorch torch.autocast.
set -euo pipefail
build=${1:-build}
rounds=${2:-3}
peer=(/usr/bin/python3 "$(dirname "$0")/peers/pytorch_step.py")
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "cpu_step_suite: no PyTorch peer (apt-get install python3-torch)" >&2; exit 1; }

step() {  # step MODEL SHAPE THREADS STEPS [BATCH]
  local model=$1 shape=$2 threads=$3 steps=$4 batch=${5:-64}
  local common=(--model "$model" --shape "$shape" --threads "$threads" --steps "$steps" --batch "$batch" --amp "${AMP:-off}")
  for ((r = 0; r < rounds; ++r)); do
    "$build/bin/sprint_bench_step" "${common[@]}"
    "${peer[@]}" "${common[@]}"
    "${peer[@]}" "${common[@]}" --channels-last
  done
}

step cnn 1x28x28 1 30
step cnn 1x28x28 2 30
step resnet18 3x32x32 2 8
# airbench94's step at its batch of 1024 (about 12-20 s a step on 2 cores): set AIRBENCH=1 to include it.
if [[ ${AIRBENCH:-0} == 1 ]]; then step airbench94 3x32x32 2 3 1024; fi
