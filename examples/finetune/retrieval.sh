#!/usr/bin/env bash
# Zero-shot retrieval of XTREME-R (Tatoeba, LAReQA, Mewsli-X) with an encoder checkpoint: mean-pooled states of
# one layer, cosine nearest neighbours (faiss); predictions in the submission layout under $OUT/predictions/.
#   TASK=tatoeba TASK_DIR=download/tatoeba CHECKPOINT=runs/xquad/checkpoints/checkpoint_last.pt \
#     DICT=xlmr.large/dict.txt SPM_MODEL=xlmr.large/sentencepiece.bpe.model bash examples/finetune/retrieval.sh
# Which checkpoint (XTREME's scripts): Tatoeba uses the model fine-tuned on SQuAD v1.1 (run_tatoeba.sh; here the
# checkpoint of examples/finetune/qa.sh) and layer 13 of XLM-R large (7 of a 12-layer model): LAYER=13 is the
# default. LAReQA and Mewsli-X use dual encoders fine-tuned for retrieval there (train_lareqa.sh,
# train_mewslix.sh), which this plugin does not train: any pre-trained or fine-tuned checkpoint is evaluated as
# it is (set LAYER=-1 for the last layer). Max lengths of XTREME's scripts: Tatoeba 512, Mewsli-X 64,
# LAReQA 96 (questions) / 256 (answers): MAX_LEN is one bound for every text (default 512).
# Tatoeba's gold needs LASER's unsorted tatoeba.<l3>-eng.eng beside XTREME's files; Mewsli-X test labels are
# emptied by XTREME's download: those languages get predictions and are listed as unscored in results.json.
set -euo pipefail
TASK="${TASK:-tatoeba}"
case "$TASK" in tatoeba|lareqa|mewslix) ;; *) echo "TASK must be tatoeba, lareqa or mewslix" >&2; exit 2 ;; esac
: "${TASK_DIR:?set TASK_DIR to the task folder of XTREME download_data.sh (download/<task>)}"
: "${CHECKPOINT:?set CHECKPOINT}" "${DICT:?set DICT}" "${SPM_MODEL:?set SPM_MODEL}"
LAYER="${LAYER:-13}"
MAX_LEN="${MAX_LEN:-512}"
BATCH="${BATCH:-100}"
OUT="${OUT:-runs/${TASK}_layer${LAYER}}"
DEVICE="${DEVICE:-}"
EVAL_FLAGS=()
[ -n "$DEVICE" ] && EVAL_FLAGS=(--device "$DEVICE")
weam-evaluate --task "$TASK" --checkpoint "$CHECKPOINT" --task-dir "$TASK_DIR" --spm-model "$SPM_MODEL" \
  --dict "$DICT" --out-dir "$OUT" --layer "$LAYER" --max-len "$MAX_LEN" --batch-size "$BATCH" "${EVAL_FLAGS[@]}"
