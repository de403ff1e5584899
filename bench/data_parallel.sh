#!/usr/bin/env bash
# data_parallel.sh: `sprint train --distributed` on this machine against one process and against PyTorch's
# DistributedDataParallel (gloo) from bench/peers/pytorch_ddp.py, in alternating rounds. Prints one JSON object per
# line: {"run","round","ranks","samples_per_second","train_loss","test_accuracy"} (sprint's from its report, the
# peer's from its own JSON), plus sprint's bucket counts.
# Usage: bench/data_parallel.sh [SPRINT_BINARY] [ROUNDS] [MODEL] [BUCKET_MB]    (default: build/bin/sprint 3 cnn 0.25)
set -euo pipefail
sprint=${1:-build/bin/sprint}
rounds=${2:-3}
model=${3:-cnn}
bucket=${4:-0.25}
peers=$(cd "$(dirname "$0")/peers" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mpi=(mpiexec -np 2 --oversubscribe --allow-run-as-root --bind-to none)
common=(train --model "$model" --dataset fashion-mnist --epochs 1 --progress off --threads 1 --batch-size 64)
have_peer=1
/usr/bin/python3 -c "import torch.distributed" 2>/dev/null || { have_peer=0; echo "no PyTorch peer" >&2; }

sprint_row() {  # sprint_row NAME ROUND RANKS REPORT
  jq -c --arg run "$1" --argjson round "$2" --argjson ranks "$3" \
    '{run: $run, round: $round, ranks: $ranks, samples_per_second: .epochs[0].samples_per_second,
      train_loss: .epochs[0].train_loss, test_accuracy: .epochs[0].test_accuracy,
      buckets_reduced: (.distributed.buckets_reduced // 0),
      buckets_started_during_backward: (.distributed.buckets_started_during_backward // 0)}' "$4"
}
peer_row() {  # peer_row NAME ROUND RANKS JSON_LINE
  jq -c --arg run "$1" --argjson round "$2" --argjson ranks "$3" \
    '{run: $run, round: $round, ranks: $ranks, samples_per_second: .epochs[0].samples_per_second,
      train_loss: .epochs[0].train_loss, test_accuracy: .epochs[0].test_accuracy}' <<<"$4"
}

for round in $(seq 1 "$rounds"); do
  "$sprint" "${common[@]}" --report "$tmp/one.json" >/dev/null
  sprint_row "sprint 1 process" "$round" 1 "$tmp/one.json"
  for overlap in on off; do
    "${mpi[@]}" "$sprint" "${common[@]}" --distributed --bucket-mb "$bucket" --dist-overlap "$overlap" \
      --report "$tmp/ddp.json" >/dev/null
    sprint_row "sprint 2 ranks, buckets $bucket MiB, overlap $overlap" "$round" 2 "$tmp/ddp.json"
  done
  "${mpi[@]}" "$sprint" "${common[@]}" --distributed --report "$tmp/ddp.json" >/dev/null
  sprint_row "sprint 2 ranks, buckets 25 MiB (one bucket)" "$round" 2 "$tmp/ddp.json"
  if [[ $have_peer == 1 ]]; then
    peer_row "pytorch 1 process" "$round" 1 \
      "$(/usr/bin/python3 "$peers/pytorch_train.py" --model "$model" --threads 1 --batch 64 --epochs 1)"
    peer_row "pytorch DDP 2 ranks, buckets $bucket MiB" "$round" 2 \
      "$(/usr/bin/python3 "$peers/pytorch_ddp.py" --model "$model" --world 2 --threads 1 --batch 64 \
        --bucket-mb "$bucket")"
  fi
done
