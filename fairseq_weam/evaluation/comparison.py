"""Compare evaluation runs (``weam-evaluate``'s ``results.json``): mean ± std over seeds, per setting.

Alignment and robustness gains are known to be seed-fragile (Wu & Dredze 2020), so every comparison the
project reports goes through here: runs that share a label are seeds of one system.
"""
import json
import logging
import statistics
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

logging.getLogger("matplotlib").setLevel(logging.WARNING)  # before the import: it logs while loading
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

#: (column, how to read it from one results.json); a column is left out when no run has it.
SETTINGS = (
    ("standard avg", lambda r: r["standard"]["average"]),
    ("generalized avg", lambda r: (r.get("generalized") or {}).get("average")),
    ("cross-language avg", lambda r: (r.get("generalized") or {}).get("cross_language_average")),
    ("smoothed avg", lambda r: (r.get("smoothed") or {}).get("average")),
    ("synonym attack avg", lambda r: (r.get("synonym_attack") or {}).get("average")),
    ("PGD avg", lambda r: (r.get("pgd_attack") or {}).get("average")),
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


def mean_std(values: List[float]) -> Tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(runs: Dict[str, List[Path]]) -> Dict:
    """Per label: number of seeds, and mean/std of every setting and of each language's clean accuracy."""
    summary = {"systems": OrderedDict(), "languages": []}
    for label, paths in runs.items():
        results = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
        langs = results[0]["languages"]
        for r, p in zip(results, paths):
            if r["languages"] != langs:
                raise ValueError(f"{p}: languages {r['languages']} differ from {paths[0]}'s {langs}")
        summary["languages"] = summary["languages"] or langs
        system = {"runs": [str(p) for p in paths], "settings": OrderedDict(), "per_language": OrderedDict()}
        for column, read in SETTINGS:
            values = [read(r) for r in results]
            if all(v is not None for v in values):
                system["settings"][column] = mean_std(values)
        for lang in langs:
            system["per_language"][lang] = mean_std([r["standard"]["accuracy"][lang] for r in results])
        summary["systems"][label] = system
    return summary


def _cell(pair):
    mean, std = pair
    return f"{mean:.1f} ± {std:.1f}"


def markdown_table(summary: Dict) -> str:
    columns = [c for c, _ in SETTINGS if any(c in s["settings"] for s in summary["systems"].values())]
    langs = summary["languages"]
    head = ["system", "seeds", *columns, *langs]
    lines = ["| " + " | ".join(head) + " |", "|---|---:|" + "---:|" * (len(head) - 2)]
    for label, s in summary["systems"].items():
        cells = [_cell(s["settings"][c]) if c in s["settings"] else "–" for c in columns]
        cells += [_cell(s["per_language"][lang]) for lang in langs]
        lines.append(f"| {label} | {len(s['runs'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparison_plot(summary: Dict, path) -> None:
    """Clean zero-shot accuracy per language, one bar per system, std over seeds as error bars."""
    langs, systems = summary["languages"], summary["systems"]
    width = 0.8 / max(len(systems), 1)
    x = np.arange(len(langs))
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(langs) + 2), 3.8))
    for k, (label, s) in enumerate(systems.items()):
        means = [s["per_language"][lang][0] for lang in langs]
        stds = [s["per_language"][lang][1] for lang in langs]
        ax.bar(x + k * width - 0.4 + width / 2, means, width, yerr=stds, capsize=2, label=label)
    ax.set_xticks(x, langs)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Zero-shot accuracy per language (mean ± std over seeds)")
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_comparison(runs: Dict[str, List[Path]], out_dir) -> str:
    """Write ``summary.json``, ``summary.md`` and ``comparison.png`` to ``out_dir``; return the table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(runs)
    table = markdown_table(summary)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    (out_dir / "summary.md").write_text(
        "Zero-shot accuracy (%), mean ± std over seeds; trained on English only.\n\n" + table + "\n", encoding="utf-8"
    )
    comparison_plot(summary, out_dir / "comparison.png")
    return table
