"""The experiment's report: weam-report's table over variants (seeds as runs), and zero-shot accuracy grouped
by language family, by resource class (Joshi et al. 2020, from the languages table) and by the resource level
measured on the built-in corpus (translated messages per language in the catalogs).

A group's figure for one seed is the mean accuracy over its languages; the table gives mean ± std over seeds.
English, the training language, is left out of the groups (it is in summary.md).
"""
import json
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List

from fairseq_weam.atomic import write_text_atomic
from fairseq_weam.corpus.gettext_catalogs import DEFAULT_LOCALE_DIR, catalog_paths, iter_catalog_messages
from fairseq_weam.evaluation.comparison import mean_std, write_comparison
from fairseq_weam.evaluation.plots import comparison_bars
from fairseq_weam.xtreme.languages import lookup

MEASURED = "measured_resources.json"


def translated_messages(langs, locale_dir=DEFAULT_LOCALE_DIR, cache=None) -> Dict[str, int]:
    """Usable translated messages per language in the catalogs (0 for a language without catalogs)."""
    cached = {}
    if cache is not None and Path(cache).is_file():
        stored = json.loads(Path(cache).read_text(encoding="utf-8"))
        if stored.get("locale_dir") == str(locale_dir):
            cached = stored["messages"]
    counts = {}
    for lang in langs:
        if lang not in cached:
            cached[lang] = (sum(1 for _ in iter_catalog_messages(lang, locale_dir))
                            if catalog_paths(lang, locale_dir) else 0)
        counts[lang] = cached[lang]
    if cache is not None:
        write_text_atomic(cache, json.dumps({"locale_dir": str(locale_dir), "messages": cached}, indent=1) + "\n")
    return counts


def measured_level(count: int, bins: List[int]) -> str:
    low, high = bins
    if count < low:
        return f"low (<{low} messages)"
    return f"mid ({low}-{high})" if count < high else f"high (>={high})"


def groupings(langs, measured: Dict[str, int], bins) -> "OrderedDict[str, Dict[str, List[str]]]":
    """``{grouping: {group: [langs]}}`` for family, Joshi class and (when measured) catalog resource level."""
    out = OrderedDict((k, OrderedDict()) for k in ("family", "Joshi class", "catalog messages"))
    for lang in langs:
        info = lookup(lang)
        out["family"].setdefault(info.family if info else "unknown", []).append(lang)
        joshi = f"class {info.resource}" if info and info.resource is not None else "unknown"
        out["Joshi class"].setdefault(joshi, []).append(lang)
        if measured:
            out["catalog messages"].setdefault(measured_level(measured[lang], bins), []).append(lang)
    if not measured:
        del out["catalog messages"]
    for name, groups in out.items():
        out[name] = OrderedDict(sorted(groups.items()))
    return out


def group_summary(runs: Dict[str, List[Path]], groups: Dict[str, List[str]]) -> dict:
    """A comparison-like summary whose "languages" are groups: per variant, mean ± std over seeds."""
    loaded = {v: [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths] for v, paths in runs.items()}
    names = [f"{g} ({', '.join(langs)})" for g, langs in groups.items()]
    systems = OrderedDict()
    for variant, results in loaded.items():
        per = OrderedDict()
        for name, langs in zip(names, groups.values()):
            per[name] = mean_std([sum(r["standard"]["accuracy"][lang] for lang in langs) / len(langs)
                                  for r in results])
        systems[variant] = {"runs": [str(p) for p in runs[variant]], "per_language": per}
    majority = None
    first = next(iter(loaded.values()))[0]
    if (first.get("majority_class") or {}).get("accuracy"):
        acc = first["majority_class"]["accuracy"]
        majority = {"per_language": OrderedDict((name, mean_std([sum(acc[lang] for lang in langs) / len(langs)]))
                                                for name, langs in zip(names, groups.values()))}
    return {"languages": names, "systems": systems, "majority_class": majority}


def table(summary, grouping) -> str:
    variants = list(summary["systems"])
    lines = [f"| {grouping} | " + " | ".join(variants) + (" | majority |" if summary["majority_class"] else " |"),
             "|---|" + "---:|" * (len(variants) + bool(summary["majority_class"]))]
    for name in summary["languages"]:
        cells = ["{:.1f} ± {:.1f}".format(*summary["systems"][v]["per_language"][name]) for v in variants]
        if summary["majority_class"]:
            cells.append(f"{summary['majority_class']['per_language'][name][0]:.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(c, runs, out_dir) -> str:
    """summary.md/json and comparison.png (as weam-report writes them), groups.md/json and one PNG per
    grouping; return the markdown."""
    out_dir = Path(out_dir)
    by_variant = OrderedDict()
    for run in runs:
        by_variant.setdefault(run.variant, []).append(run.results)
    overall = write_comparison(by_variant, out_dir)
    langs = json.loads(Path(runs[0].results).read_text(encoding="utf-8"))["languages"]
    zero_shot = [lang for lang in langs if lang != "en"]
    locale_dir = c.report.locale_dir or next(
        (t.catalog.locale_dir for t in c.tasks.values() if t.catalog is not None), None)
    measured = (translated_messages(zero_shot, locale_dir, Path(c.out_dir) / MEASURED)
                if locale_dir and zero_shot else {})
    parts = [f"# {Path(c.out_dir).name}: zero-shot accuracy (%), mean ± std over seeds {', '.join(map(str, c.seeds))}",
             "", overall, ""]
    data = {"measured_messages": measured, "groupings": OrderedDict()}
    for grouping, groups in (groupings(zero_shot, measured, c.report.measured_bins).items() if zero_shot else ()):
        summary = group_summary(by_variant, groups)
        data["groupings"][grouping] = summary
        slug = grouping.split()[0].lower()
        comparison_bars(summary, out_dir / f"by_{slug}.png",
                        title=f"Zero-shot accuracy by {grouping} (mean ± std over seeds)")
        parts += [f"## By {grouping} (zero-shot languages; mean over the group's languages per seed)", "",
                  table(summary, grouping), ""]
    if measured:
        parts += ["Translated messages in the catalogs: "
                  + ", ".join(f"{lang} {n}" for lang, n in sorted(measured.items(), key=lambda x: -x[1])), ""]
    text = "\n".join(parts)
    write_text_atomic(out_dir / "groups.md", text)
    write_text_atomic(out_dir / "groups.json", json.dumps(data, indent=1) + "\n")
    return text
