#!/usr/bin/env bash
# Continue pre-training XLM-R with WEAM (or TLM / MLM) on your parallel data.
#   XLMR_DIR=xlmr.base RAW=raw_bitext DATA=data/weam-xlmr OBJECTIVE=weam bash examples/pretrain/continue_from_xlmr.sh
# XLMR_DIR is the unpacked xlmr.{base,large}.tar.gz (model.pt, dict.txt, sentencepiece.bpe.model). The data is
# tokenized with XLM-R's own sentencepiece model and binarized with its dict.txt, so the vocabularies match
# (the weam task refuses a checkpoint whose embedding size differs from the data dictionary).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
: "${XLMR_DIR:?set XLMR_DIR to the unpacked XLM-R directory}"
: "${RAW:?set RAW to RAW/{train,valid}.{l1}-{l2}.{l1,l2}}"
: "${DATA:?set DATA to the output data directory}"
ARCH="${ARCH:-roberta_base}"       # roberta_large for xlmr.large
ALIGNER="${ALIGNER:-eflomal}"
WORKERS="${WORKERS:-8}"

weam-prepare --raw-dir "$RAW" --dest-dir "$DATA" \
  --spm-model "$XLMR_DIR/sentencepiece.bpe.model" --dict "$XLMR_DIR/dict.txt" \
  --aligner "$ALIGNER" --workers "$WORKERS"

ARCH_FLAGS="--arch $ARCH" LR="${LR:-2e-4}" WARMUP="${WARMUP:-10000}" MAX_UPDATE="${MAX_UPDATE:-200000}" \
  DATA="$DATA" bash "$HERE/pretrain.sh" --finetune-from-model "$XLMR_DIR/model.pt" "$@"
