"""Robustness curves of ``weam-retrieval`` reports: one report's curve per pair, and the comparison of systems
over seeds (mean ± std at each radius, clean and synonym-attacked accuracy), as JSON, markdown and PNG."""
import json
from pathlib import Path

import numpy as np

from fairseq_weam.atomic import write_text_atomic
from fairseq_weam.errors import WeamError
from fairseq_weam.evaluation.plots import robustness_curves


class RetrievalCurveError(WeamError, ValueError):
    """A report that cannot be compared (the message names the file and the fix)."""


def percent(values):
    return [100.0 * v for v in values]


def write_report_curve(report, out_dir):
    """``robustness_curve.json`` and ``.png`` of one report (each language pair and their average)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    curves = {pair: r["attack"]["curve"] for pair, r in report["pairs"].items()}
    curves["average"] = report["attack_curve"]
    write_text_atomic(out_dir / "robustness_curve.json", json.dumps(curves, indent=2) + "\n")
    robustness_curves({label: ([p["radius"] for p in c], percent([p["sentence_acc"] for p in c]), None)
                       for label, c in curves.items()}, out_dir / "robustness_curve.png")
    return [out_dir / "robustness_curve.json", out_dir / "robustness_curve.png"]


def read_report(path):
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise RetrievalCurveError(f"{path}: cannot read a weam-retrieval JSON report ({err})") from None
    if "attack_curve" not in report:
        raise RetrievalCurveError(f"{path}: no attack_curve in this report; run weam-retrieval with --attack-radii")
    return report


def parse_system(spec):
    """``"label=a.json,b.json"`` -> ``("label", [paths])``."""
    label, sep, paths = spec.partition("=")
    paths = [p for p in paths.split(",") if p]
    if not sep or not label or not paths:
        raise RetrievalCurveError(f"--compare {spec!r}: expected LABEL=report1.json,report2.json,...")
    return label, paths


def compare_systems(systems, out_dir):
    """Mean ± std over each system's reports (seeds) of the clean and attacked sentence accuracy; writes
    ``retrieval_summary.{json,md}`` and ``robustness_curve.png`` under ``out_dir``; returns the markdown."""
    summary, radii = {}, None
    for label, paths in systems:
        reports = [read_report(p) for p in paths]
        for path, report in zip(paths, reports):
            these = [p["radius"] for p in report["attack_curve"]]
            if radii is not None and these != radii:
                raise RetrievalCurveError(f"{path}: radii {these} differ from {radii}; compare reports made with the "
                                          "same --attack-radii")
            radii = these
        accuracy = np.array([[100.0 * p["sentence_acc"] for p in r["attack_curve"]] for r in reports])
        similarity = np.array([[p["similarity"] for p in r["attack_curve"]] for r in reports])
        entry = {"seeds": len(reports), "radii": radii, "accuracy_mean": accuracy.mean(0).tolist(),
                 "accuracy_std": accuracy.std(0).tolist(), "similarity_mean": similarity.mean(0).tolist()}
        synonyms = [r["synonym_attack"] for r in reports if "synonym_attack" in r]
        if len(synonyms) == len(reports):
            for key in ("clean_acc", "attacked_acc"):
                values = 100.0 * np.array([s[key] for s in synonyms])
                entry[f"synonym_{key}"] = [float(values.mean()), float(values.std())]
        summary[label] = entry
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out_dir / "retrieval_summary.json", json.dumps(summary, indent=2) + "\n")
    header = ["system", "seeds", "clean"] + [f"PGD ε={r:g}" for r in radii[1:]]
    with_synonyms = all("synonym_attacked_acc" in e for e in summary.values())
    if with_synonyms:
        header += ["synonym subset: clean", "synonym subset: attacked"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, e in summary.items():
        cells = [label, str(e["seeds"])]
        cells += [f"{m:.1f} ± {s:.1f}" for m, s in zip(e["accuracy_mean"], e["accuracy_std"])]
        if with_synonyms:
            cells += [f"{e['synonym_clean_acc'][0]:.1f} ± {e['synonym_clean_acc'][1]:.1f}",
                      f"{e['synonym_attacked_acc'][0]:.1f} ± {e['synonym_attacked_acc'][1]:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    markdown = "\n".join(lines) + "\n"
    write_text_atomic(out_dir / "retrieval_summary.md", markdown)
    robustness_curves({label: (radii, e["accuracy_mean"], e["accuracy_std"]) for label, e in summary.items()},
                      out_dir / "robustness_curve.png",
                      title="Sentence retrieval under PGD (mean ± std over seeds)")
    return markdown
