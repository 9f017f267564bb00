#!/usr/bin/env bash
# Compare fine-tuning methods over seeds: standard (none), adversarial, noise, augmentation (RS-DA), each
# fine-tuned on English only and evaluated zero-shot (standard + generalized setting, PGD attack); then one
# table with mean ± std over seeds (weam-report).
#   MODEL=ckpt.pt DICT=DATA/dict.txt SPM_MODEL=DATA/sentencepiece.bpe.model TASK_DIR=task \
#   NEIGHBOURS=counterfitted_neighbors.json RESULTS=runs/compare SEEDS="1 2 3" bash examples/finetune/compare_methods.sh
# Every other variable of finetune.sh (ARCH_FLAGS, LR, EPOCHS, ADV_*, NOISE_*, DEVICE_FLAGS, ...) passes through.
# JOBS runs that many fine-tunings at once (one CPU thread each on CPU). Finished runs are skipped on re-runs.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
: "${TASK_DIR:?set TASK_DIR}" "${MODEL:?set MODEL (the pre-trained checkpoint)}"
RESULTS="${RESULTS:-runs/compare_methods}"
SEEDS="${SEEDS:-1 2 3}"
METHODS="${METHODS:-none adversarial noise augmentation}"
JOBS="${JOBS:-2}"
PGD_EPS="${PGD_EPS:-0.5}"
export TASK="${TASK:-pawsx}" TASK_DIR MODEL
[ -n "${NEIGHBOURS:-}" ] || METHODS="${METHODS//augmentation/}"   # RS-DA needs a neighbours file

one_run() {  # method seed
  local out="$RESULTS/$1-seed$2"
  if [ ! -f "$out/eval/results.json" ]; then
    mkdir -p "$out"
    METHOD="$1" SEED="$2" OUT="$out" bash "$HERE/finetune.sh" > "$out/train.log" 2>&1 \
      || { echo "fine-tuning failed: $out/train.log" >&2; return 1; }
    SEED="$2" OUT="$out" PGD_EPS="$PGD_EPS" bash "$HERE/evaluate.sh" > "$out/eval.log" 2>&1 \
      || { echo "evaluation failed: $out/eval.log" >&2; return 1; }
  fi
  echo "$1 seed $2: $(grep -m1 "average" "$out/eval/results.md")"
}

pids=()
specs=()
for seed in $SEEDS; do
  for method in $METHODS; do
    one_run "$method" "$seed" &
    pids+=($!)
    specs+=("$method=$RESULTS/$method-seed$seed/eval/results.json")
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 2; done
  done
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
[ "$failed" -eq 0 ] || exit 1
weam-report "${specs[@]}" --out-dir "$RESULTS/report"
