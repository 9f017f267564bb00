#!/usr/bin/env bash
# Compare WEAM with its TLM and MLM baselines: same data, same batches and masks per seed, same updates.
#   DATA=runs/wr/DATA RESULTS=runs/wr/results SEEDS="1 2 3" MAX_UPDATE=1000 bash examples/pretrain/compare_objectives.sh
# Per run: fairseq-train (tiny model, CPU by default), fairseq-validate of the final model on WEAM batches
# (valid ml_loss and cl_loss: how well the model predicts a masked word from the exchanged, aligned
# representations of the other language, whatever objective trained it), weam-retrieval on the valid split.
# Then the table, mean ± std over seeds.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
USER_DIR="$HERE/../../fairseq_weam"
: "${DATA:?set DATA to a weam-prepare output directory}"
RESULTS="${RESULTS:-results/compare_objectives}"
SEEDS="${SEEDS:-1 2 3}"
OBJECTIVES="${OBJECTIVES:-mlm tlm weam}"
MAX_UPDATE="${MAX_UPDATE:-1000}"
BATCH_SIZE="${BATCH_SIZE:-32}"
DEVICE_FLAGS="${DEVICE_FLAGS:---cpu}"
ARCH_FLAGS="${ARCH_FLAGS:---arch roberta_base --encoder-layers 2 --encoder-embed-dim 128 --encoder-ffn-embed-dim 512 --encoder-attention-heads 2}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

for seed in $SEEDS; do
  for objective in $OBJECTIVES; do
    run="$RESULTS/${objective}_seed${seed}"
    [ -f "$run/retrieval.json" ] && continue   # done already: re-running the script resumes the comparison
    mkdir -p "$run"
    # shellcheck disable=SC2086
    fairseq-train "$DATA" --user-dir "$USER_DIR" --task weam --criterion weam --objective "$objective" \
      $ARCH_FLAGS --max-positions 128 --tokens-per-sample 128 --batch-size "$BATCH_SIZE" \
      --optimizer adam --adam-betas '(0.9,0.98)' --lr 5e-4 --lr-scheduler polynomial_decay \
      --warmup-updates $((MAX_UPDATE / 10)) --total-num-update "$MAX_UPDATE" --max-update "$MAX_UPDATE" \
      --seed "$seed" --save-dir "$run/ckpt" --no-epoch-checkpoints --disable-validation \
      --log-format simple --log-interval $((MAX_UPDATE / 10)) --num-workers 0 $DEVICE_FLAGS \
      > "$run/train.log" 2>&1
    ckpt="$run/ckpt/checkpoint_last.pt"
    # shellcheck disable=SC2086
    fairseq-validate "$DATA" --user-dir "$USER_DIR" --task weam --path "$ckpt" \
      --model-overrides "{'objective': 'weam', 'seed': 1}" --batch-size "$BATCH_SIZE" --num-workers 0 \
      $DEVICE_FLAGS > "$run/validate.log" 2>&1
    weam-retrieval "$ckpt" --data "$DATA" --split valid --output "$run/retrieval.json" 2> "$run/retrieval.log"
    tail -n 1 "$run/retrieval.log"
  done
done
python3 "$HERE/../../scripts/summarize_objectives.py" "$RESULTS" | tee "$RESULTS/table.md"
