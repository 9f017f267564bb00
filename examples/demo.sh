#!/usr/bin/env bash
# `make demo`: the whole workflow on the embedded default corpus (the machine's gettext catalogs), at toy size.
#   prepare -> pre-train WEAM and TLM (same data, same updates) -> fine-tune on English with standard and
#   adversarial training (3 fine-tuning seeds) -> zero-shot evaluation and embedding attack -> results
#   table (mean ± std over seeds, majority-class row) and plots.
# The downstream task (weam-gettext-pairs --label program): which program does this UI message come from
# (the TASK_PROGRAMS largest, balanced: majority class 1/TASK_PROGRAMS)? Learnt from English messages, tested
# on their human translations (de, fr, ru; parallel by row). A single-sentence task, so there is no
# generalized l1 x l2 matrix. Fine-tuning seed 1, method none, 3 epochs (about 2 CPU-minutes a run): English
# test 68 % (weam) and 61 % (tlm) against 25 % majority; zero-shot de/fr/ru average 45 % and 43 %.
# Outputs of this task go to task-programs/, finetune-programs/, report-programs/ (an earlier demo's
# sentence-pair task/, finetune/, report/ are left alone, never reused).
# Each step is one of the recipes in examples/ (or one CLI); change the sizes below to run it for real.
# Independent runs go in parallel, one CPU thread each (on a busy CPU, several OpenMP threads per process
# are ten times slower, not faster). Re-running skips finished steps (delete $DEMO_DIR to start again).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DEMO_DIR="${DEMO_DIR:-demo_out}"
PAIRS="${PAIRS:-en-de,en-fr,en-ru}"                 # one non-Latin script pair included
TEST_LANGS="${TEST_LANGS:-de,fr,ru}"
MAX_PAIRS="${MAX_PAIRS:-6000}"                      # parallel pairs per language pair
VOCAB_SIZE="${VOCAB_SIZE:-6000}"
PRETRAIN_UPDATES="${PRETRAIN_UPDATES:-1000}"
PRETRAIN_TOKENS="${PRETRAIN_TOKENS:-2048}"          # tokens per batch
OBJECTIVES="${OBJECTIVES:-weam tlm}"
METHODS="${METHODS:-adversarial none}"
TASK_PROGRAMS="${TASK_PROGRAMS:-4}"                 # classes of the downstream task
TASK_TRAIN_SIZE="${TASK_TRAIN_SIZE:-2000}"
FINETUNE_EPOCHS="${FINETUNE_EPOCHS:-3}"
SEED="${SEED:-1}"                                   # pre-training and task seed
FINETUNE_SEEDS="${FINETUNE_SEEDS:-1 2 3}"
TINY_ARCH="--arch roberta_base --encoder-layers 2 --encoder-embed-dim 128 --encoder-ffn-embed-dim 512 --encoder-attention-heads 2 --max-positions 128"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
mkdir -p "$DEMO_DIR/pretrain" "$DEMO_DIR/finetune-programs"
step() { printf '\n==== [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# run_parallel JOB... : a JOB is "kind:arg1:arg2"; runs job_kind arg1 arg2, at most $JOBS at once (one CPU
# thread each), shows their progress lines, and fails if one fails (its log is in $DEMO_DIR/logs/).
JOBS="${JOBS:-2}"
run_parallel() {
  local job words log failed=0 follower
  local -a logs=()
  mkdir -p "$DEMO_DIR/logs"
  for job in "$@"; do logs+=("$DEMO_DIR/logs/${job//:/_}.log"); : > "${logs[-1]}"; done
  (tail -q -n +1 -F "${logs[@]}" 2>/dev/null | grep --line-buffered -E "train_inner|\| valid \||done training|setting|attack|rror") 2>/dev/null &
  follower=$!
  for job in "$@"; do
    while [ "$(jobs -rp | wc -l)" -gt "$JOBS" ]; do wait -n || failed=1; done  # the follower is one job too
    IFS=: read -r -a words <<< "$job"
    log="$DEMO_DIR/logs/${job//:/_}.log"
    ( "job_${words[0]}" "${words[@]:1}" > "$log" 2>&1 || { echo "FAILED: $job, see $log" >&2; exit 1; } ) &
  done
  while [ "$(jobs -rp | wc -l)" -gt 1 ]; do wait -n || failed=1; done
  sleep 1; pkill -P "$follower" 2>/dev/null || true
  wait "$follower" 2>/dev/null || true
  return $failed
}

step "1/6 parallel corpus from the gettext catalogs ($PAIRS)"
[ -d "$DEMO_DIR/raw" ] || weam-gettext-bitext --pairs "$PAIRS" --max-pairs "$MAX_PAIRS" --valid-size 300 \
  --out "$DEMO_DIR/raw"

step "2/6 weam-prepare: clean, sentencepiece, eflomal alignment, binarize"
weam-prepare --raw-dir "$DEMO_DIR/raw" --dest-dir "$DEMO_DIR/data" --vocab-size "$VOCAB_SIZE" --workers 2

step "3/6 pre-train a tiny model with each of: $OBJECTIVES ($PRETRAIN_UPDATES updates each, in parallel)"
job_pretrain() {  # objective
  DATA="$DEMO_DIR/data" OBJECTIVE="$1" SAVE_DIR="$DEMO_DIR/pretrain/$1" SEED="$SEED" \
  MAX_UPDATE="$PRETRAIN_UPDATES" WARMUP=$((PRETRAIN_UPDATES / 10)) LR=1e-3 MAX_TOKENS="$PRETRAIN_TOKENS" \
  TOKENS_PER_SAMPLE=128 ARCH_FLAGS="$TINY_ARCH" \
    bash "$HERE/pretrain/pretrain.sh" --cpu --num-workers 0 --log-interval 100 --disable-validation \
  && touch "$DEMO_DIR/pretrain/$1/done"
}
pretrain_jobs=()
for objective in $OBJECTIVES; do
  [ -f "$DEMO_DIR/pretrain/$objective/done" ] || pretrain_jobs+=("pretrain:$objective")
done
[ ${#pretrain_jobs[@]} -eq 0 ] || run_parallel "${pretrain_jobs[@]}"
for objective in $OBJECTIVES; do
  weam-retrieval "$DEMO_DIR/pretrain/$objective/checkpoint_last.pt" --data "$DEMO_DIR/data" --split valid \
    --output "$DEMO_DIR/pretrain/$objective.retrieval.json" 2>&1 | tail -n 1 | sed "s/^/$objective: /"
done

step "4/6 which program is this message from? (English train/dev; test in en,$TEST_LANGS, parallel by row)"
[ -d "$DEMO_DIR/task-programs" ] || weam-gettext-pairs "$DEMO_DIR/task-programs" --langs "$TEST_LANGS" \
  --label program --max-programs "$TASK_PROGRAMS" --max-per-program 1000 --train-size "$TASK_TRAIN_SIZE" --dev-size 300 \
  --test-size 300 --seed "$SEED"
echo "labels: $(paste -sd, "$DEMO_DIR/task-programs/labels.txt")"

step "5/6 fine-tune every pre-trained model on English only, with --robust-method: $METHODS, seeds $FINETUNE_SEEDS"
job_finetune() {  # objective method seed
  local run="$DEMO_DIR/finetune-programs/$1-$2-seed$3"
  TASK=labels TASK_DIR="$DEMO_DIR/task-programs" METHOD="$2" OUT="$run" SEED="$3" \
  MODEL="$DEMO_DIR/pretrain/$1/checkpoint_last.pt" DICT="$DEMO_DIR/data/dict.txt" \
  SPM_MODEL="$DEMO_DIR/data/sentencepiece.bpe.model" ARCH_FLAGS="$TINY_ARCH" LR=1e-4 \
  EPOCHS="$FINETUNE_EPOCHS" VALIDATE_EVERY=125 WORKERS=1 ADV_EPS=0.05 ADV_STEP_SIZE=0.05 ADV_STEPS=1 \
  DEVICE_FLAGS="--cpu --num-workers 0" bash "$HERE/finetune/finetune.sh" --log-interval 50 \
  && touch "$run/done"
}
finetune_jobs=()
for method in $METHODS; do  # the slowest method first: the two cores stay busy
  for seed in $FINETUNE_SEEDS; do
    for objective in $OBJECTIVES; do
      [ -f "$DEMO_DIR/finetune-programs/$objective-$method-seed$seed/done" ] \
        || finetune_jobs+=("finetune:$objective:$method:$seed")
    done
  done
done
[ ${#finetune_jobs[@]} -eq 0 ] || run_parallel "${finetune_jobs[@]}"

step "6/6 evaluate: zero-shot per language, embedding PGD attack (in parallel)"
job_evaluate() {  # objective method seed
  TASK=labels TASK_DIR="$DEMO_DIR/task-programs" OUT="$DEMO_DIR/finetune-programs/$1-$2-seed$3" SEED="$3" \
  DICT="$DEMO_DIR/data/dict.txt" \
  SPM_MODEL="$DEMO_DIR/data/sentencepiece.bpe.model" PGD_EPS=0.05 bash "$HERE/finetune/evaluate.sh"
}
EVALS=()
evaluate_jobs=()
for objective in $OBJECTIVES; do
  for method in $METHODS; do
    for seed in $FINETUNE_SEEDS; do
      run="$DEMO_DIR/finetune-programs/$objective-$method-seed$seed"
      [ -f "$run/eval/results.json" ] || evaluate_jobs+=("evaluate:$objective:$method:$seed")
      EVALS+=("$objective+$method=$run/eval/results.json")
    done
  done
done
[ ${#evaluate_jobs[@]} -eq 0 ] || run_parallel "${evaluate_jobs[@]}"

step "results (accuracy %, fine-tuned on English only; mean ± std over fine-tuning seeds $FINETUNE_SEEDS)"
weam-report "${EVALS[@]}" --out-dir "$DEMO_DIR/report-programs"
echo
echo "Results table: $DEMO_DIR/report-programs/summary.md; plot: $DEMO_DIR/report-programs/comparison.png"
echo "Per run: $DEMO_DIR/finetune-programs/<objective>-<method>-seed<seed>/eval/{results.md,accuracy_per_language.png}"
echo "Data report: $DEMO_DIR/data/prep_report.txt; retrieval: $DEMO_DIR/pretrain/<objective>.retrieval.json"
