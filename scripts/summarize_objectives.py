#!/usr/bin/env python3
"""Table of the objective comparison run by compare_objectives.sh: mean ± std over seeds per objective.

Reads RESULTS/{objective}_seed{seed}/{train.log,validate.log,retrieval.json} and prints a markdown table.
"""
import json
import re
import statistics
import sys
from pathlib import Path

COLUMNS = [
    ("train ml_loss (first)", "train_first_ml"), ("train ml_loss (last)", "train_last_ml"),
    ("train cl_loss (first)", "train_first_cl"), ("train cl_loss (last)", "train_last_cl"),
    ("valid ml_loss", "valid_ml"), ("valid cl_loss", "valid_cl"), ("valid cl_acc %", "valid_cl_acc"),
    ("word retrieval", "word_acc"), ("sentence retrieval", "sentence_acc"),
]


def fields(line):
    return {k: float(v) for k, v in re.findall(r"(\w+)[= ]([-\d.]+(?:e-?\d+)?)(?=[ ,|]|$)", line)}


def run_metrics(run_dir):
    train = [fields(l) for l in (run_dir / "train.log").read_text().splitlines() if "train_inner" in l]
    valid = [fields(l) for l in (run_dir / "validate.log").read_text().splitlines() if "valid on" in l][-1]
    retrieval = json.loads((run_dir / "retrieval.json").read_text())["average"]
    return {
        "train_first_ml": train[0]["ml_loss"], "train_last_ml": train[-1]["ml_loss"],
        "train_first_cl": train[0]["cl_loss"], "train_last_cl": train[-1]["cl_loss"],
        "valid_ml": valid["ml_loss"], "valid_cl": valid["cl_loss"], "valid_cl_acc": valid["cl_acc"],
        "word_acc": 100 * retrieval["word_acc"], "sentence_acc": 100 * retrieval["sentence_acc"],
    }


def main(results):
    results = Path(results)
    runs = {}
    for run_dir in sorted(results.glob("*_seed*")):
        if (run_dir / "retrieval.json").exists():
            objective = run_dir.name.rsplit("_seed", 1)[0]
            runs.setdefault(objective, []).append(run_metrics(run_dir))
    print("| objective | seeds | " + " | ".join(name for name, _ in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    for objective, metrics in runs.items():
        cells = []
        for _, key in COLUMNS:
            values = [m[key] for m in metrics]
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.2f} ± {std:.2f}")
        print(f"| {objective} | {len(metrics)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "results/compare_objectives"))
