#!/usr/bin/env bash
# Pre-train (from scratch) with WEAM or one of its baselines on a weam-prepare data directory.
#   DATA=/path/to/DATA OBJECTIVE=weam|tlm|mlm SAVE_DIR=ckpt/weam bash examples/pretrain/pretrain.sh [extra fairseq-train flags]
# Defaults are a base-size model for a GPU; override ARCH_FLAGS / MAX_TOKENS / MAX_UPDATE for other sizes.
# tlm and weam concat show each pair in both orders; pass --fixed-pair-order or --reset-positions as extra flags.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
: "${DATA:?set DATA to a weam-prepare output directory}"
OBJECTIVE="${OBJECTIVE:-weam}"          # weam | tlm | mlm
INPUT_MODE="${INPUT_MODE:-separate}"    # weam only: separate | concat
CL_WEIGHT="${CL_WEIGHT:-1.0}"           # λ in L = mean_ml + λ mean_cl
LANG_PAIRS="${LANG_PAIRS:-}"            # e.g. en-de,en-fr (default: every pair in DATA)
ALPHA="${ALPHA:-0.3}"                   # language-pair sampling temperature
SEED="${SEED:-1}"
SAVE_DIR="${SAVE_DIR:-checkpoints/${OBJECTIVE}_seed${SEED}}"
MAX_UPDATE="${MAX_UPDATE:-125000}"
MAX_TOKENS="${MAX_TOKENS:-8192}"
UPDATE_FREQ="${UPDATE_FREQ:-1}"
LR="${LR:-5e-4}"
WARMUP="${WARMUP:-10000}"
TOKENS_PER_SAMPLE="${TOKENS_PER_SAMPLE:-512}"
read -r -a ARCH_FLAGS <<< "${ARCH_FLAGS:---arch roberta_base}"
PAIRS_FLAG=()
[ -n "$LANG_PAIRS" ] && PAIRS_FLAG=(--lang-pairs "$LANG_PAIRS")

fairseq-train "$DATA" --user-dir "$HERE/../../fairseq_weam" \
  --task weam --criterion weam --objective "$OBJECTIVE" --input-mode "$INPUT_MODE" --cl-weight "$CL_WEIGHT" \
  --pair-sampling-alpha "$ALPHA" "${PAIRS_FLAG[@]}" --tokens-per-sample "$TOKENS_PER_SAMPLE" \
  "${ARCH_FLAGS[@]}" --max-positions "$TOKENS_PER_SAMPLE" \
  --optimizer adam --adam-betas '(0.9,0.98)' --adam-eps 1e-6 --clip-norm 0.0 --weight-decay 0.01 \
  --lr-scheduler polynomial_decay --lr "$LR" --warmup-updates "$WARMUP" --total-num-update "$MAX_UPDATE" \
  --max-update "$MAX_UPDATE" --max-tokens "$MAX_TOKENS" --update-freq "$UPDATE_FREQ" \
  --seed "$SEED" --save-dir "$SAVE_DIR" --log-format simple --log-interval 100 \
  --no-epoch-checkpoints "$@"
