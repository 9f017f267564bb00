#!/usr/bin/env bash
# Fine-tune XLM-R or a WEAM checkpoint for UD-POS or WikiANN NER (PAN-X) on English, optionally with a robust
# method, then evaluate zero-shot on every test language (predictions in the XTREME submission layout under
# $OUT/eval/predictions/<task>/; test files with tags are scored with seqeval, as the official scorer).
#   TASK=panx TASK_DIR=download/panx MODEL_DIR=xlmr.base METHOD=adversarial OUT=runs/panx-adv \
#     bash examples/finetune/tagging.sh [extra fairseq-train flags]
# TASK_DIR is the task's folder as XTREME's download_data.sh lays it out (train-en.tsv, dev-en.tsv,
# test-<lang>.tsv). MODEL_DIR holds model.pt, dict.txt and sentencepiece.bpe.model (XLM-R's layout; for a
# WEAM checkpoint set MODEL, DICT and SPM_MODEL).
# Defaults are XTREME's scripts/train_panx.sh and train_udpos.sh: lr 2e-5, 10 epochs, max length 128,
# batch 32 (8 x 4 accumulation there), seed 1, no warm-up, linear decay, no weight decay, AdamW eps 1e-8,
# clip 1.0; the checkpoint best on English dev is evaluated (here: dev word accuracy; XTREME uses dev F1).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
: "${TASK_DIR:?set TASK_DIR to the task folder of XTREME download_data.sh (download/panx or download/udpos)}"
TASK="${TASK:-panx}"                                # panx | udpos
case "$TASK" in panx|udpos) ;; *) echo "TASK must be panx or udpos" >&2; exit 2 ;; esac
METHOD="${METHOD:-none}"                            # none | adversarial | noise
source "$HERE/common.sh"                            # MODEL, DICT, SPM_MODEL, ARCH_FLAGS, DEVICE_FLAGS, FROM_MODEL, ROBUST_FLAGS
SEED="${SEED:-1}"
OUT="${OUT:-runs/${TASK}_${METHOD}_seed${SEED}}"
LR="${LR:-2e-5}"
EPOCHS="${EPOCHS:-10}"
BATCH="${BATCH:-32}"                                # sentences (chunks) per update
UPDATE_FREQ="${UPDATE_FREQ:-4}"                     # BATCH / UPDATE_FREQ per step
MAX_LEN="${MAX_LEN:-128}"
WORKERS="${WORKERS:-4}"
DEVICE="${DEVICE:-}"                                # weam-evaluate --device (default: cuda when available)

mkdir -p "$OUT"
[ -f "$OUT/bin/prepare_report.json" ] || weam-xtreme-prepare "$TASK_DIR" --task "$TASK" --destdir "$OUT/bin" \
  --spm-model "$SPM_MODEL" --dict "$DICT" --max-len "$MAX_LEN" --workers "$WORKERS"

# Linear decay to zero over the whole run needs the number of updates (one item = one chunk of a sentence).
TRAIN_EXAMPLES=$(train_count "$OUT/bin")
TOTAL_UPDATES=$(( (TRAIN_EXAMPLES + BATCH - 1) / BATCH * EPOCHS ))

[ -f "$OUT/checkpoints/checkpoint_best.pt" ] || fairseq-train "$OUT/bin" --user-dir "$HERE/../../fairseq_weam" \
  --task xtreme_tagging --criterion xtreme_tagging \
  "${ARCH_FLAGS[@]}" "${FROM_MODEL[@]}" \
  --robust-method "$METHOD" \
  "${ROBUST_FLAGS[@]}" \
  --optimizer adam --adam-betas '(0.9,0.999)' --adam-eps 1e-8 --weight-decay 0.0 --clip-norm 1.0 \
  --lr-scheduler polynomial_decay --lr "$LR" --warmup-updates 0 --total-num-update "$TOTAL_UPDATES" \
  --batch-size $(( BATCH / UPDATE_FREQ )) --update-freq "$UPDATE_FREQ" --max-epoch "$EPOCHS" \
  --dropout 0.1 --attention-dropout 0.1 --seed "$SEED" --valid-subset valid \
  --best-checkpoint-metric accuracy --maximize-best-checkpoint-metric \
  --no-epoch-checkpoints --save-dir "$OUT/checkpoints" \
  --log-format simple --log-interval 50 "${DEVICE_FLAGS[@]}" "$@"

EVAL_FLAGS=()
[ -n "$DEVICE" ] && EVAL_FLAGS=(--device "$DEVICE")
weam-evaluate --task "$TASK" --checkpoint "$OUT/checkpoints/checkpoint_best.pt" --task-dir "$TASK_DIR" \
  --spm-model "$SPM_MODEL" --dict "$DICT" --out-dir "$OUT/eval" --max-len "$MAX_LEN" "${EVAL_FLAGS[@]}"
