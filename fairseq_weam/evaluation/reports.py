"""Results as JSON (for machines) and markdown tables (for papers); each file is written atomically."""
import json
import math

from fairseq_weam.atomic import write_text_atomic


def _fmt(value):
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f}"


def write_json(results, path):
    write_text_atomic(path, json.dumps(results, indent=2, sort_keys=False) + "\n")


def per_language_table(results) -> str:
    columns = [("clean", results["standard"])]
    for key, title in (("smoothed", "smoothed"), ("synonym_attack", "synonym attack"), ("pgd_attack", "PGD")):
        if results.get(key):
            columns.append((title, results[key]))
    if results.get("majority_class"):
        columns.append(("majority class", results["majority_class"]))
    lines = ["| language | " + " | ".join(title for title, _ in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for lang in results["languages"]:
        lines.append(f"| {lang} | " + " | ".join(_fmt(section["accuracy"].get(lang)) for _, section in columns) + " |")
    lines.append("| **average** | " + " | ".join(_fmt(section["average"]) for _, section in columns) + " |")
    return "\n".join(lines)


def task_table(results) -> str:
    """Per-language table of a non-classification task's results (its official metrics, in %)."""
    metrics = list(results["average"])
    lines = [f"| {results['task']} | " + " | ".join(metrics) + " |", "|---|" + "---:|" * len(metrics)]
    for lang in results["languages"]:
        scores = results["scores"].get(lang, {})
        lines.append(f"| {lang} | " + " | ".join(_fmt(scores.get(m)) for m in metrics) + " |")
    lines.append("| **average** | " + " | ".join(_fmt(results["average"][m]) for m in metrics) + " |")
    return "\n".join(lines)


def generalized_table(generalized) -> str:
    langs = generalized["languages"]
    lines = ["| sentence1 \\ sentence2 | " + " | ".join(langs) + " |", "|---|" + "---:|" * len(langs)]
    for l1 in langs:
        lines.append(f"| {l1} | " + " | ".join(_fmt(generalized["accuracy"][l1][l2]) for l2 in langs) + " |")
    return "\n".join(lines)


def markdown(results) -> str:
    s = results["settings"]
    parts = [f"# Zero-shot evaluation of `{s['checkpoint']}`", "",
             f"Task dir `{s['task_dir']}`, labels {', '.join(s['labels'])}, seed {s['seed']}. Accuracy in %.", "",
             "## Standard setting", "", per_language_table(results), ""]
    if results.get("majority_class"):
        parts += ["Majority class: the share of the most frequent gold label of each test set (what always "
                  "predicting it scores).", ""]
    if results.get("synonym_attack"):
        a = results["synonym_attack"]
        parts += [f"Synonym attack: greedy, at most {a['budget']} words changed per pair, on the first "
                  f"{max(a['examples'].values())} pairs per language.", ""]
    if results.get("pgd_attack"):
        p = results["pgd_attack"]
        parts += [f"PGD attack: {p['norm']} ball of radius {p['eps']} on the token embeddings, {p['steps']} steps.", ""]
    if results.get("smoothed"):
        parts += [f"Smoothed: majority vote over {results['smoothed']['copies']} Gaussian copies, "
                  f"sigma {results['smoothed']['sigma']}.", ""]
    if results.get("generalized_skipped"):
        parts += [f"Generalized setting skipped: {results['generalized_skipped']}.", ""]
    if results.get("generalized"):
        g = results["generalized"]
        parts += ["## Generalized setting (sentence1 in the row language, sentence2 in the column language)", "",
                  generalized_table(g), "",
                  f"Average over all pairs {_fmt(g['average'])}; over cross-language pairs "
                  f"{_fmt(g['cross_language_average'])}.", ""]
    return "\n".join(parts)


def write_markdown(results, path):
    write_text_atomic(path, markdown(results))
