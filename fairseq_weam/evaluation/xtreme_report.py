"""The XTREME-R score of evaluated systems, and their figures by language family and by script.

Input: ``weam-evaluate`` runs (``OUT/results.json``, one task each), labelled by system; several runs of
one task under one label are seeds. Each run is scored again from the files it wrote in the submission
layout (``OUT/labels/<task>/test-<lang>.*`` and the predictions folder its results.json names), by
``fairseq_weam.xtreme.score`` (the one implementation of the official scorer), on the languages it has.

Tables: per system, each task's ``avg_metric`` (mean over seeds, ± std when there are several), the group
scores and ``all_task`` as the official scorer forms them; a task evaluated on fewer languages than the
official list is marked ``*`` (its figure, and any group that contains it, is not the official one).
Then, per system, the mean per-language figure (the language's ``avg_metric`` rule: QA the mean of EM and
F1) of each task over the languages of each family, and of each script (``fairseq_weam/xtreme/languages.tsv``).
"""
import json
import statistics
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Mapping, Tuple

from fairseq_weam.atomic import write_text_atomic
from fairseq_weam.errors import WeamError
from fairseq_weam.xtreme.benchmark import TASK2LANGS, TASK_FAMILY, official_languages, prediction_suffix
from fairseq_weam.xtreme.languages import lookup
from fairseq_weam.xtreme.score import IdTally, aggregate, main_figure, score_file, task_summary


class XtremeRunError(WeamError, ValueError):
    """A run that cannot be scored for the XTREME table."""


def run_task(label, path, results) -> str:
    task = results.get("task") or (results.get("settings") or {}).get("task")
    if task not in TASK_FAMILY:
        raise XtremeRunError(f"run {label}: {path} names no XTREME task ({task!r}); evaluate with "
                             "weam-evaluate --task <xtreme task>")
    return task


def rescore_run(label, path, version, note=print) -> Tuple[str, Dict[str, Dict[str, float]]]:
    """(task, {lang: {metric: value}}) of one weam-evaluate run, from its predictions and labels files."""
    path = Path(path)
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise XtremeRunError(f"run {label}: {path} is not JSON ({err})") from None
    if not isinstance(results, dict):
        raise XtremeRunError(f"run {label}: {path} is not a weam-evaluate results.json")
    task = run_task(label, path, results)
    if task not in TASK2LANGS[version]:
        raise XtremeRunError(f"run {label}: {path} is a {task} run, which {version} does not have; "
                             f"use --version {'xtreme-r' if version == 'xtreme' else 'xtreme'} or leave it out")
    labels = path.parent / "labels" / task
    predictions = Path(results.get("predictions") or path.parent / "predictions" / task)
    if not predictions.is_absolute() and not predictions.exists():
        predictions = path.parent / predictions
    suffix = prediction_suffix(task, version)
    gold_files = sorted(labels.glob(f"test-*.{suffix}"))
    if not gold_files:
        raise XtremeRunError(f"run {label}: no {labels}/test-<lang>.{suffix}: rerun weam-evaluate, which writes "
                             "the gold labels beside results.json")
    scores, tally = OrderedDict(), IdTally(task)
    order = {lang: i for i, lang in enumerate(official_languages(task, version))}
    for gold in sorted(gold_files, key=lambda p: (order.get(p.stem[5:], len(order)), p.stem)):
        lang = gold.stem[len("test-"):]
        predicted = predictions / gold.name
        if not predicted.is_file():
            raise XtremeRunError(f"run {label}: {predicted} is not available (the gold file {gold} is)")
        scores[lang] = score_file(task, lang, predicted, gold, tally)
    tally.report(note)
    return task, scores


def _mean_scores(seeds: List[Mapping[str, Mapping[str, float]]]) -> Dict[str, Dict[str, float]]:
    """Per language and metric, the mean over seeds (every seed must cover the same languages)."""
    langs = list(seeds[0])
    return OrderedDict((lang, OrderedDict((m, statistics.fmean(s[lang][m] for s in seeds)) for m in seeds[0][lang]))
                       for lang in langs)


def summarize(runs: Mapping[str, List[Path]], version: str, note=print) -> Dict:
    """Per system: per task the official-shaped summary (mean over seeds), seeds, std, coverage; groups."""
    systems = OrderedDict()
    for label, paths in runs.items():
        per_task = OrderedDict()
        for path in paths:
            task, scores = rescore_run(label, path, version, note)
            per_task.setdefault(task, []).append((path, scores))
        tasks = OrderedDict()
        for task in [t for t in TASK2LANGS[version] if t in per_task]:
            seeds = per_task[task]
            langs = list(seeds[0][1])
            for path, scores in seeds[1:]:
                if list(scores) != langs:
                    raise XtremeRunError(f"run {label}: {path} covers {', '.join(scores)} but {seeds[0][0]} covers "
                                         f"{', '.join(langs)}: seeds of one task must cover the same languages")
            figures = [task_summary(task, scores, version).get("avg_metric") for _, scores in seeds]
            official = official_languages(task, version)
            tasks[task] = {
                "summary": task_summary(task, _mean_scores([s for _, s in seeds]), version),
                "seeds": len(seeds), "runs": [str(p) for p, _ in seeds],
                "std": statistics.stdev(figures) if len(figures) > 1 and None not in figures else 0.0,
                "languages": langs, "official_languages": official,
                "complete": bool(official) and set(official) <= set(langs),
            }
        # a task without official languages (XTREME-R's LAReQA) is shown but, as in the official scorer, has no
        # figure in the groups or all_task
        scored = OrderedDict((t, v["summary"] if v["official_languages"] else {}) for t, v in tasks.items())
        overall = {k: v for k, v in aggregate(scored, version, note).items() if k not in scored}
        systems[label] = {"tasks": tasks, "overall": overall}
    return {"version": version, "systems": systems}


def _fmt(value):
    return "–" if value is None else f"{value:.1f}"


def score_table(summary) -> str:
    """Systems x (tasks, groups, all_task)."""
    version = summary["version"]
    tasks = []
    for system in summary["systems"].values():
        tasks += [t for t in system["tasks"] if t not in tasks]
    groups = []
    for system in summary["systems"].values():
        groups += [g for g in system["overall"] if g not in groups]
    lines = ["| system | " + " | ".join(tasks + groups) + " |", "|---|" + "---:|" * (len(tasks) + len(groups))]
    partial = unofficial = False
    for label, system in summary["systems"].items():
        cells = []
        for task in tasks:
            entry = system["tasks"].get(task)
            if entry is None or entry["summary"].get("avg_metric") is None:
                cells.append("–")
                continue
            cell = _fmt(entry["summary"]["avg_metric"])
            if entry["seeds"] > 1:
                cell += f" ± {entry['std']:.1f}"
            if not entry["official_languages"]:
                cell += "†"
                unofficial = True
            elif not entry["complete"]:
                cell += f"* ({len(entry['languages'])}/{len(entry['official_languages'])})"
                partial = True
            cells.append(cell)
        cells += [_fmt(system["overall"].get(g)) for g in groups]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    notes = [f"{version} score: each task's avg_metric (QA: mean of EM and F1), groups and all_task as the "
             "official scorer forms them; ± std over seeds."]
    if partial:
        notes.append("* evaluated on fewer languages than the official list (evaluated/official): that figure, "
                     "and every group containing it, is not the official one.")
    if unofficial:
        notes.append("† the official list has no language for this task: its figure (on the languages evaluated) "
                     "is in no group and keeps all_task out, as in the official scorer.")
    return "\n".join(lines + [""] + notes)


def grouped_table(summary, label, attribute) -> str:
    """For one system: rows ``attribute`` (family or script), columns tasks; mean per-language figure."""
    version = summary["version"]
    tasks = summary["systems"][label]["tasks"]
    cells = OrderedDict()  # row -> task -> [figures]
    for task, entry in tasks.items():
        per_lang = {}
        for metric, values in entry["summary"].items():
            if isinstance(values, dict):
                for lang, value in values.items():
                    per_lang.setdefault(lang, {})[metric] = value
        for lang, figures in per_lang.items():
            language = lookup(lang)
            row = getattr(language, attribute) if language else "unknown"
            cells.setdefault(row, OrderedDict()).setdefault(task, []).append(main_figure(task, figures, version))
    rows = sorted(cells, key=lambda r: (-sum(len(v) for v in cells[r].values()), r))
    lines = [f"| {attribute} | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
    for row in rows:
        values = [cells[row].get(task) for task in tasks]
        lines.append(f"| {row} | " + " | ".join(
            f"{statistics.fmean(v):.1f} ({len(v)})" if v else "–" for v in values) + " |")
    return "\n".join(lines)


def markdown(summary) -> str:
    parts = [f"# {summary['version'].upper()} score", "", score_table(summary), ""]
    for label in summary["systems"]:
        for attribute, title in (("family", "language family"), ("script", "script")):
            parts += [f"## {label}: by {title}", "",
                      f"Mean per-language figure of each task over the languages of each {title} "
                      "(number of languages in parentheses).", "", grouped_table(summary, label, attribute), ""]
    return "\n".join(parts)


def write_xtreme_report(runs: Mapping[str, List[Path]], out_dir, version: str, note=print) -> str:
    """Write ``xtreme_score.md`` and ``xtreme_score.json`` to ``out_dir``; return the markdown. Every run is
    read and scored before anything is written."""
    summary = summarize(runs, version, note)
    text = markdown(summary)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out_dir / "xtreme_score.json", json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    write_text_atomic(out_dir / "xtreme_score.md", text)
    return text
