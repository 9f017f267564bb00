#!/usr/bin/env bash
# Fine-tune XLM-R or a WEAM checkpoint for extractive QA on English (SQuAD v1.1, or TyDiQA-GoldP English),
# optionally with a robust method, then evaluate zero-shot on every test language of XQuAD, MLQA or
# TyDiQA-GoldP (predictions in the XTREME submission layout under $OUT/eval/predictions/<task>/).
#   TASK=xquad TASK_DIR=download/xquad MODEL_DIR=xlmr.base METHOD=adversarial OUT=runs/xquad-adv \
#     bash examples/finetune/qa.sh [extra fairseq-train flags]
# TASK_DIR is the task's folder as XTREME's download_data.sh lays it out; XQuAD and MLQA train on
# $TASK_DIR/../squad/train-v1.1.json (or TRAIN_FILE), TyDiQA on its English training file.
# MODEL_DIR holds model.pt, dict.txt and sentencepiece.bpe.model (XLM-R's layout; for a WEAM checkpoint set
# MODEL, DICT and SPM_MODEL).
# Defaults are XTREME's scripts/train_qa.sh (the XTREME-R baselines use it): lr 3e-5, 3 epochs, max length
# 384, doc stride 128, max query length 64, batch 32 (4 x 8 accumulation there), 500 warm-up updates then
# linear decay, weight decay 0.0001, AdamW eps 1e-8, clip 1.0; the last checkpoint is evaluated (n-best 20,
# max answer length 30).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
: "${TASK_DIR:?set TASK_DIR to the task folder of XTREME download_data.sh (download/<task>)}"
TASK="${TASK:-xquad}"                               # xquad | mlqa | tydiqa
case "$TASK" in xquad|mlqa|tydiqa) ;; *) echo "TASK must be xquad, mlqa or tydiqa" >&2; exit 2 ;; esac
METHOD="${METHOD:-none}"                            # none | adversarial | noise
source "$HERE/common.sh"                            # MODEL, DICT, SPM_MODEL, ARCH_FLAGS, DEVICE_FLAGS, FROM_MODEL, ROBUST_FLAGS
TRAIN_FILE="${TRAIN_FILE:-}"
SEED="${SEED:-1}"
OUT="${OUT:-runs/${TASK}_${METHOD}_seed${SEED}}"
LR="${LR:-3e-5}"
EPOCHS="${EPOCHS:-3}"
BATCH="${BATCH:-32}"                                # windows per update (= BATCH / UPDATE_FREQ per step)
UPDATE_FREQ="${UPDATE_FREQ:-8}"
WARMUP="${WARMUP:-500}"
WEIGHT_DECAY="${WEIGHT_DECAY:-0.0001}"
MAX_LEN="${MAX_LEN:-384}"
DOC_STRIDE="${DOC_STRIDE:-128}"
MAX_QUERY_LEN="${MAX_QUERY_LEN:-64}"
N_BEST="${N_BEST:-20}"
MAX_ANSWER_LEN="${MAX_ANSWER_LEN:-30}"
WORKERS="${WORKERS:-4}"
DEVICE="${DEVICE:-}"                                # weam-evaluate --device (default: cuda when available)

mkdir -p "$OUT"
TRAIN_FLAGS=()
[ -n "$TRAIN_FILE" ] && TRAIN_FLAGS=(--train-file "$TRAIN_FILE")
[ -f "$OUT/bin/prepare_report.json" ] || weam-xtreme-prepare "$TASK_DIR" --task "$TASK" --destdir "$OUT/bin" \
  --spm-model "$SPM_MODEL" --dict "$DICT" --max-len "$MAX_LEN" --doc-stride "$DOC_STRIDE" \
  --max-query-len "$MAX_QUERY_LEN" --workers "$WORKERS" --no-generalized "${TRAIN_FLAGS[@]}"

# Linear decay to zero over the whole run needs the number of updates (one item = one window).
TRAIN_WINDOWS=$(train_count "$OUT/bin" windows)
TOTAL_UPDATES=$(( (TRAIN_WINDOWS + BATCH - 1) / BATCH * EPOCHS ))
[ "$WARMUP" -lt "$TOTAL_UPDATES" ] || WARMUP=$(( TOTAL_UPDATES / 10 ))

[ -f "$OUT/checkpoints/checkpoint_last.pt" ] || fairseq-train "$OUT/bin" --user-dir "$HERE/../../fairseq_weam" \
  --task xtreme_qa --criterion xtreme_qa \
  "${ARCH_FLAGS[@]}" "${FROM_MODEL[@]}" \
  --robust-method "$METHOD" \
  "${ROBUST_FLAGS[@]}" \
  --optimizer adam --adam-betas '(0.9,0.999)' --adam-eps 1e-8 --weight-decay "$WEIGHT_DECAY" --clip-norm 1.0 \
  --lr-scheduler polynomial_decay --lr "$LR" --warmup-updates "$WARMUP" --total-num-update "$TOTAL_UPDATES" \
  --batch-size $(( BATCH / UPDATE_FREQ )) --update-freq "$UPDATE_FREQ" --max-epoch "$EPOCHS" \
  --dropout 0.1 --attention-dropout 0.1 --seed "$SEED" --valid-subset valid \
  --no-epoch-checkpoints --save-dir "$OUT/checkpoints" \
  --log-format simple --log-interval 50 "${DEVICE_FLAGS[@]}" "$@"

EVAL_FLAGS=()
[ -n "$DEVICE" ] && EVAL_FLAGS=(--device "$DEVICE")
weam-evaluate --task "$TASK" --checkpoint "$OUT/checkpoints/checkpoint_last.pt" --task-dir "$TASK_DIR" \
  --spm-model "$SPM_MODEL" --dict "$DICT" --out-dir "$OUT/eval" --max-len "$MAX_LEN" \
  --doc-stride "$DOC_STRIDE" --max-query-len "$MAX_QUERY_LEN" --n-best "$N_BEST" \
  --max-answer-len "$MAX_ANSWER_LEN" "${EVAL_FLAGS[@]}"
