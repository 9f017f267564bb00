"""The XTREME / Robust-XLT layout of a sentence-pair classification task, read strictly.

A task directory holds ``train-en.tsv``, ``dev-en.tsv`` and ``test-{lang}.tsv``, each line
``sentence1 \\t sentence2 \\t label``. Robust-XLT's reader silently gives unlabelled test lines a dummy
label, which makes the accuracy meaningless; here a missing or unknown label is an error naming the file
and line. Test sets of XNLI and PAWS-X are parallel by row across languages, which the generalized
setting (sentence1 in l1, sentence2 in l2) relies on: :func:`check_parallel` verifies it.
"""
import re
from pathlib import Path
from typing import Dict, List, NamedTuple, Sequence

from fairseq_weam.errors import WeamError

#: Label sets of the known tasks, in the order that defines the class ids.
TASK_LABELS = {
    "xnli": ("entailment", "neutral", "contradiction"),
    "pawsx": ("0", "1"),
}

_TEST_FILE = re.compile(r"^test-([A-Za-z_]+)\.tsv$")


class XtremeDataError(WeamError, ValueError):
    """A task file that cannot be used as it is."""


class PairExample(NamedTuple):
    sentence1: str
    sentence2: str
    label: str


def resolve_labels(task=None, labels=None) -> List[str]:
    """The label list from ``--task`` or an explicit comma-separated ``--labels``."""
    if labels:
        values = [x.strip() for x in (labels.split(",") if isinstance(labels, str) else labels) if x.strip()]
        if len(set(values)) != len(values) or len(values) < 2:
            raise XtremeDataError(f"--labels needs at least two distinct labels, got {labels!r}")
        return values
    if task not in TASK_LABELS:
        raise XtremeDataError(f"unknown task {task!r}: use one of {', '.join(TASK_LABELS)} or give --labels")
    return list(TASK_LABELS[task])


def read_pairs(path, labels: Sequence[str]) -> List[PairExample]:
    """Read a ``sentence1 \\t sentence2 \\t label`` file; every line must carry a label from ``labels``."""
    path = Path(path)
    if not path.is_file():
        raise XtremeDataError(f"{path}: no such file")
    allowed = set(labels)
    examples = []
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                raise XtremeDataError(f"{path}:{lineno}: not UTF-8 ({err.reason} at byte {err.start})") from None
            if not line.strip():
                raise XtremeDataError(f"{path}:{lineno}: empty line; remove it")
            fields = line.split("\t")
            if len(fields) == 2:
                raise XtremeDataError(
                    f"{path}:{lineno}: no label (2 columns); evaluation needs labelled test data "
                    "(XTREME's download script strips test labels: use the labelled XNLI-1.0 / PAWS-X files)"
                )
            if len(fields) != 3:
                raise XtremeDataError(f"{path}:{lineno}: expected 3 tab-separated columns "
                                      f"(sentence1, sentence2, label), found {len(fields)}")
            s1, s2, label = (f.strip() for f in fields)
            if label not in allowed:
                raise XtremeDataError(f"{path}:{lineno}: unknown label {label!r}; "
                                      f"expected one of {', '.join(labels)}")
            examples.append(PairExample(s1, s2, label))
    if not examples:
        raise XtremeDataError(f"{path}: no examples")
    return examples


def find_test_languages(task_dir) -> List[str]:
    """Languages with a ``test-{lang}.tsv`` in ``task_dir``, sorted (``en`` first when present)."""
    langs = sorted(m.group(1) for p in Path(task_dir).iterdir() if (m := _TEST_FILE.match(p.name)))
    return sorted(langs, key=lambda lang: (lang != "en", lang))


def read_test_sets(task_dir, labels, langs=None) -> Dict[str, List[PairExample]]:
    """``{lang: examples}`` for the requested (default: all) test languages."""
    task_dir = Path(task_dir)
    langs = list(langs) if langs else find_test_languages(task_dir)
    if not langs:
        raise XtremeDataError(f"{task_dir}: no test-{{lang}}.tsv files")
    return {lang: read_pairs(task_dir / f"test-{lang}.tsv", labels) for lang in langs}


def check_parallel(task_dir, test_sets: Dict[str, List[PairExample]]) -> None:
    """Test sets must be parallel by row: same number of rows and the same label on every row."""
    langs = list(test_sets)
    ref = langs[0]
    for lang in langs[1:]:
        a, b = test_sets[ref], test_sets[lang]
        if len(a) != len(b):
            raise XtremeDataError(
                f"{task_dir}: test-{ref}.tsv has {len(a)} rows but test-{lang}.tsv has {len(b)}; the "
                "generalized setting needs test sets parallel by row (or pass --no-generalized)"
            )
        for row, (x, y) in enumerate(zip(a, b), 1):
            if x.label != y.label:
                raise XtremeDataError(
                    f"{task_dir}: line {row} is labelled {x.label!r} in test-{ref}.tsv but {y.label!r} in "
                    f"test-{lang}.tsv; test sets must be parallel by row (or pass --no-generalized)"
                )


def generalized_pairs(test_sets, lang1, lang2) -> List[PairExample]:
    """Sentence1 of ``lang1`` with sentence2 of ``lang2``, row by row (call :func:`check_parallel` first)."""
    return [PairExample(a.sentence1, b.sentence2, a.label) for a, b in zip(test_sets[lang1], test_sets[lang2])]
