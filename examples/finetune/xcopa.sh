#!/usr/bin/env bash
# Fine-tune XLM-R or a WEAM checkpoint on English COPA for XCOPA (2-way multiple choice, fairseq's
# sentence_ranking task and criterion), then evaluate zero-shot on every XCOPA test language (predictions in
# the XTREME-R submission layout under $OUT/eval/predictions/xcopa/).
#   TASK_DIR=download/xcopa MODEL_DIR=xlmr.base OUT=runs/xcopa bash examples/finetune/xcopa.sh [fairseq-train flags]
# TASK_DIR is XTREME's download_xcopa folder (train-en.jsonl, val-en.jsonl, test-<lang>.jsonl; the public
# test labels are placeholders, so the printed accuracy only means something with the real labels).
# MODEL_DIR holds model.pt, dict.txt and sentencepiece.bpe.model (for a WEAM checkpoint set MODEL, DICT, SPM_MODEL).
# Defaults are XTREME's scripts/train_xcopa.sh for XLM-R large: lr 3e-5, 5 epochs, max length 128, batch 32
# (2 x 16 accumulation there), AdamW, linear decay without warm-up. (base models: LR=2e-5 there.) XTREME-R
# first trains on SIQA and then on COPA; this recipe trains on COPA only (set MODEL to a SIQA-trained checkpoint).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
: "${TASK_DIR:?set TASK_DIR to the xcopa folder of XTREME download_data.sh (download/xcopa)}"
ARCH_DEFAULT=roberta_large
source "$HERE/common.sh"                            # MODEL, DICT, SPM_MODEL, ARCH_FLAGS, DEVICE_FLAGS, FROM_MODEL, ROBUST_FLAGS
SEED="${SEED:-1}"
OUT="${OUT:-runs/xcopa_seed${SEED}}"
LR="${LR:-3e-5}"
EPOCHS="${EPOCHS:-5}"
BATCH="${BATCH:-32}"
UPDATE_FREQ="${UPDATE_FREQ:-16}"
MAX_LEN="${MAX_LEN:-128}"
DEVICE="${DEVICE:-}"

mkdir -p "$OUT"
[ -f "$OUT/bin/prepare_report.json" ] || weam-xtreme-prepare "$TASK_DIR" --task xcopa --destdir "$OUT/bin" \
  --spm-model "$SPM_MODEL" --dict "$DICT" --max-len "$MAX_LEN"
TRAIN=$(train_count "$OUT/bin")
TOTAL_UPDATES=$(( (TRAIN + BATCH - 1) / BATCH * EPOCHS ))

[ -f "$OUT/checkpoints/checkpoint_last.pt" ] || fairseq-train "$OUT/bin" --user-dir "$HERE/../../fairseq_weam" \
  --task sentence_ranking --criterion sentence_ranking --num-classes 2 --init-token 0 --separator-token 2 \
  --max-positions 512 "${ARCH_FLAGS[@]}" "${FROM_MODEL[@]}" \
  --optimizer adam --adam-betas '(0.9,0.999)' --adam-eps 1e-8 --weight-decay 0.0 --clip-norm 1.0 \
  --lr-scheduler polynomial_decay --lr "$LR" --warmup-updates 0 --total-num-update "$TOTAL_UPDATES" \
  --batch-size $(( BATCH / UPDATE_FREQ )) --update-freq "$UPDATE_FREQ" --max-epoch "$EPOCHS" \
  --dropout 0.1 --attention-dropout 0.1 --seed "$SEED" --valid-subset valid \
  --best-checkpoint-metric accuracy --maximize-best-checkpoint-metric \
  --no-epoch-checkpoints --save-dir "$OUT/checkpoints" --log-format simple --log-interval 10 \
  "${DEVICE_FLAGS[@]}" "$@"

EVAL_FLAGS=()
[ -n "$DEVICE" ] && EVAL_FLAGS=(--device "$DEVICE")
weam-evaluate --task xcopa --checkpoint "$OUT/checkpoints/checkpoint_best.pt" --task-dir "$TASK_DIR" \
  --spm-model "$SPM_MODEL" --dict "$DICT" --out-dir "$OUT/eval" --max-len "$MAX_LEN" "${EVAL_FLAGS[@]}"
