#!/usr/bin/env bash
# `make demo`: the whole workflow on the embedded default corpus (the machine's gettext catalogs), at toy size.
#   prepare -> pre-train WEAM and TLM (same data, same updates) -> fine-tune on English with standard and
#   adversarial training -> zero-shot and generalized evaluation -> results table and plots.
# Each step is one of the recipes in examples/ (or one CLI); change the sizes below to run it for real.
# Re-running skips the steps whose outputs exist (delete $DEMO_DIR to start again).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DEMO_DIR="${DEMO_DIR:-demo_out}"
PAIRS="${PAIRS:-en-de,en-fr,en-ru}"                 # one non-Latin script pair included
TEST_LANGS="${TEST_LANGS:-de,fr,ru}"
MAX_PAIRS="${MAX_PAIRS:-6000}"                      # parallel pairs per language pair
VOCAB_SIZE="${VOCAB_SIZE:-6000}"
PRETRAIN_UPDATES="${PRETRAIN_UPDATES:-1200}"
OBJECTIVES="${OBJECTIVES:-weam tlm}"
METHODS="${METHODS:-none adversarial}"
FINETUNE_EPOCHS="${FINETUNE_EPOCHS:-3}"
SEED="${SEED:-1}"
TINY_ARCH="--arch roberta_base --encoder-layers 2 --encoder-embed-dim 128 --encoder-ffn-embed-dim 512 --encoder-attention-heads 2"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
mkdir -p "$DEMO_DIR"
step() { printf '\n==== [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

step "1/6 parallel corpus from the gettext catalogs ($PAIRS)"
[ -d "$DEMO_DIR/raw" ] || weam-gettext-bitext --pairs "$PAIRS" --max-pairs "$MAX_PAIRS" --valid-size 300 \
  --out "$DEMO_DIR/raw"

step "2/6 weam-prepare: clean, sentencepiece, eflomal alignment, binarize"
weam-prepare --raw-dir "$DEMO_DIR/raw" --dest-dir "$DEMO_DIR/data" --vocab-size "$VOCAB_SIZE" --workers 2

for objective in $OBJECTIVES; do
  mkdir -p "$DEMO_DIR/pretrain"
  step "3/6 pre-train a tiny model with --objective $objective ($PRETRAIN_UPDATES updates)"
  if [ ! -f "$DEMO_DIR/pretrain/$objective/checkpoint_last.pt" ] || \
     ! grep -q "done training" "$DEMO_DIR/pretrain/$objective.log" 2>/dev/null; then
    DATA="$DEMO_DIR/data" OBJECTIVE="$objective" SAVE_DIR="$DEMO_DIR/pretrain/$objective" SEED="$SEED" \
    MAX_UPDATE="$PRETRAIN_UPDATES" WARMUP=$((PRETRAIN_UPDATES / 10)) LR=1e-3 MAX_TOKENS=4096 \
    TOKENS_PER_SAMPLE=128 ARCH_FLAGS="$TINY_ARCH" \
      bash "$HERE/pretrain/pretrain.sh" --cpu --num-workers 0 --log-interval 100 --disable-validation \
      2>&1 | tee "$DEMO_DIR/pretrain/$objective.log" | grep --line-buffered -E "train_inner|done training" || true
    grep -q "done training" "$DEMO_DIR/pretrain/$objective.log" || { echo "pre-training failed: see $DEMO_DIR/pretrain/$objective.log" >&2; exit 1; }
  fi
  weam-retrieval "$DEMO_DIR/pretrain/$objective/checkpoint_last.pt" --data "$DEMO_DIR/data" --split valid \
    --output "$DEMO_DIR/pretrain/$objective.retrieval.json" 2>&1 | tail -n 1
done

step "4/6 a sentence-pair task from the catalogs ('same program?'), English train/dev, test in $TEST_LANGS"
[ -d "$DEMO_DIR/task" ] || weam-gettext-pairs "$DEMO_DIR/task" --langs "$TEST_LANGS" --train-size 4000 \
  --dev-size 300 --test-size 300 --seed "$SEED"

EVALS=()
for objective in $OBJECTIVES; do
  for method in $METHODS; do
    run="$DEMO_DIR/finetune/$objective-$method"
    step "5/6 fine-tune the $objective model on English with --robust-method $method"
    if [ ! -f "$run/checkpoints/checkpoint_best.pt" ]; then
      mkdir -p "$run"
      TASK=pawsx TASK_DIR="$DEMO_DIR/task" METHOD="$method" OUT="$run" SEED="$SEED" \
      MODEL="$DEMO_DIR/pretrain/$objective/checkpoint_last.pt" DICT="$DEMO_DIR/data/dict.txt" \
      SPM_MODEL="$DEMO_DIR/data/sentencepiece.bpe.model" ARCH_FLAGS="$TINY_ARCH" LR=3e-4 EPOCHS="$FINETUNE_EPOCHS" \
      VALIDATE_EVERY=125 WORKERS=2 ADV_EPS=0.5 ADV_STEP_SIZE=0.25 ADV_STEPS=2 DEVICE_FLAGS="--cpu --num-workers 0" \
        bash "$HERE/finetune/finetune.sh" --log-interval 50 2>&1 | tee "$run/train.log" \
        | grep --line-buffered -E "\| valid \||done training" || true
      [ -f "$run/checkpoints/checkpoint_best.pt" ] || { echo "fine-tuning failed: see $run/train.log" >&2; exit 1; }
    fi
    step "6/6 evaluate $objective-$method: zero-shot per language, generalized matrix, PGD attack"
    TASK=pawsx TASK_DIR="$DEMO_DIR/task" OUT="$run" DICT="$DEMO_DIR/data/dict.txt" SEED="$SEED" \
    SPM_MODEL="$DEMO_DIR/data/sentencepiece.bpe.model" PGD_EPS=0.5 \
      bash "$HERE/finetune/evaluate.sh" 2>&1 | tail -n 3
    EVALS+=("$objective+$method=$run/eval/results.json")
  done
done

step "results"
weam-report "${EVALS[@]}" --out-dir "$DEMO_DIR/report"
echo
echo "Results: $DEMO_DIR/report/summary.md (table), $DEMO_DIR/report/*.png (plots);"
echo "per run: $DEMO_DIR/finetune/<objective>-<method>/eval/{results.json,results.md,*.png};"
echo "data preparation report: $DEMO_DIR/data/prep_report.txt; retrieval: $DEMO_DIR/pretrain/*.retrieval.json"
