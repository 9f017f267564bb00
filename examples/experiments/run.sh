#!/usr/bin/env bash
# (C) and (D) on the built-in corpus: intermediate-task chains, 3 seeds, zero-shot by family and resource level.
#   bash examples/experiments/run.sh            (EXPERIMENT_DIR=runs/experiments, DEMO_DIR=demo_out)
# Starts from the tiny WEAM model of `make demo` ($DEMO_DIR/pretrain/weam/checkpoint_last.pt). Both experiments
# run at once (one CPU thread each; JOBS=1 runs them one after the other); they share the tasks, which the
# first to get there builds. Re-running skips finished stages. Sizes: HIGH_TRAIN_SIZE, LOW_TRAIN_SIZE,
# TARGET_TRAIN_SIZE (environment), the rest in tasks.yaml.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
export DEMO_DIR="${DEMO_DIR:-demo_out}" EXPERIMENT_DIR="${EXPERIMENT_DIR:-runs/experiments}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
JOBS="${JOBS:-2}"
if [ ! -f "$DEMO_DIR/pretrain/weam/checkpoint_last.pt" ]; then
  echo "run.sh: no $DEMO_DIR/pretrain/weam/checkpoint_last.pt: run 'make demo' first (or set DEMO_DIR)" >&2
  exit 1
fi
mkdir -p "$EXPERIMENT_DIR"
if [ "$JOBS" -gt 1 ]; then
  weam-experiment "$HERE/c_adversarial_intermediate.yaml" > "$EXPERIMENT_DIR/c.out" 2>&1 &
  c=$!
  weam-experiment "$HERE/d_intermediate_order.yaml" 2>&1 | tee "$EXPERIMENT_DIR/d.out"
  wait "$c" || { echo "run.sh: (C) failed, see $EXPERIMENT_DIR/c.out" >&2; exit 1; }
  cat "$EXPERIMENT_DIR/c.out"
else
  weam-experiment "$HERE/c_adversarial_intermediate.yaml"
  weam-experiment "$HERE/d_intermediate_order.yaml"
fi
echo "Reports: $EXPERIMENT_DIR/c_adversarial_intermediate/report/ and $EXPERIMENT_DIR/d_intermediate_order/report/"
