#!/usr/bin/env bash
# Compare WEAM with its TLM and MLM baselines: same data, same batches and masks per seed, same updates,
# several PRE-TRAINING seeds, and the question that matters: zero-shot transfer downstream.
#   DATA=runs/wr/DATA RESULTS=runs/wr/results SEEDS="1 2 3" MAX_UPDATE=1000 bash examples/pretrain/compare_objectives.sh
# Per pre-training seed and objective:
#   fairseq-train (tiny model, CPU by default); fairseq-validate of the final model on WEAM batches (valid
#   ml_loss and cl_loss: how well the model predicts a masked word from the exchanged, aligned
#   representations of the other language, whatever objective trained it); weam-retrieval on the valid split;
#   fine-tuning on the English part of the downstream task (examples/finetune/finetune.sh, METHOD=none) and
#   zero-shot evaluation on every test language (examples/finetune/evaluate.sh -> weam-evaluate).
# The downstream task is the demo's (weam-gettext-pairs --label program: which of the TASK_PROGRAMS largest
# programs does this UI message come from?), made here unless TASK_DIR names one; TEST_LANGS should be the
# non-English sides of DATA's pairs.
# Then two tables, mean ± std over pre-training seeds: pre-training and retrieval (scripts/summarize_objectives.py,
# $RESULTS/table.md) and zero-shot accuracy (weam-report, $RESULTS/downstream/summary.md).
# Finished steps are skipped on re-runs. JOBS runs that many at once (one CPU thread each).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
USER_DIR="$HERE/../../fairseq_weam"
: "${DATA:?set DATA to a weam-prepare output directory}"
RESULTS="${RESULTS:-results/compare_objectives}"
SEEDS="${SEEDS:-1 2 3}"                             # pre-training seeds (one fine-tuning run per pre-trained model)
OBJECTIVES="${OBJECTIVES:-mlm tlm weam}"
MAX_UPDATE="${MAX_UPDATE:-1000}"
BATCH_SIZE="${BATCH_SIZE:-32}"
DEVICE_FLAGS="${DEVICE_FLAGS:---cpu}"
ARCH_FLAGS="${ARCH_FLAGS:---arch roberta_base --encoder-layers 2 --encoder-embed-dim 128 --encoder-ffn-embed-dim 512 --encoder-attention-heads 2 --max-positions 128}"
TEST_LANGS="${TEST_LANGS:-de,fr,ru}"
TASK_DIR="${TASK_DIR:-$RESULTS/task}"
TASK_PROGRAMS="${TASK_PROGRAMS:-4}"                 # classes of the downstream task (majority class 1/TASK_PROGRAMS)
TASK_TRAIN_SIZE="${TASK_TRAIN_SIZE:-2000}"          # English training messages of the downstream task
FINETUNE_SEED="${FINETUNE_SEED:-1}"
FINETUNE_EPOCHS="${FINETUNE_EPOCHS:-3}"
FINETUNE_LR="${FINETUNE_LR:-1e-4}"
JOBS="${JOBS:-2}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
mkdir -p "$RESULTS"

[ -d "$TASK_DIR" ] || weam-gettext-pairs "$TASK_DIR" --langs "$TEST_LANGS" --label program \
  --max-programs "$TASK_PROGRAMS" --max-per-program 1000 --train-size "$TASK_TRAIN_SIZE" --dev-size 300 \
  --test-size 300 --seed 1

one_run() {  # objective seed
  local run="$RESULTS/${1}_seed$2" ckpt
  ckpt="$run/ckpt/checkpoint_last.pt"
  mkdir -p "$run"
  if [ ! -f "$run/retrieval.json" ]; then
    # shellcheck disable=SC2086
    fairseq-train "$DATA" --user-dir "$USER_DIR" --task weam --criterion weam --objective "$1" \
      $ARCH_FLAGS --tokens-per-sample 128 --batch-size "$BATCH_SIZE" \
      --optimizer adam --adam-betas '(0.9,0.98)' --lr 5e-4 --lr-scheduler polynomial_decay \
      --warmup-updates $((MAX_UPDATE / 10)) --total-num-update "$MAX_UPDATE" --max-update "$MAX_UPDATE" \
      --seed "$2" --save-dir "$run/ckpt" --no-epoch-checkpoints --disable-validation \
      --log-format simple --log-interval $((MAX_UPDATE / 10)) --num-workers 0 $DEVICE_FLAGS \
      > "$run/train.log" 2>&1 || { echo "pre-training failed: $run/train.log" >&2; return 1; }
    # shellcheck disable=SC2086
    fairseq-validate "$DATA" --user-dir "$USER_DIR" --task weam --path "$ckpt" \
      --model-overrides "{'objective': 'weam', 'seed': 1}" --batch-size "$BATCH_SIZE" --num-workers 0 \
      $DEVICE_FLAGS > "$run/validate.log" 2>&1 || { echo "validation failed: $run/validate.log" >&2; return 1; }
    weam-retrieval "$ckpt" --data "$DATA" --split valid --output "$run/retrieval.json" 2> "$run/retrieval.log" \
      || { echo "retrieval failed: $run/retrieval.log" >&2; return 1; }
  fi
  if [ ! -f "$run/downstream/eval/results.json" ]; then
    TASK=labels TASK_DIR="$TASK_DIR" METHOD=none OUT="$run/downstream" SEED="$FINETUNE_SEED" MODEL="$ckpt" \
    DICT="$DATA/dict.txt" SPM_MODEL="$DATA/sentencepiece.bpe.model" ARCH_FLAGS="$ARCH_FLAGS" LR="$FINETUNE_LR" \
    EPOCHS="$FINETUNE_EPOCHS" VALIDATE_EVERY=125 WORKERS=1 DEVICE_FLAGS="$DEVICE_FLAGS --num-workers 0" \
      bash "$HERE/../finetune/finetune.sh" > "$run/finetune.log" 2>&1 \
      || { echo "fine-tuning failed: $run/finetune.log" >&2; return 1; }
    TASK=labels TASK_DIR="$TASK_DIR" OUT="$run/downstream" SEED="$FINETUNE_SEED" DICT="$DATA/dict.txt" \
    SPM_MODEL="$DATA/sentencepiece.bpe.model" bash "$HERE/../finetune/evaluate.sh" > "$run/evaluate.log" 2>&1 \
      || { echo "evaluation failed: $run/evaluate.log" >&2; return 1; }
  fi
  echo "$1 seed $2: $(tail -n 1 "$run/retrieval.log"); zero-shot $(grep -m1 "average" "$run/downstream/eval/results.md")"
}

pids=()
specs=()
for seed in $SEEDS; do
  for objective in $OBJECTIVES; do
    one_run "$objective" "$seed" &
    pids+=($!)
    specs+=("$objective=$RESULTS/${objective}_seed$seed/downstream/eval/results.json")
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 2; done
  done
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
[ "$failed" -eq 0 ] || exit 1
python3 "$HERE/../../scripts/summarize_objectives.py" "$RESULTS" | tee "$RESULTS/table.md"
weam-report "${specs[@]}" --out-dir "$RESULTS/downstream"
