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
MODEL_DIR="${MODEL_DIR:-}"
MODEL="${MODEL:-${MODEL_DIR:+$MODEL_DIR/model.pt}}"            # empty: train from scratch (toy runs)
DICT="${DICT:-${MODEL_DIR:+$MODEL_DIR/dict.txt}}"
SPM_MODEL="${SPM_MODEL:-${MODEL_DIR:+$MODEL_DIR/sentencepiece.bpe.model}}"
: "${DICT:?set MODEL_DIR or DICT}" "${SPM_MODEL:?set MODEL_DIR or SPM_MODEL}"
SEED="${SEED:-1}"
OUT="${OUT:-runs/${TASK}_${METHOD}_seed${SEED}}"
read -r -a ARCH_FLAGS <<< "${ARCH_FLAGS:---arch roberta_base}"   # roberta_large for XLM-R large
read -r -a DEVICE_FLAGS <<< "${DEVICE_FLAGS:-}"                  # e.g. "--bf16", or "--cpu"
LR="${LR:-2e-5}"
EPOCHS="${EPOCHS:-10}"
BATCH="${BATCH:-32}"                                # sentences (chunks) per update
UPDATE_FREQ="${UPDATE_FREQ:-4}"                     # BATCH / UPDATE_FREQ per step
MAX_LEN="${MAX_LEN:-128}"
WORKERS="${WORKERS:-4}"
DEVICE="${DEVICE:-}"                                # weam-evaluate --device (default: cuda when available)
# Robust methods (flags of --criterion xtreme_tagging, shared with every robust criterion).
ADV_STEPS="${ADV_STEPS:-3}"; ADV_NORM="${ADV_NORM:-l2}"; ADV_EPS="${ADV_EPS:-1.0}"
ADV_STEP_SIZE="${ADV_STEP_SIZE:-0.5}"; ADV_CLEAN_WEIGHT="${ADV_CLEAN_WEIGHT:-1.0}"
NOISE_TYPE="${NOISE_TYPE:-gaussian}"; NOISE_SIGMA="${NOISE_SIGMA:-0.1}"

mkdir -p "$OUT"
[ -f "$OUT/bin/prepare_report.json" ] || weam-xtreme-prepare "$TASK_DIR" --task "$TASK" --destdir "$OUT/bin" \
  --spm-model "$SPM_MODEL" --dict "$DICT" --max-len "$MAX_LEN" --workers "$WORKERS"

# Linear decay to zero over the whole run needs the number of updates (one item = one chunk of a sentence).
TRAIN_EXAMPLES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["subsets"]["train"]["examples"])' \
  "$OUT/bin/prepare_report.json")
TOTAL_UPDATES=$(( (TRAIN_EXAMPLES + BATCH - 1) / BATCH * EPOCHS ))
FROM_MODEL=()
[ -n "$MODEL" ] && FROM_MODEL=(--finetune-from-model "$MODEL")

[ -f "$OUT/checkpoints/checkpoint_best.pt" ] || fairseq-train "$OUT/bin" --user-dir "$HERE/../../fairseq_weam" \
  --task xtreme_tagging --criterion xtreme_tagging \
  "${ARCH_FLAGS[@]}" "${FROM_MODEL[@]}" \
  --robust-method "$METHOD" \
  --adv-steps "$ADV_STEPS" --adv-norm "$ADV_NORM" --adv-eps "$ADV_EPS" --adv-step-size "$ADV_STEP_SIZE" \
  --adv-clean-weight "$ADV_CLEAN_WEIGHT" --noise-type "$NOISE_TYPE" --noise-sigma "$NOISE_SIGMA" \
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
