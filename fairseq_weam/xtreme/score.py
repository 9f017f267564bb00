"""The XTREME / XTREME-R score of a submission folder, as the official ``evaluate.py`` computes it.

A task is scored when its folder is in both the predictions and the labels folder; then every official
language of the task (``benchmark.TASK2LANGS``) must have a file in both, else an error naming the missing
file. Per task the result has, as the official JSON: ``{metric: {lang: value}}``, ``avg_<metric>`` (mean
over languages) and ``avg_metric`` (QA: mean of ``avg_exact_match`` and ``avg_f1``; otherwise F1, accuracy or
mAP@20); per group (``GROUP2TASK``) the mean ``avg_metric`` of its tasks when all of them are there; and
``all_task`` when every task of the version has an ``avg_metric``.

LAReQA: the official XTREME-R list has no language for it, so its entry is ``{}`` (as the official scorer's)
and it has no ``avg_metric``; the official scorer then fails on ``all_task`` (KeyError) when every folder is
there, and leaves ``all_task`` out otherwise. Here ``all_task`` is left out in both cases (said in a note):
the official XTREME-R output never has it.

Where the official scorer silently gives 0 (a QA question or a Mewsli-X mention without a prediction) the
score is the same and a note says how many; predictions for ids that are not in the gold file are counted in
a note and ignored. A task folder present on one side only is skipped with a note.
"""
import json
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional

from fairseq_weam.atomic import write_text_atomic
from fairseq_weam.errors import WeamError
from fairseq_weam.xtreme.benchmark import GROUP2TASK, TASK2LANGS, check_version
from fairseq_weam.xtreme.metrics import TASK_METRICS, gold_answers, score_language
from fairseq_weam.xtreme.predictions import QA_TASKS, read_labels, read_predictions, task_file


class ScoreError(WeamError, ValueError):
    """A submission folder that cannot be scored."""


def _ignored_and_missing(task, gold, predictions):
    """(number of gold ids, those without a prediction, predicted ids not in the gold) for the id-keyed
    tasks; (0, [], []) for the others."""
    if task in QA_TASKS:
        gold_ids = list(gold_answers(gold))
    elif task in ("mewslix", "lareqa"):
        gold_ids = list(gold)
    else:
        return 0, [], []
    known = set(gold_ids)
    return len(gold_ids), [i for i in gold_ids if i not in predictions], [i for i in predictions if i not in known]


class IdTally:
    """Gold ids without a prediction and predictions of unknown ids, over the files of one task."""

    def __init__(self, task: str):
        self.task, self.gold, self.missing, self.extra = task, 0, [], []

    def add(self, prediction_file, gold, predictions):
        total, missing, extra = _ignored_and_missing(self.task, gold, predictions)
        self.gold += total
        self.missing += [(prediction_file, i) for i in missing]
        self.extra += [(prediction_file, i) for i in extra]

    def report(self, note: Callable[[str], None]):
        if self.missing:
            files = len({path for path, _ in self.missing})
            note(f"{self.task}: {len(self.missing)} of {self.gold} gold ids have no prediction, in {files} file(s) "
                 f"(e.g. {self.missing[0][0]}: {self.missing[0][1]}); each scores 0, as in the official scorer")
        if self.extra:
            note(f"{self.task}: {len(self.extra)} predicted ids are not in the gold files (e.g. "
                 f"{self.extra[0][0]}: {self.extra[0][1]}); ignored")


def score_file(task: str, lang: str, prediction_file, label_file, tally: Optional[IdTally] = None):
    """The official figures of one language from its two files (``tally`` counts unanswered/unknown ids)."""
    gold = read_labels(label_file, task)
    predictions = read_predictions(prediction_file, task)
    if tally is not None:
        tally.add(prediction_file, gold, predictions)
    return score_language(task, gold, predictions, lang, where=str(prediction_file))


def task_summary(task: str, per_language: Mapping[str, Mapping[str, float]], version: str) -> Dict:
    """``{metric: {lang: value}}``, ``avg_<metric>``, ``avg_metric`` from ``{lang: {metric: value}}``."""
    summary = OrderedDict()
    for lang, scores in per_language.items():
        for metric, value in scores.items():
            summary.setdefault(metric, OrderedDict())[lang] = value
    averages = OrderedDict((m, sum(v.values()) / len(v)) for m, v in summary.items())
    summary.update((f"avg_{m}", value) for m, value in averages.items())
    figure = main_figure(task, averages, version)
    if figure is not None:
        summary["avg_metric"] = figure
    return dict(summary)


def main_figure(task: str, figures: Mapping[str, float], version: str) -> Optional[float]:
    """The one figure of a task from ``{metric: value}`` (a language's, or the averages), as the official
    ``avg_metric``: QA the mean of exact match and F1; else F1, accuracy or mAP@20; None without them."""
    if task in GROUP2TASK[check_version(version)]["qa"]:
        return (figures["exact_match"] + figures["f1"]) / 2
    return next((figures[m] for m in ("f1", "accuracy", "map@20") if m in figures), None)


def aggregate(detailed: Mapping[str, Mapping], version: str, note: Callable[[str], None] = print) -> Dict:
    """Group scores and ``all_task`` from per-task summaries, then the summaries (the official JSON order)."""
    version = check_version(version)
    overall = OrderedDict()
    all_tasks = set(TASK2LANGS[version])
    if all_tasks == set(detailed):
        without = [t for t in TASK2LANGS[version] if "avg_metric" not in detailed[t]]
        if without:
            note(f"no all_task: {', '.join(without)} has no figure (the official {version} list has no language "
                 "for it); the official scorer gives no all_task either")
        else:
            overall["all_task"] = sum(detailed[t]["avg_metric"] for t in all_tasks) / len(all_tasks)
    for group, tasks in GROUP2TASK[version].items():
        if all(t in detailed and "avg_metric" in detailed[t] for t in tasks):
            overall[group] = sum(detailed[t]["avg_metric"] for t in tasks) / len(tasks)
    overall.update(detailed)
    return dict(overall)


def _task_dirs(folder: Path) -> List[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def score_folder(predictions_dir, labels_dir, version: str, note: Callable[[str], None] = print,
                 tasks: Optional[List[str]] = None) -> Dict:
    """The official scorer's JSON for a predictions folder against a labels folder."""
    version = check_version(version)
    predictions_dir, labels_dir = Path(predictions_dir), Path(labels_dir)
    for what, folder in (("predictions", predictions_dir), ("labels", labels_dir)):
        if not folder.is_dir():
            raise ScoreError(f"{folder}: no such {what} folder")
    predicted, labelled = _task_dirs(predictions_dir), _task_dirs(labels_dir)
    files = OrderedDict()  # task -> [(lang, prediction file, label file)], every file checked before scoring
    for task, langs in TASK2LANGS[version].items():
        if tasks is not None and task not in tasks:
            continue
        if task not in predicted or task not in labelled:
            if task in predicted or task in labelled:
                missing = labels_dir / task if task in predicted else predictions_dir / task
                note(f"{task}: no folder {missing}; task skipped")
            continue
        files[task] = []
        for lang in langs:
            pair = (task_file(predictions_dir, task, lang, version), task_file(labels_dir, task, lang, version))
            for path in pair:
                if not path.is_file():
                    raise ScoreError(f"{path} is not available: {task} is scored on all its official languages "
                                     f"({', '.join(langs)}); write test-{lang} or remove the {task} folder")
            files[task].append((lang, *pair))
    if not files:
        known = ", ".join(TASK2LANGS[version])
        raise ScoreError(f"no task folder of {version} ({known}) is in both {predictions_dir} and {labels_dir}")
    detailed = OrderedDict()
    for task, pairs in files.items():
        tally = IdTally(task)
        detailed[task] = task_summary(task, OrderedDict((lang, score_file(task, lang, p, g, tally))
                                                        for lang, p, g in pairs), version)
        tally.report(note)
    return aggregate(detailed, version, note)


def _metrics_of(task, summary):
    return [m for m in TASK_METRICS[task] if m in summary]


def format_table(result: Mapping, per_row: int = 12) -> str:
    """The per-task figures (languages in rows of ``per_row``, then the averages) and the groups, as text."""
    lines = []
    for task in TASK_METRICS:
        summary = result.get(task)
        if summary is None:
            continue
        metrics = _metrics_of(task, summary)
        lines.append(f"== {task} ==")
        if not metrics:
            lines.append("  (no official language: not scored)")
            continue
        langs = list(summary[metrics[0]])
        width = max(len(m) for m in metrics) + 2
        for start in range(0, len(langs), per_row):
            chunk = langs[start:start + per_row]
            lines.append(" " * (width + 2) + "".join(f"{lang:>7}" for lang in chunk))
            lines += [f"  {m:<{width}}" + "".join(f"{summary[m][lang]:7.2f}" for lang in chunk) for m in metrics]
        averages = ", ".join(f"{m} {summary[f'avg_{m}']:.2f}" for m in metrics)
        lines.append(f"  average: {averages}; avg_metric {summary['avg_metric']:.2f}")
    groups = [(k, v) for k, v in result.items() if k not in TASK_METRICS]
    if groups:
        lines.append("== groups ==")
        lines += [f"  {name:<15}{value:7.2f}" for name, value in groups]
    return "\n".join(lines)


def write_score(result: Mapping, path) -> None:
    """The JSON file, written atomically."""
    write_text_atomic(path, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
