#!/usr/bin/env bash
# Issue 11 (A): does WEAM pre-training on synthetic (adversarial) pairs from noisy cross-lingual word embeddings
# transfer as well as natural parallel data? Four kinds of pre-training pairs at the same budget (same number
# of pairs, same source sentences, same updates and batch size, one shared sentencepiece model and dictionary):
#   natural      the gettext bitext, links by eflomal (weam-prepare's default aligner)
#   synthetic    the English side pseudo-translated by weam-synthesize (best CSLS candidate), exact links
#   adversarial  the same with --choice adversarial (highest masked-LM loss under the natural model of the
#                same seed when ADV_SCORER=mlm; else the candidate most confusable with the best by cosine)
#   mixed        NATURAL_SHARE natural pairs, the rest synthetic
# then fine-tuning on the English part of the demo task and zero-shot accuracy on TEST_LANGS (weam-evaluate),
# seeds SEEDS (synthesis, pre-training and fine-tuning seed), table mean ± std + BLI precision of each set.
#   OUT=results/synthetic bash examples/synthetic/compare_pairs.sh
# Toy sizes by default (CPU); on a GPU raise MAX_PAIRS, MONO_PAIRS, PRETRAIN_UPDATES, ARCH_FLAGS, set DEVICE_FLAGS.
# Re-running skips finished steps. JOBS runs that many at once (one CPU thread each).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${OUT:-results/synthetic}"
PAIRS="${PAIRS:-en-de,en-fr,en-ru}"
TEST_LANGS="${TEST_LANGS:-de,fr,ru}"
MAX_PAIRS="${MAX_PAIRS:-2000}"                  # natural pairs per language pair (train + valid): the budget
MONO_PAIRS="${MONO_PAIRS:-40000}"               # lines of each language's text for fastText (the whole corpus)
VOCAB_SIZE="${VOCAB_SIZE:-4000}"
DICTIONARY="${DICTIONARY:-freedict}"            # freedict (installed when missing and possible) | gettext | FILE
INSTALL_FREEDICT="${INSTALL_FREEDICT:-1}"
DIM="${DIM:-64}"; EPOCH="${EPOCH:-10}"; MIN_COUNT="${MIN_COUNT:-2}"   # fastText
IDENTICAL="${IDENTICAL:---identical-seed}"      # words spelt the same in both languages join the seed dictionary
NOISE="${NOISE:-none}"                           # weam-synthesize --noise (none | gaussian:SIGMA | sample:K:T)
RATE="${RATE:-0.5}"                              # share of known words exchanged
TOP_K="${TOP_K:-5}"                              # candidates of the adversarial choice
ADV_SCORER="${ADV_SCORER:-cosine}"               # cosine | mlm (the natural model of the same seed scores candidates)
NATURAL_SHARE="${NATURAL_SHARE:-0.5}"
CONDITIONS="${CONDITIONS:-natural synthetic adversarial mixed}"
SEEDS="${SEEDS:-1 2 3}"
PRETRAIN_UPDATES="${PRETRAIN_UPDATES:-300}"
PRETRAIN_TOKENS="${PRETRAIN_TOKENS:-2048}"
TASK_PROGRAMS="${TASK_PROGRAMS:-4}"
TASK_TRAIN_SIZE="${TASK_TRAIN_SIZE:-1000}"
FINETUNE_EPOCHS="${FINETUNE_EPOCHS:-2}"
DEVICE_FLAGS="${DEVICE_FLAGS:---cpu}"
ARCH_FLAGS="${ARCH_FLAGS:---arch roberta_base --encoder-layers 2 --encoder-embed-dim 128 --encoder-ffn-embed-dim 512 --encoder-attention-heads 2 --max-positions 128}"
JOBS="${JOBS:-2}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
mkdir -p "$OUT/logs"
step() { printf '\n==== [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
IFS=, read -r -a PAIR_LIST <<< "$PAIRS"

step "1/6 corpus: natural pairs ($MAX_PAIRS per pair), text for fastText ($MONO_PAIRS lines), task"
[ -d "$OUT/raw/natural" ] || weam-gettext-bitext --pairs "$PAIRS" --max-pairs "$MAX_PAIRS" --valid-size 200 \
  --out "$OUT/raw/natural"
[ -d "$OUT/mono" ] || weam-gettext-bitext --pairs "$PAIRS" --max-pairs "$MONO_PAIRS" --valid-size 0 --seed 1 \
  --out "$OUT/mono"
[ -d "$OUT/task" ] || weam-gettext-pairs "$OUT/task" --langs "$TEST_LANGS" --label program \
  --max-programs "$TASK_PROGRAMS" --max-per-program 1000 --train-size "$TASK_TRAIN_SIZE" --dev-size 200 \
  --test-size 300 --seed 1

step "2/6 seed/test dictionaries ($DICTIONARY)"
TEXT_FLAGS=(--text "en=$OUT/mono/train.${PAIR_LIST[0]}.en")
SENTENCE_FLAGS=()
DICT_FLAGS=()
for pair in "${PAIR_LIST[@]}"; do
  other="${pair#en-}"
  TEXT_FLAGS+=(--text "$other=$OUT/mono/train.$pair.$other")
  mkdir -p "$OUT/sentences"  # the English side of the natural pairs (train + valid): the same sentences
  cat "$OUT/raw/natural/train.$pair.en" "$OUT/raw/natural/valid.$pair.en" > "$OUT/sentences/$pair.en"
  SENTENCE_FLAGS+=(--sentences "$pair=$OUT/sentences/$pair.en")
  spec="$DICTIONARY"
  if [ "$DICTIONARY" = freedict ]; then
    case "$other" in  # FreeDict's ISO 639-3 names (fairseq_weam/synthesis/dictionaries.py has more)
      de) code=deu ;; fr) code=fra ;; ru) code=rus ;; es) code=spa ;; it) code=ita ;; nl) code=nld ;; *) code="$other" ;;
    esac
    have() { [ -f "/usr/share/dictd/freedict-eng-$1.index" ] || [ -f "/usr/share/dictd/freedict-$1-eng.index" ]; }
    if ! have "$code"; then
      if [ "$INSTALL_FREEDICT" = 1 ] && [ "$(id -u)" = 0 ]; then
        apt-get install -y "dict-freedict-eng-$code" > "$OUT/logs/apt-$code.log" 2>&1 || true
      fi
    fi
    have "$code" || { echo "no FreeDict eng-$code: using the gettext catalogs' one-word messages for $pair"; spec=gettext; }
  fi
  DICT_FLAGS+=(--dictionary "$pair=$spec")
done
SYN_FLAGS=(--pairs "$PAIRS" "${TEXT_FLAGS[@]}" "${SENTENCE_FLAGS[@]}" "${DICT_FLAGS[@]}" --dim "$DIM" --epoch "$EPOCH"
           --min-count "$MIN_COUNT" $IDENTICAL --noise "$NOISE" --rate "$RATE" --top-k "$TOP_K" --valid-size 200
           --cache-dir "$OUT/vectors")

step "3/6 natural data: weam-prepare (sentencepiece + eflomal); its model and dictionary serve every set"
weam-prepare --raw-dir "$OUT/raw/natural" --dest-dir "$OUT/data/natural" --vocab-size "$VOCAB_SIZE" --workers 1 \
  > "$OUT/logs/prepare-natural.log"
SHARED=(--spm-model "$OUT/data/natural/sentencepiece.bpe.model" --dict "$OUT/data/natural/dict.txt")

pretrain_and_evaluate() {  # condition seed
  local run="$OUT/runs/$1-seed$2" data="$OUT/data/$1-seed$2"
  local dict="$OUT/data/natural/dict.txt" spm="$OUT/data/natural/sentencepiece.bpe.model"  # before OUT= below
  [ "$1" = natural ] && data="$OUT/data/natural"
  mkdir -p "$run"
  if [ ! -f "$run/ckpt/done" ]; then
    DATA="$data" OBJECTIVE=weam SAVE_DIR="$run/ckpt" SEED="$2" MAX_UPDATE="$PRETRAIN_UPDATES" \
    WARMUP=$((PRETRAIN_UPDATES / 10)) LR=1e-3 MAX_TOKENS="$PRETRAIN_TOKENS" TOKENS_PER_SAMPLE=128 \
    ARCH_FLAGS="$ARCH_FLAGS" bash "$HERE/../pretrain/pretrain.sh" $DEVICE_FLAGS --num-workers 0 \
      --log-interval 100 --disable-validation > "$run/pretrain.log" 2>&1 || return 1
    touch "$run/ckpt/done"
  fi
  if [ ! -f "$run/downstream/eval/results.json" ]; then
    TASK=labels TASK_DIR="$OUT/task" METHOD=none SEED="$2" \
    MODEL="$run/ckpt/checkpoint_last.pt" DICT="$dict" SPM_MODEL="$spm" ARCH_FLAGS="$ARCH_FLAGS" LR=1e-4 EPOCHS="$FINETUNE_EPOCHS" \
    VALIDATE_EVERY=100 WORKERS=1 DEVICE_FLAGS="$DEVICE_FLAGS --num-workers 0" \
    OUT="$run/downstream" bash "$HERE/../finetune/finetune.sh" --log-interval 50 > "$run/finetune.log" 2>&1 || return 1
    TASK=labels TASK_DIR="$OUT/task" OUT="$run/downstream" SEED="$2" DICT="$dict" SPM_MODEL="$spm" \
      bash "$HERE/../finetune/evaluate.sh" > "$run/evaluate.log" 2>&1 || return 1
  fi
}

synthesize_and_prepare() {  # condition seed
  local raw="$OUT/raw/$1-seed$2" flags=()
  case "$1" in
    synthetic) flags=(--choice best) ;;
    adversarial) flags=(--choice adversarial)
      [ "$ADV_SCORER" = mlm ] && flags+=(--checkpoint "$OUT/runs/natural-seed$2/ckpt/checkpoint_last.pt"
                                         --checkpoint-data "$OUT/data/natural") ;;
    mixed) flags=(--choice best --natural "$OUT/raw/natural" --natural-share "$NATURAL_SHARE") ;;
  esac
  [ -d "$raw" ] || weam-synthesize "${SYN_FLAGS[@]}" "${flags[@]}" --seed "$2" --out "$raw" > "$OUT/logs/synth-$1-seed$2.log" \
    || return 1
  weam-prepare --raw-dir "$raw" --dest-dir "$OUT/data/$1-seed$2" --aligner precomputed --on-bad-link skip \
    "${SHARED[@]}" --workers 1 > "$OUT/logs/prepare-$1-seed$2.log" || return 1
}

one_run() {  # condition seed
  { [ "$1" = natural ] || synthesize_and_prepare "$1" "$2"; } && pretrain_and_evaluate "$1" "$2" \
    && echo "$1 seed $2: $(grep -m1 average "$OUT/runs/$1-seed$2/downstream/eval/results.md" || true)" \
    || { echo "FAILED: $1 seed $2 (logs in $OUT/logs and $OUT/runs/$1-seed$2)" >&2; return 1; }
}

run_all() {  # condition...
  local pids=() failed=0 pid
  for seed in $SEEDS; do
    for condition in "$@"; do
      one_run "$condition" "$seed" & pids+=($!)
      while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 2; done
    done
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  return $failed
}

step "4/6 fastText vectors of every language (cached for all sets)"
weam-synthesize "${SYN_FLAGS[@]}" --seed 0 --max-sentences 10 --out "$OUT/raw/.vectors-check" > "$OUT/logs/vectors.log"

step "5/6 synthesize, prepare, pre-train ($PRETRAIN_UPDATES updates), fine-tune, evaluate: $CONDITIONS x seeds $SEEDS"
first=() rest=()
for c in $CONDITIONS; do
  if [ "$c" = natural ] || { [ "$c" != adversarial ] || [ "$ADV_SCORER" != mlm ]; }; then first+=("$c"); else rest+=("$c"); fi
done
run_all "${first[@]}"
[ ${#rest[@]} -eq 0 ] || run_all "${rest[@]}"   # the masked-LM scorer needs the natural models

step "6/6 table and plot"
specs=()
for c in $CONDITIONS; do
  for seed in $SEEDS; do specs+=("$c=$OUT/runs/$c-seed$seed/downstream/eval/results.json"); done
done
weam-report "${specs[@]}" --out-dir "$OUT/report" > /dev/null
python3 "$HERE/table.py" "$OUT" $CONDITIONS | tee "$OUT/report/table.md"
echo "Table: $OUT/report/table.md; plot: $OUT/report/comparison.png; synthesis reports: $OUT/raw/*/synthesis_report.json"
