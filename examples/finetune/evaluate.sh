#!/usr/bin/env bash
# Zero-shot evaluation of a run of finetune.sh: per language, generalized matrix, optional attacks.
#   TASK=pawsx TASK_DIR=data/pawsx MODEL_DIR=xlmr.base OUT=runs/pawsx-adv bash examples/finetune/evaluate.sh [extra flags]
# Writes $OUT/eval/results.json, results.md, accuracy_per_language.png, generalized_heatmap.png.
set -euo pipefail
: "${TASK_DIR:?set TASK_DIR to the raw task dir (labelled test-{lang}.tsv files)}"
: "${OUT:?set OUT to the finetune.sh output dir}"
TASK="${TASK:-pawsx}"                               # pawsx | xnli | labels (the model's own label order)
MODEL_DIR="${MODEL_DIR:-}"
DICT="${DICT:-${MODEL_DIR:+$MODEL_DIR/dict.txt}}"
SPM_MODEL="${SPM_MODEL:-${MODEL_DIR:+$MODEL_DIR/sentencepiece.bpe.model}}"
: "${DICT:?set MODEL_DIR or DICT}" "${SPM_MODEL:?set MODEL_DIR or SPM_MODEL}"
CHECKPOINT="${CHECKPOINT:-$OUT/checkpoints/checkpoint_best.pt}"
EVAL_DIR="${EVAL_DIR:-$OUT/eval}"
SEED="${SEED:-1}"
SMOOTH_COPIES="${SMOOTH_COPIES:-0}"; SMOOTH_SIGMA="${SMOOTH_SIGMA:-0.1}"
NEIGHBOURS="${NEIGHBOURS:-}"; ATTACK_BUDGET="${ATTACK_BUDGET:-2}"; ATTACK_LIMIT="${ATTACK_LIMIT:-500}"
PGD_EPS="${PGD_EPS:-0}"; PGD_NORM="${PGD_NORM:-l2}"; PGD_STEPS="${PGD_STEPS:-5}"
ATTACK=(); LABEL_FLAGS=(--task "$TASK")
[ "$TASK" = labels ] && LABEL_FLAGS=()
[ -n "$NEIGHBOURS" ] && ATTACK=(--neighbours "$NEIGHBOURS" --attack-budget "$ATTACK_BUDGET" --attack-limit "$ATTACK_LIMIT")

weam-evaluate --checkpoint "$CHECKPOINT" --task-dir "$TASK_DIR" "${LABEL_FLAGS[@]}" --spm-model "$SPM_MODEL" \
  --dict "$DICT" --out-dir "$EVAL_DIR" --seed "$SEED" --smooth-copies "$SMOOTH_COPIES" \
  --smooth-sigma "$SMOOTH_SIGMA" "${ATTACK[@]}" --pgd-eps "$PGD_EPS" --pgd-norm "$PGD_NORM" \
  --pgd-steps "$PGD_STEPS" "$@"
