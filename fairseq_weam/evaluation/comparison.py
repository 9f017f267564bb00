"""Compare evaluation runs (``weam-evaluate``'s ``results.json``): mean ± std over seeds, per setting.

Alignment and robustness gains are known to be seed-fragile (Wu & Dredze 2020), so every comparison the
project reports goes through here: runs that share a label are seeds of one system. Every run must cover
the same test languages (averages over different sets are not comparable); with ``intersection`` the
report is restricted to the languages all runs share, every average recomputed over them, and says so.
"""
import json
import statistics
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from fairseq_weam.atomic import write_text_atomic
from fairseq_weam.errors import WeamError
from fairseq_weam.evaluation.plots import comparison_bars


class ResultsFileError(WeamError, ValueError):
    """A run file that is not a weam-evaluate results.json."""


class LanguageMismatchError(WeamError, ValueError):
    """Runs that cover different test languages."""


def _mean(values):
    values = list(values)
    return sum(values) / len(values) if values else None


def _per_language(section, langs):
    """Mean of ``section["accuracy"][lang]`` over ``langs`` (None when a language is missing)."""
    accuracy = (section or {}).get("accuracy")
    if not isinstance(accuracy, dict) or any(lang not in accuracy for lang in langs):
        return None
    return _mean(accuracy[lang] for lang in langs)


def _generalized(section, langs, cross):
    matrix = (section or {}).get("accuracy")
    cells = [(a, b) for a in langs for b in langs if not cross or a != b]
    if not isinstance(matrix, dict) or any(b not in matrix.get(a, {}) for a, b in cells):
        return None
    return _mean(matrix[a][b] for a, b in cells)


def _stored(key, field="average"):
    return lambda r: (r.get(key) or {}).get(field)


#: (column, value from one results.json over all its languages, value over a subset of languages);
#: a column is left out when no run has it.
SETTINGS = (
    ("standard avg", _stored("standard"), lambda r, langs: _per_language(r["standard"], langs)),
    ("generalized avg", _stored("generalized"), lambda r, langs: _generalized(r.get("generalized"), langs, False)),
    ("cross-language avg", _stored("generalized", "cross_language_average"),
     lambda r, langs: _generalized(r.get("generalized"), langs, True)),
    ("smoothed avg", _stored("smoothed"), lambda r, langs: _per_language(r.get("smoothed"), langs)),
    ("synonym attack avg", _stored("synonym_attack"), lambda r, langs: _per_language(r.get("synonym_attack"), langs)),
    ("PGD avg", _stored("pgd_attack"), lambda r, langs: _per_language(r.get("pgd_attack"), langs)),
)


def parse_run_specs(specs: Sequence[str]) -> "OrderedDict[str, List[Path]]":
    """``["weam+none=a/results.json", "weam+none=b/results.json"]`` -> {label: [paths]} in order of appearance."""
    runs: "OrderedDict[str, List[Path]]" = OrderedDict()
    for spec in specs:
        label, sep, path = spec.partition("=")
        if not sep or not label or not path:
            raise ValueError(f"run {spec!r}: expected LABEL=path/to/results.json")
        if not Path(path).is_file():
            raise FileNotFoundError(f"run {label}: {path} not found (run weam-evaluate first)")
        runs.setdefault(label, []).append(Path(path))
    return runs


def load_results(label, path) -> dict:
    """One weam-evaluate results.json, checked for what the report reads."""
    hint = "pass the results.json that weam-evaluate wrote to its --out-dir"
    try:
        results = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ResultsFileError(f"run {label}: {path} is not JSON ({err}); {hint}") from None
    langs = results.get("languages") if isinstance(results, dict) else None
    accuracy = (results.get("standard") or {}).get("accuracy") if isinstance(results, dict) else None
    if not isinstance(langs, list) or not langs or not isinstance(accuracy, dict):
        raise ResultsFileError(f"run {label}: {path} is not a weam-evaluate results.json (no 'languages' and "
                               f"'standard' accuracies); {hint}")
    missing = [lang for lang in langs if not isinstance(accuracy.get(lang), (int, float))]
    if missing:
        raise ResultsFileError(f"run {label}: {path} lists {', '.join(missing)} in 'languages' but has no standard "
                               f"accuracy for it; {hint}")
    return results


def shared_languages(loaded, intersection=False) -> Tuple[List[str], Dict[str, List[str]]]:
    """(languages to report, {left-out language: [runs lacking it]}); refuses differing sets unless asked."""
    order = []
    for runs in loaded.values():
        for _, r in runs:
            order += [lang for lang in r["languages"] if lang not in order]
    lacking = OrderedDict()
    for label, runs in loaded.items():
        for path, r in runs:
            missing = [lang for lang in order if lang not in r["languages"]]
            if missing:
                lacking[f"{label} ({path})"] = missing
    if not lacking:
        return order, {}
    common = [lang for lang in order if not any(lang in m for m in lacking.values())]
    what = "; ".join(f"{run} lacks {', '.join(m)}" for run, m in lacking.items())
    if not intersection:
        raise LanguageMismatchError(
            f"runs cover different test languages ({what}): evaluate every run on the same languages, or pass "
            f"--intersection to report on the languages all runs share ({', '.join(common) or 'none'})")
    if not common:
        raise LanguageMismatchError(f"no test language is shared by all runs ({what})")
    dropped = OrderedDict((lang, [run for run, m in lacking.items() if lang in m]) for lang in order
                          if lang not in common)
    return common, dropped


def mean_std(values: List[float]) -> Tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(runs: Dict[str, List[Path]], intersection=False) -> Dict:
    """Per label: number of seeds, and mean/std of every setting and of each language's clean accuracy.

    ``majority_class``: the majority-class accuracy of the gold labels per language (mean ± std over all
    runs that record it; the std is 0 when every run was scored on the same test data).
    """
    loaded = OrderedDict((label, [(p, load_results(label, p)) for p in paths]) for label, paths in runs.items())
    langs, dropped = shared_languages(loaded, intersection)
    subset = langs if dropped else None  # recompute averages only when languages were left out
    summary = {"systems": OrderedDict(), "languages": langs,
               "intersection": {"dropped": dropped} if dropped else None}
    for label, pairs in loaded.items():
        results = [r for _, r in pairs]
        system = {"runs": [str(p) for p, _ in pairs], "settings": OrderedDict(), "per_language": OrderedDict()}
        for column, stored, over in SETTINGS:
            values = [stored(r) if subset is None else over(r, subset) for r in results]
            if all(v is not None for v in values):
                system["settings"][column] = mean_std(values)
        for lang in langs:
            system["per_language"][lang] = mean_std([r["standard"]["accuracy"][lang] for r in results])
        summary["systems"][label] = system
    majorities = [r["majority_class"]["accuracy"] for pairs in loaded.values() for _, r in pairs
                  if isinstance((r.get("majority_class") or {}).get("accuracy"), dict)]
    majorities = [m for m in majorities if all(lang in m for lang in langs)]
    summary["majority_class"] = None
    if majorities:
        summary["majority_class"] = {
            "per_language": OrderedDict((lang, mean_std([m[lang] for m in majorities])) for lang in langs),
            "average": mean_std([_mean(m[lang] for lang in langs) for m in majorities]),
            "runs": len(majorities),
        }
    return summary


def _cell(pair):
    mean, std = pair
    return f"{mean:.1f} ± {std:.1f}"


def intersection_note(summary: Dict) -> Optional[str]:
    if not summary.get("intersection"):
        return None
    dropped = summary["intersection"]["dropped"]
    return (f"**INTERSECTION ONLY (--intersection): left out {', '.join(dropped)} "
            f"({'; '.join(f'{lang} lacking in {len(runs)} run(s): ' + ', '.join(runs) for lang, runs in dropped.items())}); "
            f"every number is over {', '.join(summary['languages'])} only.**")


def markdown_table(summary: Dict) -> str:
    columns = [c for c, _, _ in SETTINGS if any(c in s["settings"] for s in summary["systems"].values())]
    langs = summary["languages"]
    head = ["system", "seeds", *columns, *langs]
    lines = ["| " + " | ".join(head) + " |", "|---|---:|" + "---:|" * (len(head) - 2)]
    for label, s in summary["systems"].items():
        cells = [_cell(s["settings"][c]) if c in s["settings"] else "–" for c in columns]
        cells += [_cell(s["per_language"][lang]) for lang in langs]
        lines.append(f"| {label} | {len(s['runs'])} | " + " | ".join(cells) + " |")
    majority = summary.get("majority_class")
    if majority:
        cells = [_cell(majority["average"]) if c == "standard avg" else "–" for c in columns]
        cells += [_cell(majority["per_language"][lang]) for lang in langs]
        lines.append("| majority | – | " + " | ".join(cells) + " |")
    note = intersection_note(summary)
    return "\n".join(([note, ""] if note else []) + lines)


def write_comparison(runs: Dict[str, List[Path]], out_dir, intersection=False) -> str:
    """Write ``summary.json``, ``summary.md`` and ``comparison.png`` to ``out_dir``; return the table.

    Every input is read and checked before anything is written; each output appears atomically.
    """
    summary = summarize(runs, intersection)
    table = markdown_table(summary)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out_dir / "summary.json", json.dumps(summary, indent=1) + "\n")
    header = "Accuracy (%) on each test language, mean ± std over seeds (each row as its runs were trained)."
    if summary["majority_class"]:
        header += " The majority row is the share of the most frequent gold label (a classifier's floor)."
    write_text_atomic(out_dir / "summary.md", header + "\n\n" + table + "\n")
    comparison_bars(summary, out_dir / "comparison.png")
    return table
