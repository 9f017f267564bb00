#!/usr/bin/env python3
"""Table of compare_pairs.sh: per condition, BLI precision of its synthetic sets and zero-shot accuracy.

    python3 examples/synthetic/table.py OUT natural synthetic adversarial mixed

Reads OUT/report/summary.json (weam-report) and OUT/raw/<condition>-seed<seed>/synthesis_report.json
(weam-synthesize); prints a markdown table, mean ± std over seeds (BLI: over seeds and language pairs).
"""
import json
import statistics
import sys
from pathlib import Path


def mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    return f"{statistics.mean(values):.1f} ± {statistics.pstdev(values) if len(values) > 1 else 0.0:.1f}"


def main(out, conditions):
    out = Path(out)
    summary = json.loads((out / "report" / "summary.json").read_text())
    languages = summary["languages"]
    head = ["condition", "seeds", "BLI p@1", "BLI p@5", "exchanged-word precision", "avg (all languages)"] + languages
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    for condition in conditions:
        system = summary["systems"][condition]
        reports = [json.loads(p.read_text())["pairs"] for p in sorted((out / "raw").glob(f"{condition}-seed*/synthesis_report.json"))]
        pairs = [p for r in reports for p in r]
        bli1 = mean_std([p["bli"]["p@1"] for p in pairs])
        bli5 = mean_std([p["bli"]["p@5"] for p in pairs])
        exchanged = mean_std([p["exchanged_test_precision"] for p in pairs])
        cells = [condition, str(len(system["runs"])), bli1, bli5, exchanged,
                 "{:.1f} ± {:.1f}".format(*system["settings"]["standard avg"])]
        cells += ["{:.1f} ± {:.1f}".format(*system["per_language"][lang]) for lang in languages]
        rows.append("| " + " | ".join(cells) + " |")
    majority = summary.get("majority_class")
    if majority:
        cells = ["majority", "–", "–", "–", "–", "{:.1f}".format(majority["average"][0])]
        cells += ["{:.1f}".format(majority["per_language"][lang][0]) for lang in languages]
        rows.append("| " + " | ".join(cells) + " |")
    print("\n".join(rows))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
