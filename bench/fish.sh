#!/usr/bin/env bash
# fish.sh: FISH's two comparisons (seed 004, the paper's Tables 3 and 4) at CPU scale, with sprint alone:
#   small checkpoints (Table 4): one process trains only the entries of a fixed mask computed on the initial weights
#     (FISH: empirical Fisher over N augmented examples; random: uniform scores), at keep 0.5%, 2%, 10%, and dense;
#     test accuracy and the small checkpoint's size against the full one;
#   distributed (Table 3): 2 ranks of local SGD on the whole training set each, the first epoch dense, then the same
#     masks; merges every M steps; test accuracy and the bytes each rank sent, against a dense merge's.
# The paper trains ResNet-34 for 50 / 100 epochs on all of CIFAR-10; this runs MODEL on the first TRAIN images for
# EPOCHS epochs with the cifar10-fast augmentation (reflect-pad 4 crop, flip, cutout 8) and Nesterov SGD (momentum
# 0.9, weight decay 5e-4 on every parameter, lr 0 -> PEAK at 1/5 of the run -> 0). One seed. Prints one JSON object
# per run and writes OUT/RESULTS.md with both tables and whether the paper's claims hold here.
# Usage: bench/fish.sh [SPRINT] [OUT] [MODEL] [EPOCHS] [TRAIN] [PEAK_LR] [MERGE_EVERY]
#        (default: build/bin/sprint bench-fish cnn 4 10000 0.05 20)
set -euo pipefail
sprint=${1:-build/bin/sprint}
out=${2:-bench-fish}
model=${3:-cnn}
epochs=${4:-4}
train=${5:-10000}
peak=${6:-0.05}
merge=${7:-20}
samples=256
mkdir -p "$out"
mpi=(mpiexec -np 2 --oversubscribe --allow-run-as-root --bind-to none)
augment=(--crop-pad 4 --flip random --cutout 8)
warm=$(awk -v e="$epochs" 'BEGIN { printf "%g", e / 5 }')
recipe=(train --model "$model" --dataset cifar10 --epochs "$epochs" --limit-train "$train" --batch-size 128
        --optimizer sgd --momentum 0.9 --nesterov --weight-decay 5e-4 --lr "$peak" --schedule piecewise
        --lr-knots "0:0,$warm:1x,$epochs:0" --progress off "${augment[@]}")
keeps=(0.005 0.02 0.1)

"$sprint" fisher --model "$model" --dataset cifar10 --method dense --out "$out/dense.safetensors" \
  --save-init "$out/init.safetensors" --limit-train "$train" >/dev/null
for keep in "${keeps[@]}"; do
  "$sprint" fisher --model "$model" --dataset cifar10 --checkpoint "$out/init.safetensors" --samples "$samples" \
    --keep "$keep" --limit-train "$train" "${augment[@]}" --out "$out/fisher-$keep.safetensors" >/dev/null
  "$sprint" fisher --model "$model" --dataset cifar10 --checkpoint "$out/init.safetensors" --method random \
    --keep "$keep" --out "$out/random-$keep.safetensors" >/dev/null
done

row() {  # row TABLE METHOD KEEP REPORT
  jq -c --arg table "$1" --arg method "$2" --arg keep "$3" \
    '{table: $table, method: $method, keep: $keep, test_accuracy: .final.test_accuracy,
      train_seconds: .final.train_seconds_total, kept: (.sparse.kept // null),
      small_bytes: (.sparse.small_checkpoint.bytes // null), full_bytes: (.sparse.small_checkpoint.full_bytes // null),
      bytes_sent: (.sparse.local_sgd.bytes_sent // null), merges: (.sparse.local_sgd.merges // null),
      masked_bytes_sent: (.sparse.local_sgd.masked_bytes_sent // null),
      dense_bytes_for_the_masked_merges: (.sparse.local_sgd.dense_bytes_for_the_masked_merges // null)}' "$4"
}

: >"$out/rows.jsonl"
for method in dense fisher random; do
  for keep in "${keeps[@]}"; do
    if [[ $method == dense ]]; then mask=$out/dense.safetensors; keep=1; else mask=$out/$method-$keep.safetensors; fi
    "$sprint" "${recipe[@]}" --init "$out/init.safetensors" --mask "$mask" \
      --save-sparse "$out/small-$method-$keep.safetensors" --report "$out/t4-$method-$keep.json" >"$out/t4-$method-$keep.log"
    row small-checkpoints "$method" "$keep" "$out/t4-$method-$keep.json" | tee -a "$out/rows.jsonl"
    "${mpi[@]}" "$sprint" "${recipe[@]}" --threads 1 --init "$out/init.safetensors" --mask "$mask" \
      --mask-after-epochs 1 --distributed --merge-every "$merge" --report "$out/t3-$method-$keep.json" \
      >"$out/t3-$method-$keep.log"
    row distributed "$method" "$keep" "$out/t3-$method-$keep.json" | tee -a "$out/rows.jsonl"
    [[ $method == dense ]] && break
  done
done

# RESULTS.md: both tables and the paper's claims checked on these numbers.
{
  echo "# FISH at CPU scale: $model, CIFAR-10 first $train images, $epochs epochs, 1 seed"
  echo
  echo "Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores. Command: bench/fish.sh $*"
  echo "Masks: fixed, computed on the initial weights (Fisher: $samples augmented examples, batch 1, eval mode);"
  echo "frozen entries stay bit for bit (--mask-update freeze). Distributed: 2 ranks, local SGD every $merge steps,"
  echo "epoch 1 dense. The paper's own Table 3 and 4 numbers (ResNet-34, full CIFAR-10) are not reproduced here."
  echo
  echo "## Small checkpoints (Table 4's setup)"
  echo
  echo "| mask | keep | test accuracy | small checkpoint | full checkpoint | ratio |"
  echo "|---|---|---|---|---|---|"
  jq -r 'select(.table == "small-checkpoints") |
    "| \(.method) | \(.keep) | \(.test_accuracy * 10000 | round / 100)% | \(.small_bytes) B | \(.full_bytes) B | \((.small_bytes / .full_bytes * 1000 | round) / 10)% |"' \
    "$out/rows.jsonl"
  echo
  echo "## Distributed sparse merges (Table 3's setup)"
  echo
  echo "| mask | keep | test accuracy | merges | bytes sent per rank | of which masked merges | dense bytes for those merges | ratio |"
  echo "|---|---|---|---|---|---|---|---|"
  jq -r 'select(.table == "distributed") |
    "| \(.method) | \(.keep) | \(.test_accuracy * 10000 | round / 100)% | \(.merges) | \(.bytes_sent) | \(.masked_bytes_sent) | \(.dense_bytes_for_the_masked_merges) | \(if .dense_bytes_for_the_masked_merges > 0 then ((.masked_bytes_sent / .dense_bytes_for_the_masked_merges * 10000 | round) / 100 | tostring) + "%" else "-" end) |"' \
    "$out/rows.jsonl"
  echo
  echo "## The paper's claims on these runs"
  echo
  for table in small-checkpoints distributed; do
    jq -rs --arg t "$table" '
      map(select(.table == $t)) as $r |
      ($r | map(select(.method == "dense")) | .[0].test_accuracy) as $dense |
      ($r | map(select(.method == "fisher")) | map({key: .keep, value: .test_accuracy}) | from_entries) as $f |
      ($r | map(select(.method == "random")) | map({key: .keep, value: .test_accuracy}) | from_entries) as $q |
      ($f | keys | map(if $f[.] > $q[.] then "holds at \(.)" else "does NOT hold at \(.) (FISH \($f[.]), random \($q[.]))" end) | join(", ")) as $beats |
      "- \($t): FISH beats random: \($beats); FISH at 10% is \((($dense - $f["0.1"]) * 10000 | round) / 100) points below dense (claim: within 1 point: \(if ($dense - $f["0.1"]) <= 0.01 then "holds" else "does NOT hold" end))."' \
      "$out/rows.jsonl"
  done
} >"$out/RESULTS.md"
echo "wrote $out/RESULTS.md" >&2
