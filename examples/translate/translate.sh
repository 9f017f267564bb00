#!/usr/bin/env bash
# Translate-train and translate-test baselines next to zero-shot, on the built-in gettext corpus (toy size).
#   bash examples/translate/translate.sh                      # everything from scratch, CPU
#   MODEL=demo_out/pretrain/weam/checkpoint_last.pt SPM_MODEL=demo_out/data/sentencepiece.bpe.model \
#     DICT=demo_out/data/dict.txt bash examples/translate/translate.sh   # fine-tune the demo's WEAM encoder
# Steps: bitext (weam-gettext-bitext) and the task (weam-gettext-pairs --label program) -> task messages
# removed from the bitext -> weam-prepare -> one fairseq `translation` model per direction (en->L, L->en) ->
# sacreBLEU BLEU/chrF on the held-out valid pairs -> translate-train (train-en translated into every L, union)
# and translate-test (test-L translated into English) task dirs -> fine-tune (finetune.sh) English-only and
# translate-train models, SEEDS each -> weam-evaluate -> one weam-report table: zero-shot / translate-train /
# translate-test. Re-running skips finished steps (delete $OUT to start again). Sizes are variables.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${OUT:-runs/translate}"
LANGS="${LANGS:-de,ru}"                             # test languages (one Latin, one Cyrillic script)
MAX_PAIRS="${MAX_PAIRS:-6000}"                      # bitext pairs per language pair
VALID_PAIRS="${VALID_PAIRS:-300}"                   # held-out pairs per language pair (BLEU/chrF)
VOCAB_SIZE="${VOCAB_SIZE:-6000}"                    # when no SPM_MODEL is given
SPM_MODEL="${SPM_MODEL:-}"; DICT="${DICT:-}"        # an encoder's vocabulary (with MODEL); default: trained
MODEL="${MODEL:-}"                                  # pre-trained encoder to fine-tune (default: from scratch)
MT_ARCH="${MT_ARCH:---arch transformer --encoder-layers 1 --decoder-layers 1 --encoder-embed-dim 64 --decoder-embed-dim 64 --encoder-ffn-embed-dim 256 --decoder-ffn-embed-dim 256 --encoder-attention-heads 4 --decoder-attention-heads 4 --share-all-embeddings --max-source-positions 256 --max-target-positions 256}"
MT_UPDATES="${MT_UPDATES:-150}"
MT_TOKENS="${MT_TOKENS:-1024}"                      # tokens per batch
MT_LR="${MT_LR:-3e-3}"
BEAM="${BEAM:-4}"
TASK_PROGRAMS="${TASK_PROGRAMS:-4}"
TASK_TRAIN_SIZE="${TASK_TRAIN_SIZE:-1000}"
EPOCHS="${EPOCHS:-2}"
SEEDS="${SEEDS:-1 2 3}"
TASK_SEED="${TASK_SEED:-1}"
ARCH_FLAGS="${ARCH_FLAGS:---arch roberta_base --encoder-layers 2 --encoder-embed-dim 128 --encoder-ffn-embed-dim 512 --encoder-attention-heads 2 --max-positions 128}"
DEVICE_FLAGS="${DEVICE_FLAGS:---cpu --num-workers 0}"
JOBS="${JOBS:-2}"                                   # runs at once (one CPU thread each on CPU)
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
IFS=, read -r -a L <<< "$LANGS"
PAIRS=$(printf 'en-%s,' "${L[@]}"); PAIRS="${PAIRS%,}"
mkdir -p "$OUT/logs"
step() { printf '\n==== [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
throttle() { while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done; }
finish() { local failed=0; while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || failed=1; done; return $failed; }

step "1/7 bitext ($PAIRS) and the task: which program is this UI message from?"
[ -d "$OUT/raw-all" ] || weam-gettext-bitext --pairs "$PAIRS" --max-pairs "$MAX_PAIRS" --valid-size "$VALID_PAIRS" \
  --out "$OUT/raw-all"
[ -d "$OUT/task" ] || weam-gettext-pairs "$OUT/task" --langs "$LANGS" --label program \
  --max-programs "$TASK_PROGRAMS" --max-per-program 1000 --train-size "$TASK_TRAIN_SIZE" --dev-size 300 \
  --test-size 300 --seed "$TASK_SEED"
LABELS=$(paste -sd, "$OUT/task/labels.txt")  # the task's label set (weam-gettext-pairs)

step "2/7 remove every task message (either side) from the bitext, then weam-prepare"
if [ ! -d "$OUT/raw" ]; then
  mkdir -p "$OUT/raw.tmp"
  cut -f1 "$OUT"/task/*.tsv | sort -u > "$OUT/raw.tmp/task-messages"
  for lang in "${L[@]}"; do for split in train valid; do
    base="$split.en-$lang"
    paste "$OUT/raw-all/$base.en" "$OUT/raw-all/$base.$lang" \
      | awk -F'\t' 'NR==FNR {seen[$0]=1; next} !($1 in seen) && !($2 in seen)' "$OUT/raw.tmp/task-messages" - \
      > "$OUT/raw.tmp/$base.tsv"
    cut -f1 "$OUT/raw.tmp/$base.tsv" > "$OUT/raw.tmp/$base.en"
    cut -f2 "$OUT/raw.tmp/$base.tsv" > "$OUT/raw.tmp/$base.$lang"
    echo "$base: $(wc -l < "$OUT/raw-all/$base.en") -> $(wc -l < "$OUT/raw.tmp/$base.en") pairs"
    rm "$OUT/raw.tmp/$base.tsv"
  done; done
  rm "$OUT/raw.tmp/task-messages"; mv "$OUT/raw.tmp" "$OUT/raw"
fi
VOCAB=(--vocab-size "$VOCAB_SIZE")
[ -n "$SPM_MODEL" ] && VOCAB=(--spm-model "$SPM_MODEL" --dict "$DICT")
weam-prepare --raw-dir "$OUT/raw" --dest-dir "$OUT/data" "${VOCAB[@]}" --workers 2 | tail -n 4
SPM_MODEL="$OUT/data/sentencepiece.bpe.model"; DICT="$OUT/data/dict.txt"

step "3/7 one translation model per direction ($MT_UPDATES updates each, fairseq --task translation)"
train_mt() {  # src tgt
  local dir="$OUT/mt/$1-$2"
  read -r -a arch <<< "$MT_ARCH"; read -r -a device <<< "$DEVICE_FLAGS"
  fairseq-train "$OUT/data" --user-dir "$HERE/../../fairseq_weam" --task translation -s "$1" -t "$2" "${arch[@]}" \
    --optimizer adam --adam-betas '(0.9,0.98)' --lr "$MT_LR" --lr-scheduler inverse_sqrt \
    --warmup-updates $((MT_UPDATES / 4)) --clip-norm 1.0 --dropout 0.1 --criterion label_smoothed_cross_entropy \
    --label-smoothing 0.1 --max-tokens "$MT_TOKENS" --max-update "$MT_UPDATES" --disable-validation \
    --no-epoch-checkpoints --save-dir "$dir" --seed 1 --log-format simple --log-interval 100 "${device[@]}" \
    > "$OUT/logs/mt-$1-$2.log" 2>&1 && touch "$dir/done" || { echo "FAILED: see $OUT/logs/mt-$1-$2.log" >&2; exit 1; }
}
for lang in "${L[@]}"; do for dir in "en $lang" "$lang en"; do
  set -- $dir; [ -f "$OUT/mt/$1-$2/done" ] || { throttle; train_mt "$1" "$2" & }
done; done
finish

step "4/7 sacreBLEU on the held-out valid pairs (never trained on; checkpoint_last after a fixed number of updates)"
TRANSLATE=(--data-dir "$OUT/data" --beam "$BEAM")
for lang in "${L[@]}"; do for dir in "en $lang" "$lang en"; do
  set -- $dir; mt="$OUT/mt/$1-$2"
  [ -f "$mt/valid.json" ] || { throttle; (
    weam-translate text "$OUT/raw/valid.en-$lang.$1" "$mt/valid.hyp" --checkpoint "$mt/checkpoint_last.pt" \
      "${TRANSLATE[@]}" > "$OUT/logs/valid-$1-$2.log" 2>&1
    weam-translate score "$mt/valid.hyp" "$OUT/raw/valid.en-$lang.$2" --json "$mt/valid.json" ) & }
done; done
finish
{ echo "| direction | BLEU | chrF | pairs |"; echo "|---|---|---|---|"
  for lang in "${L[@]}"; do for dir in "en-$lang" "$lang-en"; do
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))
print("| %s | %.2f | %.2f | %d |" % (sys.argv[2], r["bleu"]["score"], r["chrf"]["score"], r["segments"]))' \
      "$OUT/mt/$dir/valid.json" "$dir"
  done; done
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))
print("\nBLEU signature: %s\nchrF signature: %s" % (r["bleu"]["signature"], r["chrf"]["signature"]))' \
    "$OUT/mt/en-${L[0]}/valid.json"; } > "$OUT/mt/scores.md"
cat "$OUT/mt/scores.md"

step "5/7 translate-test (test-L -> English) and translate-train (train-en -> every L, union) task dirs"
for kind in translate-test translate-train; do mkdir -p "$OUT/task-$kind.tmp"; done
for lang in "${L[@]}"; do
  [ -f "$OUT/task-translate-test/test-$lang.tsv" ] || { throttle; weam-translate task "$OUT/task/test-$lang.tsv" \
    "$OUT/task-translate-test.tmp/test-$lang.tsv" --checkpoint "$OUT/mt/$lang-en/checkpoint_last.pt" \
    "${TRANSLATE[@]}" > "$OUT/logs/tt-$lang.log" 2>&1 & }
  [ -f "$OUT/task-translate-train/train-en.tsv" ] || { throttle; weam-translate task "$OUT/task/train-en.tsv" \
    "$OUT/task-translate-train.tmp/train-$lang.tsv" --checkpoint "$OUT/mt/en-$lang/checkpoint_last.pt" \
    "${TRANSLATE[@]}" > "$OUT/logs/tr-$lang.log" 2>&1 & }
done
finish
if [ ! -d "$OUT/task-translate-test" ]; then
  cp "$OUT"/task/{train-en,dev-en,test-en}.tsv "$OUT/task-translate-test.tmp/"
  mv "$OUT/task-translate-test.tmp" "$OUT/task-translate-test"
fi
if [ ! -d "$OUT/task-translate-train" ]; then  # the layout's name for the training file: train-en.tsv
  translated=(); for lang in "${L[@]}"; do translated+=("$OUT/task-translate-train.tmp/train-$lang.tsv"); done
  cat "$OUT/task/train-en.tsv" "${translated[@]}" > "$OUT/task-translate-train.tmp/union"
  rm "${translated[@]}"
  mv "$OUT/task-translate-train.tmp/union" "$OUT/task-translate-train.tmp/train-en.tsv"
  cp "$OUT"/task/dev-en.tsv "$OUT"/task/test-*.tsv "$OUT/task-translate-train.tmp/"
  mv "$OUT/task-translate-train.tmp" "$OUT/task-translate-train"
fi
rm -rf "$OUT"/task-translate-*.tmp
wc -l "$OUT"/task-translate-train/train-en.tsv

step "6/7 fine-tune English-only and translate-train models (seeds $SEEDS), evaluate"
finetune() {  # name task_dir seed
  local run="$OUT/finetune/$1-seed$3"
  [ -f "$run/done" ] && return 0
  TASK=labels LABELS="$LABELS" TASK_DIR="$2" METHOD=none OUT="$run" SEED="$3" MODEL="$MODEL" DICT="$DICT" \
  SPM_MODEL="$SPM_MODEL" ARCH_FLAGS="$ARCH_FLAGS" LR=1e-4 EPOCHS="$EPOCHS" VALIDATE_EVERY=125 WORKERS=1 \
  DEVICE_FLAGS="$DEVICE_FLAGS" bash "$HERE/../finetune/finetune.sh" --log-interval 50 > "$OUT/logs/ft-$1-$3.log" 2>&1 \
    && touch "$run/done" || { echo "FAILED: see $OUT/logs/ft-$1-$3.log" >&2; exit 1; }
}
evaluate() {  # run_name task_dir eval_name seed
  local run="$OUT/finetune/$1-seed$4"
  [ -f "$run/$3/results.json" ] || TASK=labels TASK_DIR="$2" OUT="$run" EVAL_DIR="$run/$3" SEED="$4" DICT="$DICT" \
    SPM_MODEL="$SPM_MODEL" bash "$HERE/../finetune/evaluate.sh" > "$OUT/logs/eval-$1-$3-$4.log" 2>&1 \
    || { echo "FAILED: see $OUT/logs/eval-$1-$3-$4.log" >&2; exit 1; }
}
for seed in $SEEDS; do  # the larger translate-train runs first
  throttle; (finetune translate-train "$OUT/task-translate-train" "$seed" \
             && evaluate translate-train "$OUT/task" eval "$seed") &
  throttle; (finetune english "$OUT/task" "$seed" && evaluate english "$OUT/task" eval-zero-shot "$seed" \
             && evaluate english "$OUT/task-translate-test" eval-translate-test "$seed") &
done
finish

step "7/7 one table: zero-shot / translate-train / translate-test (mean ± std over seeds $SEEDS)"
RUNS=()
for seed in $SEEDS; do
  RUNS+=("zero-shot=$OUT/finetune/english-seed$seed/eval-zero-shot/results.json"
         "translate-train=$OUT/finetune/translate-train-seed$seed/eval/results.json"
         "translate-test=$OUT/finetune/english-seed$seed/eval-translate-test/results.json")
done
weam-report "${RUNS[@]}" --out-dir "$OUT/report"
echo; echo "MT scores: $OUT/mt/scores.md; table: $OUT/report/summary.md"
