#!/usr/bin/env bash
# Issue 11(B): how does hybrid-batch training affect the robustness of a multilingual encoder against adversarial
# examples in zero-shot cross-lingual retrieval, compared with contrastive learning (and WEAM, TLM)?
#   bash examples/contrastive/compare_contrastive.sh            # toy size on CPU (about 15-25 min on 2 cores)
#   OUT=runs/contrastive-big PRETRAIN_UPDATES=20000 MAX_PAIRS=200000 ... bash examples/contrastive/compare_contrastive.sh
# For every variant x seed: pre-train a small encoder from scratch on the built-in gettext corpus (same data, same
# updates, same batch size in tokens), then
#   1. sentence retrieval on held-out pairs (weam-retrieval; both directions, Tatoeba-style top-1), clean, under
#      embedding-space PGD on the query at $RADII, and under greedy synonym substitution (shipped neighbours);
#   2. zero-shot accuracy on the demo task (which program is this UI message from? English fine-tuning, test on
#      de/fr/ru), fine-tuned once per pre-training seed.
# Tables: $OUT/report/retrieval_summary.md (mean ± std over seeds), $OUT/report/summary.md (zero-shot);
# plots: $OUT/report/robustness_curve.png, $OUT/report/comparison.png. Re-running skips finished steps.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${OUT:-runs/contrastive}"
DATA="${DATA:-}"                                    # an existing weam-prepare directory (default: made here)
PAIRS="${PAIRS:-en-de,en-fr,en-ru}"
TEST_LANGS="${TEST_LANGS:-de,fr,ru}"
MAX_PAIRS="${MAX_PAIRS:-3000}"                      # parallel pairs per language pair
VOCAB_SIZE="${VOCAB_SIZE:-4000}"
SEEDS="${SEEDS:-1 2 3}"
VARIANTS="${VARIANTS:-contrastive hybrid weam tlm}" # also: hybrid_alternate, weam_ctr (weam + 0.5 contrastive)
HYBRID="${HYBRID:-weam:0.5,contrastive:0.3,mlm:0.2}"
TEMPERATURE="${TEMPERATURE:-0.1}"                   # contrastive temperature τ
PRETRAIN_UPDATES="${PRETRAIN_UPDATES:-150}"
PRETRAIN_TOKENS="${PRETRAIN_TOKENS:-1024}"          # tokens per batch
RADII="${RADII:-0.05,0.1,0.2,0.4}"                  # PGD radii (L2 over the query's token embeddings)
PGD_STEPS="${PGD_STEPS:-5}"
RETRIEVAL_PAIRS="${RETRIEVAL_PAIRS:-$PAIRS}"        # language pairs of the retrieval evaluation
RETRIEVAL_SENTENCES="${RETRIEVAL_SENTENCES:-200}"   # held-out pairs per language pair (candidates)
SYNONYM_QUERIES="${SYNONYM_QUERIES:-40}"            # queries per direction and pair under the synonym attack
TASK_PROGRAMS="${TASK_PROGRAMS:-4}"
TASK_TRAIN_SIZE="${TASK_TRAIN_SIZE:-800}"
FINETUNE_EPOCHS="${FINETUNE_EPOCHS:-2}"
ZERO_SHOT="${ZERO_SHOT:-1}"                         # 0: retrieval only (skips steps 4 and the zero-shot table)
JOBS="${JOBS:-2}"                                   # runs at once, one CPU thread each
TINY_ARCH="${TINY_ARCH:---arch roberta_base --encoder-layers 2 --encoder-embed-dim 128 --encoder-ffn-embed-dim 512 --encoder-attention-heads 2 --max-positions 128}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
mkdir -p "$OUT/pretrain" "$OUT/finetune" "$OUT/logs" "$OUT/report"
step() { printf '\n==== [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
START=$(date +%s)

# at most $JOBS jobs at once; a failed job fails the recipe (its log is in $OUT/logs/)
pids=()
launch() {  # name command...
  local name="$1"; shift
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || { echo "a job failed, see $OUT/logs/" >&2; exit 1; }; done
  ( "$@" > "$OUT/logs/$name.log" 2>&1 || { echo "FAILED: $name, see $OUT/logs/$name.log" >&2; exit 1; } ) &
}
wait_all() { while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || { echo "a job failed, see $OUT/logs/" >&2; exit 1; }; done; }

variant_flags() {  # the objective flags of a variant
  case "$1" in
    contrastive)      echo "--objective contrastive" ;;
    hybrid)           echo "--objective hybrid --hybrid-objectives $HYBRID --hybrid-batching mixed" ;;
    hybrid_alternate) echo "--objective hybrid --hybrid-objectives $HYBRID --hybrid-batching alternate" ;;
    weam_ctr)         echo "--objective weam --contrastive-weight 0.5" ;;
    weam|tlm|mlm)     echo "--objective $1" ;;
    *) echo "unknown variant $1" >&2; return 1 ;;
  esac
}

if [ -z "$DATA" ]; then
  DATA="$OUT/data"
  step "1/5 parallel corpus from the gettext catalogs ($PAIRS, $MAX_PAIRS pairs each) and weam-prepare"
  [ -d "$OUT/raw" ] || weam-gettext-bitext --pairs "$PAIRS" --max-pairs "$MAX_PAIRS" --valid-size 300 --out "$OUT/raw"
  weam-prepare --raw-dir "$OUT/raw" --dest-dir "$DATA" --vocab-size "$VOCAB_SIZE" --workers 2
fi

step "2/5 pre-train: $VARIANTS x seeds $SEEDS ($PRETRAIN_UPDATES updates of $PRETRAIN_TOKENS tokens each)"
pretrain() {  # variant seed
  local dir="$OUT/pretrain/$1-seed$2" objective
  read -r -a objective <<< "$(variant_flags "$1")"
  DATA="$DATA" SAVE_DIR="$dir" SEED="$2" MAX_UPDATE="$PRETRAIN_UPDATES" WARMUP=$((PRETRAIN_UPDATES / 10)) LR=1e-3 \
  MAX_TOKENS="$PRETRAIN_TOKENS" TOKENS_PER_SAMPLE=128 ARCH_FLAGS="$TINY_ARCH" \
    bash "$HERE/../pretrain/pretrain.sh" "${objective[@]}" --contrastive-temperature "$TEMPERATURE" \
    --cpu --num-workers 0 --log-interval 50 --disable-validation && touch "$dir/done"
}
for seed in $SEEDS; do for variant in $VARIANTS; do
  [ -f "$OUT/pretrain/$variant-seed$seed/done" ] || launch "pretrain-$variant-$seed" pretrain "$variant" "$seed"
done; done
wait_all

step "3/5 retrieval, clean and under attack (PGD radii $RADII; synonyms, $SYNONYM_QUERIES queries per direction)"
retrieval() {  # variant seed
  local dir="$OUT/pretrain/$1-seed$2"
  weam-retrieval "$dir/checkpoint_last.pt" --data "$DATA" --split valid --max-sentences "$RETRIEVAL_SENTENCES" \
    --lang-pairs "$RETRIEVAL_PAIRS" --attack-radii "$RADII" --pgd-steps "$PGD_STEPS" --synonym-attack --synonym-limit "$SYNONYM_QUERIES" \
    --output "$dir/retrieval.json" --curve-dir "$dir/curve"
}
for seed in $SEEDS; do for variant in $VARIANTS; do
  [ -f "$OUT/pretrain/$variant-seed$seed/retrieval.json" ] || launch "retrieval-$variant-$seed" retrieval "$variant" "$seed"
done; done
wait_all

if [ "$ZERO_SHOT" = 1 ]; then
step "4/5 zero-shot on the demo task: fine-tune on English, test on en,$TEST_LANGS"
[ -d "$OUT/task" ] || weam-gettext-pairs "$OUT/task" --langs "$TEST_LANGS" --label program \
  --max-programs "$TASK_PROGRAMS" --max-per-program 1000 --train-size "$TASK_TRAIN_SIZE" --dev-size 200 \
  --test-size 300 --seed 1
finetune() {  # variant seed
  local run="$OUT/finetune/$1-seed$2" model="$OUT/pretrain/$1-seed$2/checkpoint_last.pt"
  # (bash expands the assignments before a command left to right: MODEL must not read the new OUT)
  TASK=labels TASK_DIR="$OUT/task" METHOD=none OUT="$run" SEED="$2" \
  MODEL="$model" DICT="$DATA/dict.txt" SPM_MODEL="$DATA/sentencepiece.bpe.model" \
  ARCH_FLAGS="$TINY_ARCH" LR=1e-4 EPOCHS="$FINETUNE_EPOCHS" VALIDATE_EVERY=50 WORKERS=1 \
  DEVICE_FLAGS="--cpu --num-workers 0" bash "$HERE/../finetune/finetune.sh" --log-interval 50 \
  && TASK=labels TASK_DIR="$OUT/task" OUT="$run" SEED="$2" DICT="$DATA/dict.txt" \
     SPM_MODEL="$DATA/sentencepiece.bpe.model" bash "$HERE/../finetune/evaluate.sh" && touch "$run/done"
}
for seed in $SEEDS; do for variant in $VARIANTS; do
  [ -f "$OUT/finetune/$variant-seed$seed/done" ] || launch "finetune-$variant-$seed" finetune "$variant" "$seed"
done; done
wait_all
fi

step "5/5 tables and plots (mean ± std over seeds $SEEDS)"
COMPARE=(); EVALS=()
for variant in $VARIANTS; do
  reports=""
  for seed in $SEEDS; do
    reports+="${reports:+,}$OUT/pretrain/$variant-seed$seed/retrieval.json"
    EVALS+=("$variant=$OUT/finetune/$variant-seed$seed/eval/results.json")
  done
  COMPARE+=(--compare "$variant=$reports")
done
echo "sentence retrieval accuracy (%), average of x->y and y->x over $RETRIEVAL_PAIRS:"
weam-retrieval "${COMPARE[@]}" --curve-dir "$OUT/report"
[ "$ZERO_SHOT" != 1 ] || weam-report "${EVALS[@]}" --out-dir "$OUT/report"
echo
echo "wall time: $(( $(date +%s) - START )) s"
echo "Tables: $OUT/report/retrieval_summary.md, $OUT/report/summary.md; plots: $OUT/report/robustness_curve.png," \
  "$OUT/report/comparison.png"
