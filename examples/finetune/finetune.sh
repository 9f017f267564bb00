#!/usr/bin/env bash
# Fine-tune XLM-R or a WEAM checkpoint on English XNLI / PAWS-X (XTREME layout) with a robust method.
# Single-sentence tasks (2-column files) work too: fairseq's sentence_prediction then reads input0 only.
#   TASK=pawsx TASK_DIR=data/pawsx MODEL_DIR=xlmr.base METHOD=adversarial OUT=runs/pawsx-adv \
#     bash examples/finetune/finetune.sh [extra fairseq-train flags]
# MODEL_DIR holds model.pt, dict.txt and sentencepiece.bpe.model (XLM-R's layout; for a WEAM checkpoint set
# MODEL, DICT and SPM_MODEL: DICT and SPM_MODEL are in the weam-prepare data dir).
# Defaults follow Robust-XLT's released scripts: lr 2e-5, max length 128, batch 32, 3 epochs (PAWS-X) or
# 1 epoch (XNLI), AdamW eps 1e-8, no weight decay, no warm-up, linear decay, clip 1.0, best English dev.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
: "${TASK_DIR:?set TASK_DIR to a dir with train-en.tsv, dev-en.tsv, test-{lang}.tsv}"
TASK="${TASK:-pawsx}"                               # pawsx | xnli | labels (LABELS or TASK_DIR/labels.txt)
LABELS="${LABELS:-}"                                # TASK=labels: comma-separated label set (order = class ids),
[ -z "$LABELS" ] && [ -f "$TASK_DIR/labels.txt" ] && LABELS=$(paste -sd, "$TASK_DIR/labels.txt")  # else the task's
METHOD="${METHOD:-none}"                            # none | adversarial | noise | augmentation
source "$HERE/common.sh"                            # MODEL, DICT, SPM_MODEL, ARCH_FLAGS, DEVICE_FLAGS, FROM_MODEL, ROBUST_FLAGS
SEED="${SEED:-7}"
OUT="${OUT:-runs/${TASK}_${METHOD}_seed${SEED}}"
LR="${LR:-2e-5}"
BATCH="${BATCH:-32}"                                # sentences per update (= BATCH_PER_STEP x UPDATE_FREQ)
UPDATE_FREQ="${UPDATE_FREQ:-1}"
MAX_LEN="${MAX_LEN:-128}"
VALIDATE_EVERY="${VALIDATE_EVERY:-500}"             # updates (Robust-XLT: 500 PAWS-X, 1000 XNLI)
WORKERS="${WORKERS:-4}"
case "$TASK" in
  pawsx) NUM_CLASSES=2; EPOCHS="${EPOCHS:-3}"; COPIES="${COPIES:-10}" ;;
  xnli)  NUM_CLASSES=3; EPOCHS="${EPOCHS:-1}"; COPIES="${COPIES:-3}" ;;
  labels) : "${LABELS:?TASK=labels needs LABELS=a,b,... or TASK_DIR/labels.txt (one label per line)}"; IFS=, read -r -a _L <<< "$LABELS"
          NUM_CLASSES=${#_L[@]}; EPOCHS="${EPOCHS:-3}"; COPIES="${COPIES:-10}" ;;
  *) echo "TASK must be pawsx, xnli or labels" >&2; exit 2 ;;
esac
LABEL_FLAGS=(--task "$TASK")
[ "$TASK" = labels ] && LABEL_FLAGS=(--labels "$LABELS")
NEIGHBOURS="${NEIGHBOURS:-}"                        # augmentation: {word: [neighbours]} JSON

mkdir -p "$OUT"
DATA_DIR="$TASK_DIR"
CRITERION_METHOD="$METHOD"
if [ "$METHOD" = augmentation ]; then
  : "${NEIGHBOURS:?METHOD=augmentation needs NEIGHBOURS (e.g. counterfitted_neighbors.json)}"
  [ -d "$OUT/task-augmented" ] || weam-augment "$TASK_DIR" "$OUT/task-augmented" --neighbours "$NEIGHBOURS" \
    --copies "$COPIES" --seed "$SEED" "${LABEL_FLAGS[@]}"
  DATA_DIR="$OUT/task-augmented"
  CRITERION_METHOD=none
fi

[ -f "$OUT/bin/prepare_report.json" ] || weam-xtreme-prepare "$DATA_DIR" --destdir "$OUT/bin" "${LABEL_FLAGS[@]}" \
  --spm-model "$SPM_MODEL" --dict "$DICT" --max-len "$MAX_LEN" --workers "$WORKERS"

# Linear decay to zero over the whole run needs the number of updates.
TRAIN_SIZE=$(train_count "$OUT/bin")
TOTAL_UPDATES=$(( (TRAIN_SIZE + BATCH - 1) / BATCH * EPOCHS ))

fairseq-train "$OUT/bin" --user-dir "$HERE/../../fairseq_weam" \
  --task sentence_prediction --num-classes "$NUM_CLASSES" --init-token 0 --separator-token 2 \
  "${ARCH_FLAGS[@]}" "${FROM_MODEL[@]}" \
  --criterion robust_sentence_prediction --robust-method "$CRITERION_METHOD" \
  "${ROBUST_FLAGS[@]}" \
  --optimizer adam --adam-betas '(0.9,0.999)' --adam-eps 1e-8 --weight-decay 0.0 --clip-norm 1.0 \
  --lr-scheduler polynomial_decay --lr "$LR" --warmup-updates 0 --total-num-update "$TOTAL_UPDATES" \
  --batch-size $(( BATCH / UPDATE_FREQ )) --update-freq "$UPDATE_FREQ" --max-epoch "$EPOCHS" \
  --dropout 0.1 --attention-dropout 0.1 --seed "$SEED" \
  --valid-subset valid --best-checkpoint-metric accuracy --maximize-best-checkpoint-metric \
  --validate-interval-updates "$VALIDATE_EVERY" --save-interval-updates "$VALIDATE_EVERY" \
  --keep-interval-updates 1 --no-epoch-checkpoints --save-dir "$OUT/checkpoints" \
  --log-format simple --log-interval 50 "${DEVICE_FLAGS[@]}" "$@"
echo "finetune.sh: best checkpoint (English dev accuracy) at $OUT/checkpoints/checkpoint_best.pt"
