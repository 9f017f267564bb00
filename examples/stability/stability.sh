#!/usr/bin/env bash
# Research question (E): does robust fine-tuning with parallel data make cross-lingual alignment more stable
# under perturbation? Fine-tunes one pre-trained checkpoint on the demo's English task three ways, SEEDS times:
#   standard            --robust-method none
#   adversarial         --robust-method adversarial (PGD on the input embeddings)
#   adversarial+parallel  the same, plus batches of the weam-prepare data with an alignment term
#                       (--parallel-data DATA --parallel-weight MU --parallel-loss LOSS --parallel-adversarial)
# then evaluates zero-shot task accuracy (weam-evaluate: per language; the generalized l1 x l2 matrix when the
# task is a sentence-pair one) and the alignment-stability curves of the pre-trained checkpoint ("before") and
# of every fine-tuned one ("after"), with weam-alignment-stability; tables: mean ± std over seeds.
#   bash examples/stability/stability.sh            (toy size, CPU; reuses $DEMO_DIR of examples/demo.sh)
# Sizes are variables: scale TASK_TRAIN_SIZE, EPOCHS, MAX_SENTENCES, ARCH_FLAGS (and DEVICE_FLAGS=--fp16 on a
# GPU) up for a real run. Re-running skips finished steps (delete $OUT to start again).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DEMO_DIR="${DEMO_DIR:-demo_out}"                    # data + pre-trained model of examples/demo.sh (built if absent)
OUT="${OUT:-$DEMO_DIR/stability}"
OBJECTIVE="${OBJECTIVE:-weam}"                      # which pre-trained model of the demo to start from
PAIRS="${PAIRS:-en-de,en-fr,en-ru}"
TEST_LANGS="${TEST_LANGS:-de,fr,ru}"
LABEL="${LABEL:-program}"                           # program (single sentence) | shared_term (pairs: generalized)
TASK_PROGRAMS="${TASK_PROGRAMS:-4}"
TASK_TRAIN_SIZE="${TASK_TRAIN_SIZE:-800}"
EPOCHS="${EPOCHS:-3}"
SEEDS="${SEEDS:-1 2 3}"
VARIANTS="${VARIANTS:-standard adversarial adversarial+parallel}"
ADV="${ADV:-ADV_EPS=0.05 ADV_STEP_SIZE=0.05 ADV_STEPS=1}"   # the demo's adversarial settings
PARALLEL_WEIGHT="${PARALLEL_WEIGHT:-0.5}"
PARALLEL_LOSS="${PARALLEL_LOSS:-weam}"              # weam | agreement
RADII="${RADII:-0,0.1,0.25,0.5,1}"
MAX_SENTENCES="${MAX_SENTENCES:-48}"                # valid pairs per language pair for the curves
JOBS="${JOBS:-2}"
TINY_ARCH="${ARCH_FLAGS:---arch roberta_base --encoder-layers 2 --encoder-embed-dim 128 --encoder-ffn-embed-dim 512 --encoder-attention-heads 2 --max-positions 128}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
DATA="$DEMO_DIR/data"
MODEL="$DEMO_DIR/pretrain/$OBJECTIVE/checkpoint_last.pt"
step() { printf '\n==== [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
mkdir -p "$OUT/logs"

if [ ! -f "$DEMO_DIR/pretrain/$OBJECTIVE/done" ]; then
  step "pre-trained model missing: building it as examples/demo.sh does ($OBJECTIVE)"
  [ -d "$DEMO_DIR/raw" ] || weam-gettext-bitext --pairs "$PAIRS" --max-pairs 6000 --valid-size 300 --out "$DEMO_DIR/raw"
  weam-prepare --raw-dir "$DEMO_DIR/raw" --dest-dir "$DATA" --vocab-size 6000 --workers 2
  DATA="$DATA" OBJECTIVE="$OBJECTIVE" SAVE_DIR="$DEMO_DIR/pretrain/$OBJECTIVE" SEED=1 MAX_UPDATE=1000 WARMUP=100 \
    LR=1e-3 MAX_TOKENS=2048 TOKENS_PER_SAMPLE=128 ARCH_FLAGS="$TINY_ARCH" \
    bash "$HERE/../pretrain/pretrain.sh" --cpu --num-workers 0 --log-interval 100 --disable-validation
  touch "$DEMO_DIR/pretrain/$OBJECTIVE/done"
fi

step "task: --label $LABEL (English train/dev; test in en,$TEST_LANGS, parallel by row)"
TASK_DIR="$OUT/task-$LABEL"
[ -d "$TASK_DIR" ] || weam-gettext-pairs "$TASK_DIR" --langs "$TEST_LANGS" --label "$LABEL" \
  --max-programs "$TASK_PROGRAMS" --max-per-program 1000 --train-size "$TASK_TRAIN_SIZE" --dev-size 200 \
  --test-size 200 --seed 1
if [ "$LABEL" = program ]; then
  TASK_FLAGS=(TASK=labels)   # finetune.sh reads the label set from $TASK_DIR/labels.txt
else
  TASK_FLAGS=(TASK=pawsx)
fi

run_one() {  # variant seed: fine-tune, then evaluate zero-shot
  local variant="$1" seed="$2" run="$OUT/runs/$1-seed$2" method=adversarial extra=()
  [ "$variant" = standard ] && method=none
  [ "$variant" = adversarial+parallel ] && extra=(--parallel-data "$DATA" --parallel-weight "$PARALLEL_WEIGHT"
                                                  --parallel-loss "$PARALLEL_LOSS" --parallel-adversarial)
  if [ ! -f "$run/done" ]; then
    env "${TASK_FLAGS[@]}" $ADV TASK_DIR="$TASK_DIR" METHOD="$method" OUT="$run" SEED="$seed" MODEL="$MODEL" \
      DICT="$DATA/dict.txt" SPM_MODEL="$DATA/sentencepiece.bpe.model" ARCH_FLAGS="$TINY_ARCH" LR=2e-4 \
      EPOCHS="$EPOCHS" VALIDATE_EVERY=25 WORKERS=1 DEVICE_FLAGS="${DEVICE_FLAGS:---cpu --num-workers 0}" \
      bash "$HERE/../finetune/finetune.sh" --log-interval 25 "${extra[@]}" && touch "$run/done"
  fi
  if [ ! -f "$run/eval/results.json" ]; then
    env "${TASK_FLAGS[@]}" TASK_DIR="$TASK_DIR" OUT="$run" SEED="$seed" DICT="$DATA/dict.txt" \
      SPM_MODEL="$DATA/sentencepiece.bpe.model" bash "$HERE/../finetune/evaluate.sh"
  fi
}

step "fine-tune ($VARIANTS) x seeds ($SEEDS) and evaluate zero-shot, $JOBS at a time"
failed=0
for seed in $SEEDS; do
  for variant in $VARIANTS; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || failed=1; done
    log="$OUT/logs/$variant-seed$seed.log"
    ( run_one "$variant" "$seed" > "$log" 2>&1 || { echo "FAILED: $variant seed $seed, see $log" >&2; exit 1; } ) &
  done
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || failed=1; done
[ "$failed" -eq 0 ] || exit 1

step "task accuracy (mean ± std over seeds $SEEDS)"
EVALS=()
for variant in $VARIANTS; do
  for seed in $SEEDS; do EVALS+=("$variant=$OUT/runs/$variant-seed$seed/eval/results.json"); done
done
weam-report "${EVALS[@]}" --out-dir "$OUT/report"

step "alignment stability before (pre-trained) and after fine-tuning (radii $RADII)"
CKPTS=("before=$MODEL")
for variant in $VARIANTS; do
  for seed in $SEEDS; do CKPTS+=("$variant=$OUT/runs/$variant-seed$seed/checkpoints/checkpoint_best.pt"); done
done
[ -f "$OUT/stability/stability.json" ] || weam-alignment-stability "${CKPTS[@]}" --data "$DATA" \
  --out-dir "$OUT/stability" --radii "$RADII" --max-sentences "$MAX_SENTENCES" --noise-samples 2 --pgd-steps 3
echo
cat "$OUT/report/summary.md"
echo
cat "$OUT/stability/stability.md"
echo "Plots: $OUT/report/comparison.png, $OUT/stability/stability.png"
