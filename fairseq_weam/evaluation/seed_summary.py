"""Mean ± std over runs (seeds) of weam-evaluate results: comparisons between methods should use these."""
import statistics
from typing import List

SECTIONS = ("standard", "smoothed", "synonym_attack", "pgd_attack")


def _stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "runs": len(values)}


def aggregate(results: List[dict], names: List[str]) -> dict:
    """Per section and language (and the generalized matrix): mean, sample std and number of runs."""
    langs = results[0]["languages"]
    for name, r in zip(names, results):
        if r["languages"] != langs:
            raise ValueError(f"{name}: languages {r['languages']} differ from {names[0]}'s {langs}")
    out = {"runs": names, "languages": langs}
    for section in SECTIONS:
        present = [r[section] for r in results if r.get(section)]
        if not present:
            out[section] = None
            continue
        out[section] = {"accuracy": {lang: _stats(p["accuracy"].get(lang) for p in present) for lang in langs},
                        "average": _stats(p["average"] for p in present)}
    present = [r["generalized"] for r in results if r.get("generalized")]
    out["generalized"] = None if not present else {
        "languages": langs,
        "accuracy": {a: {b: _stats(p["accuracy"][a][b] for p in present) for b in langs} for a in langs},
        "cross_language_average": _stats(p["cross_language_average"] for p in present),
    }
    return out


def _pm(s):
    return "–" if s is None else f"{s['mean']:.1f} ± {s['std']:.1f}"


def markdown(summary) -> str:
    cols = [(title, summary[key]) for key, title in (("standard", "clean"), ("smoothed", "smoothed"),
                                                       ("synonym_attack", "synonym attack"), ("pgd_attack", "PGD"))
            if summary.get(key)]
    lines = [f"# Mean ± std over {len(summary['runs'])} runs", "", "Runs: " + ", ".join(summary["runs"]), "",
             "| language | " + " | ".join(t for t, _ in cols) + " |", "|---|" + "---:|" * len(cols)]
    for lang in summary["languages"]:
        lines.append(f"| {lang} | " + " | ".join(_pm(s["accuracy"][lang]) for _, s in cols) + " |")
    lines.append("| **average** | " + " | ".join(_pm(s["average"]) for _, s in cols) + " |")
    if summary.get("generalized"):
        g = summary["generalized"]
        lines += ["", "## Generalized setting (rows: sentence1 language)", "",
                  "| | " + " | ".join(g["languages"]) + " |", "|---|" + "---:|" * len(g["languages"])]
        for a in g["languages"]:
            lines.append(f"| {a} | " + " | ".join(_pm(g["accuracy"][a][b]) for b in g["languages"]) + " |")
        lines += ["", f"Cross-language average: {_pm(g['cross_language_average'])}."]
    return "\n".join(lines) + "\n"
