# Sourced by the fine-tuning recipes (finetune.sh, tagging.sh, qa.sh, xcopa.sh): the model to start from, the
# architecture and device flags, and the robust-method flags, read from the environment in one place.
# The caller may set ARCH_DEFAULT (XTREME's model size for its task) before sourcing.
MODEL_DIR="${MODEL_DIR:-}"                          # model.pt, dict.txt, sentencepiece.bpe.model (XLM-R's layout)
MODEL="${MODEL:-${MODEL_DIR:+$MODEL_DIR/model.pt}}"            # empty: train from scratch (toy runs)
DICT="${DICT:-${MODEL_DIR:+$MODEL_DIR/dict.txt}}"
SPM_MODEL="${SPM_MODEL:-${MODEL_DIR:+$MODEL_DIR/sentencepiece.bpe.model}}"
: "${DICT:?set MODEL_DIR or DICT}" "${SPM_MODEL:?set MODEL_DIR or SPM_MODEL}"
read -r -a ARCH_FLAGS <<< "${ARCH_FLAGS:---arch ${ARCH_DEFAULT:-roberta_base}}"   # roberta_large for XLM-R large
read -r -a DEVICE_FLAGS <<< "${DEVICE_FLAGS:-}"     # e.g. "--bf16", or "--cpu"
FROM_MODEL=()
[ -n "$MODEL" ] && FROM_MODEL=(--finetune-from-model "$MODEL")
# Robust methods (flags shared by every robust criterion: robust_sentence_prediction, xtreme_tagging, xtreme_qa).
ADV_STEPS="${ADV_STEPS:-3}"; ADV_NORM="${ADV_NORM:-l2}"; ADV_EPS="${ADV_EPS:-1.0}"
ADV_STEP_SIZE="${ADV_STEP_SIZE:-0.5}"; ADV_CLEAN_WEIGHT="${ADV_CLEAN_WEIGHT:-1.0}"
NOISE_TYPE="${NOISE_TYPE:-gaussian}"; NOISE_SIGMA="${NOISE_SIGMA:-0.1}"
ROBUST_FLAGS=(--adv-steps "$ADV_STEPS" --adv-norm "$ADV_NORM" --adv-eps "$ADV_EPS" --adv-step-size "$ADV_STEP_SIZE"
  --adv-clean-weight "$ADV_CLEAN_WEIGHT" --noise-type "$NOISE_TYPE" --noise-sigma "$NOISE_SIGMA")

# How many training items weam-xtreme-prepare wrote to a binarized folder (linear decay needs the number of
# updates): train_count DIR [examples|windows].
train_count() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["subsets"]["train"][sys.argv[2]])' \
    "$1/prepare_report.json" "${2:-examples}"
}
