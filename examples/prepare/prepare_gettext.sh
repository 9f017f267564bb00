#!/usr/bin/env bash
# Parallel data from the gettext catalogs of this machine, prepared into a word-aligned fairseq data dir.
# Usage: examples/prepare/prepare_gettext.sh [OUT_DIR]   (all settings below can be overridden from the environment)
set -euo pipefail

OUT=${1:-${OUT:-gettext-data}}
PAIRS=${PAIRS:-en-de,en-fr}
MAX_PAIRS=${MAX_PAIRS:-5000}          # per language, train + valid
VALID_SIZE=${VALID_SIZE:-500}
LOCALE_DIR=${LOCALE_DIR:-/usr/share/locale}
VOCAB_SIZE=${VOCAB_SIZE:-8000}
ALIGNER=${ALIGNER:-eflomal}           # eflomal | fast_align | precomputed
SYMMETRIZE=${SYMMETRIZE:-grow-diag-final-and}
WORKERS=${WORKERS:-2}

weam-gettext-bitext --pairs "$PAIRS" --out "$OUT/raw" --max-pairs "$MAX_PAIRS" \
    --valid-size "$VALID_SIZE" --locale-dir "$LOCALE_DIR"

weam-prepare --raw-dir "$OUT/raw" --dest-dir "$OUT/data" --pairs "$PAIRS" --vocab-size "$VOCAB_SIZE" \
    --aligner "$ALIGNER" --symmetrize "$SYMMETRIZE" --workers "$WORKERS"
