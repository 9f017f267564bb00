"""The XTREME / XTREME-R submission layout: ``<dir>/<task>/test-<lang>.<suffix>``, written and read strictly.

One format per task, as the official ``evaluate.py`` of google-research/xtreme reads it (and as its
``mock_test_data`` shows); the same layout holds the gold files (``--label_folder``):

=================  ==========================================================  ===========================
task               file                                                        in memory (read_*)
=================  ==========================================================  ===========================
xnli, pawsx        one label per line                                          list of label strings
tatoeba            one retrieved target index per line                         list of index strings
bucc2018           ``src-id \\t tgt-id`` per mined pair                         list of ``"src\\ttgt"``
udpos, panx        one tag per line, a blank line between sentences            list of tag lists
xquad, mlqa,       predictions: JSON ``{question id: answer text}``;           dict / the SQuAD ``data``
tydiqa             labels: SQuAD JSON (``{"data": [...]}``)                    list
xcopa              JSON lines ``{"label": int}`` (``idx`` kept when given)      list of ints
mewslix            JSON ``{mention id: [entity ids, best first]}``              dict (gold: one-id lists)
lareqa             JSON ``{question id: [candidate ids, best first]}``;         dict
                   gold: ``{question id: [correct candidate ids]}``
=================  ==========================================================  ===========================

LAReQA's file format is ours: the official scorer has no language list for it and never opens it.
Readers raise :class:`PredictionFormatError` naming ``file:line`` for a malformed line; a blank line in a
one-item-per-line file is malformed (the official reader would count it as an example).
"""
import json
import re
from pathlib import Path
from typing import Dict, List

from fairseq_weam.atomic import write_text_atomic
from fairseq_weam.errors import WeamError
from fairseq_weam.text_file import numbered_lines
from fairseq_weam.xtreme.benchmark import family, prediction_suffix
from fairseq_weam.xtreme.io import TASK_LABELS

QA_TASKS = ("xquad", "mlqa", "tydiqa")
RANKING_TASKS = ("mewslix", "lareqa")
_LANG = re.compile(r"^[A-Za-z][A-Za-z_-]*$")
_INDEX = re.compile(r"^[0-9]+$")


class PredictionFormatError(WeamError, ValueError):
    """A predictions or labels file (or in-memory predictions) not in the task's official format."""


def task_file(root, task: str, lang: str, version: str = "xtreme-r") -> Path:
    """``<root>/<task>/test-<lang>.<suffix>``."""
    family(task)
    if not _LANG.match(lang):
        raise PredictionFormatError(f"bad language code {lang!r}: use letters, '-' or '_' only (e.g. 'en')")
    return Path(root) / task / f"test-{lang}.{prediction_suffix(task, version)}"


# ----------------------------------------------------------------------------------------------- writing

def _one_per_line(items) -> str:
    return "".join(f"{item}\n" for item in items)


def _check_no_newline(task, value, what):
    if not isinstance(value, str) or not value.strip() or any(c in value for c in "\r\n"):
        raise PredictionFormatError(f"{task}: {what} {value!r} must be a non-empty one-line string")


def _format_lines(task: str, items, gold: bool) -> str:
    what = "label" if gold else "prediction"
    if task in TASK_LABELS:
        for item in items:
            if item not in TASK_LABELS[task]:
                raise PredictionFormatError(f"{task}: unknown {what} {item!r}: use one of "
                                            f"{', '.join(TASK_LABELS[task])}")
        return _one_per_line(items)
    if task == "tatoeba":
        for item in items:
            if isinstance(item, bool) or not _INDEX.match(str(item)):
                raise PredictionFormatError(f"tatoeba: {what} {item!r} is not a non-negative sentence index")
        return _one_per_line(int(item) for item in items)
    # bucc2018: mined pairs, as "src\ttgt" strings or (src, tgt) pairs
    lines = []
    for item in items:
        pair = item.split("\t") if isinstance(item, str) else list(item)
        if len(pair) != 2 or any(not isinstance(x, str) or not x.strip() or "\t" in x or "\n" in x for x in pair):
            raise PredictionFormatError(f"bucc2018: {what} {item!r} is not a (source id, target id) pair")
        lines.append("\t".join(pair))
    return _one_per_line(lines)


def _format_tags(task: str, sentences) -> str:
    blocks = []
    for number, tags in enumerate(sentences, 1):
        if isinstance(tags, str) or not tags:
            raise PredictionFormatError(f"{task}: sentence {number} must be a non-empty list of tags")
        for tag in tags:
            if not isinstance(tag, str) or not tag or tag != tag.strip() or any(c.isspace() for c in tag):
                raise PredictionFormatError(f"{task}: sentence {number}: tag {tag!r} must be one word")
        blocks.append(_one_per_line(tags))
    return "\n".join(blocks)


def _format_xcopa(items, gold: bool) -> str:
    lines = []
    for item in items:
        row = dict(item) if isinstance(item, dict) else {"label": item}
        if not isinstance(row.get("label"), int) or isinstance(row["label"], bool) or row["label"] not in (0, 1):
            raise PredictionFormatError(f"xcopa: {'label' if gold else 'prediction'} {item!r} must be 0 or 1 "
                                        "(or a dict with such a 'label')")
        lines.append(json.dumps(row, ensure_ascii=False) + "\n")
    return "".join(lines)


def _format_ranking(task: str, ranking, gold: bool) -> str:
    if not isinstance(ranking, dict):
        raise PredictionFormatError(f"{task}: expected a dict {{id: [ids]}}, got {type(ranking).__name__}")
    out = {}
    for key, ids in ranking.items():
        if gold and isinstance(ids, str):
            ids = [ids]
        if not isinstance(key, str) or not isinstance(ids, (list, tuple)) or \
                not all(isinstance(i, str) for i in ids) or (gold and not ids):
            raise PredictionFormatError(f"{task}: entry {key!r}: expected a {'non-empty ' if gold else ''}"
                                        "list of string ids")
        out[key] = list(ids)
    return json.dumps(out, ensure_ascii=False, indent=1) + "\n"


def _format_qa_predictions(task, answers) -> str:
    if not isinstance(answers, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in answers.items()):
        raise PredictionFormatError(f"{task}: predictions must be a dict {{question id: answer text}}")
    return json.dumps(answers, ensure_ascii=False, indent=1) + "\n"


def _format_qa_labels(task, gold) -> str:
    data = gold.get("data") if isinstance(gold, dict) else gold
    _check_squad_data(data, task)
    return json.dumps({"version": "1.1", "data": data}, ensure_ascii=False) + "\n"


def format_file(task: str, content, gold: bool = False) -> str:
    """The text of a predictions (or, ``gold``, labels) file of ``task`` holding ``content``."""
    kind = family(task)
    if task in QA_TASKS:
        return _format_qa_labels(task, content) if gold else _format_qa_predictions(task, content)
    if task in RANKING_TASKS:
        return _format_ranking(task, content, gold)
    if isinstance(content, (str, dict)):
        raise PredictionFormatError(f"{task}: expected a list, got {type(content).__name__}")
    content = list(content)
    if kind == "tagging":
        return _format_tags(task, content)
    if task == "xcopa":
        return _format_xcopa(content, gold)
    return _format_lines(task, content, gold)


def write_predictions(predictions_dir, task: str, lang: str, predictions, version: str = "xtreme-r") -> Path:
    """Write ``<predictions_dir>/<task>/test-<lang>.<suffix>`` atomically in the official format."""
    path = task_file(predictions_dir, task, lang, version)
    write_text_atomic(path, format_file(task, predictions, gold=False))
    return path


def write_labels(labels_dir, task: str, lang: str, gold, version: str = "xtreme-r") -> Path:
    """Write the gold file the official scorer reads from ``--label_folder`` (same layout)."""
    path = task_file(labels_dir, task, lang, version)
    write_text_atomic(path, format_file(task, gold, gold=True))
    return path


# ----------------------------------------------------------------------------------------------- reading

def _read_json(path: Path):
    if not path.is_file():
        raise PredictionFormatError(f"{path}: no such file")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as err:
        raise PredictionFormatError(f"{path}: not UTF-8 ({err.reason} at byte {err.start})") from None
    except json.JSONDecodeError as err:
        raise PredictionFormatError(f"{path}:{err.lineno}: not JSON ({err.msg}, column {err.colno})") from None


def _read_items(path: Path, task: str) -> List[str]:
    items = []
    for lineno, line in numbered_lines(path, PredictionFormatError):
        value = line.strip()
        if not value:
            raise PredictionFormatError(f"{path}:{lineno}: empty line; the file needs one item per line")
        if task in TASK_LABELS and value not in TASK_LABELS[task]:
            raise PredictionFormatError(f"{path}:{lineno}: unknown label {value!r}: use one of "
                                        f"{', '.join(TASK_LABELS[task])}")
        if task == "tatoeba" and not _INDEX.match(value):
            raise PredictionFormatError(f"{path}:{lineno}: {value!r} is not a sentence index")
        if task == "bucc2018" and (len(value.split("\t")) != 2 or not all(value.split("\t"))):
            raise PredictionFormatError(f"{path}:{lineno}: expected 'source id<TAB>target id'")
        items.append(value)
    return items


def _read_tags(path: Path) -> List[List[str]]:
    """Sentences of tags; a blank line ends a sentence (runs of blank lines give empty sentences, as the
    official reader's; they only matter to the sentence count)."""
    sentences, current = [], []
    for lineno, line in numbered_lines(path, PredictionFormatError):
        value = line.strip()
        if not value:
            sentences.append(current)
            current = []
        elif len(value.split()) != 1:
            raise PredictionFormatError(f"{path}:{lineno}: expected one tag per line, got {value!r}")
        else:
            current.append(value)
    if current:
        sentences.append(current)
    return sentences


def _read_xcopa(path: Path) -> List[int]:
    labels = []
    for lineno, line in numbered_lines(path, PredictionFormatError):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise PredictionFormatError(f"{path}:{lineno}: not a JSON line ({err.msg})") from None
        label = row.get("label") if isinstance(row, dict) else None
        if not isinstance(label, int) or isinstance(label, bool):
            raise PredictionFormatError(f"{path}:{lineno}: expected an object with an integer 'label'")
        labels.append(label)
    return labels


def _read_ranking(path: Path, task: str, gold: bool) -> Dict[str, List[str]]:
    ranking = _read_json(path)
    if isinstance(ranking, dict) and "data" in ranking:  # the official reader unwraps a "data" key
        ranking = ranking["data"]
    if not isinstance(ranking, dict):
        raise PredictionFormatError(f"{path}: expected a JSON object {{id: [ids]}}")
    for key, ids in ranking.items():
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or (gold and not ids):
            raise PredictionFormatError(f"{path}: entry {key!r}: expected a {'non-empty ' if gold else ''}"
                                        "list of string ids")
    return ranking


def _check_squad_data(data, where):
    if not isinstance(data, list):
        raise PredictionFormatError(f"{where}: expected SQuAD JSON ({{'data': [articles]}})")
    for article in data:
        for paragraph in (article.get("paragraphs") if isinstance(article, dict) else None) or [None]:
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("qas"), list):
                raise PredictionFormatError(f"{where}: every article needs 'paragraphs' with 'qas' lists")
            for qa in paragraph["qas"]:
                answers = qa.get("answers") if isinstance(qa, dict) else None
                if not isinstance(qa, dict) or not isinstance(qa.get("id"), str) or not answers or \
                        not all(isinstance(a, dict) and isinstance(a.get("text"), str) for a in answers):
                    qid = qa.get("id") if isinstance(qa, dict) else qa
                    raise PredictionFormatError(f"{where}: question {qid!r} needs an 'id' and a non-empty "
                                                "'answers' list of {'text': ...}")


def _read_qa(path: Path, gold: bool):
    content = _read_json(path)
    if gold:
        data = content.get("data") if isinstance(content, dict) else content
        _check_squad_data(data, path)
        return data
    if not isinstance(content, dict) or not all(isinstance(v, str) for v in content.values()):
        raise PredictionFormatError(f"{path}: expected a JSON object {{question id: answer text}}")
    return content


def _read(path, task: str, gold: bool):
    path = Path(path)
    kind = family(task)
    if task in QA_TASKS:
        return _read_qa(path, gold)
    if task in RANKING_TASKS:
        return _read_ranking(path, task, gold)
    if kind == "tagging":
        return _read_tags(path)
    if task == "xcopa":
        return _read_xcopa(path)
    return _read_items(path, task)


def read_predictions(path, task: str):
    """A predictions file in its in-memory form (see the module's table)."""
    return _read(path, task, gold=False)


def read_labels(path, task: str):
    """A gold file in its in-memory form (QA: the SQuAD ``data`` list)."""
    return _read(path, task, gold=True)
