"""The XTREME / Robust-XLT layout of a sentence-pair classification task, read strictly.

A task directory holds ``train-en.tsv``, ``dev-en.tsv`` and ``test-{lang}.tsv``, each line
``sentence1 \\t sentence2 \\t label`` (a sentence-pair task) or ``sentence \\t label`` (a single-sentence task:
``sentence2`` is ``None``); one file holds one kind, and a task dir one kind throughout. Robust-XLT's reader silently gives unlabelled test lines a dummy
label, which makes the accuracy meaningless; here a missing or unknown label is an error naming the file
and line, except that evaluation predicts a test file without any label (XTREME's download strips them) for
the submission layout and leaves it unscored. Test sets of XNLI and PAWS-X are parallel by row across languages, which the generalized
setting (sentence1 in l1, sentence2 in l2) relies on: :func:`check_parallel` verifies it.
"""
import re
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence

from fairseq_weam.errors import WeamError
from fairseq_weam.text_file import numbered_lines

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
    sentence2: Optional[str]  # None in a single-sentence task
    label: str


def is_single_sentence(examples: Sequence[PairExample]) -> bool:
    return bool(examples) and examples[0].sentence2 is None


def format_row(ex: PairExample) -> str:
    """The TSV line of an example (without the newline)."""
    return "\t".join(f for f in (ex.sentence1, ex.sentence2, ex.label) if f is not None)


def check_same_kind(named_sets: Dict[str, Sequence[PairExample]]) -> None:
    """Every file of a task is single-sentence or every file is sentence-pair; else name the odd one."""
    kinds = {name: is_single_sentence(ex) for name, ex in named_sets.items()}
    if not kinds:
        return
    first = next(iter(kinds))
    for name, single in kinds.items():
        if single != kinds[first]:
            kind = lambda s: "single-sentence (2 columns)" if s else "sentence-pair (3 columns)"  # noqa: E731
            raise XtremeDataError(f"{name} is {kind(single)} but {first} is {kind(kinds[first])}; "
                                  "every file of a task must have the same columns")


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


def read_pairs(path, labels: Sequence[str], allow_unlabelled: bool = False) -> List[PairExample]:
    """Read a ``sentence1 \\t sentence2 \\t label`` or ``sentence \\t label`` file (the first line decides;
    every line must have as many columns); every line must carry a label from ``labels``.

    ``allow_unlabelled``: a file whose first line carries no label (XTREME's download strips test labels:
    ``sentence1 \\t sentence2``) is read with ``label`` None on every line, for prediction without scoring;
    a file that mixes labelled and unlabelled lines is still an error.
    """
    path = Path(path)
    allowed = set(labels)
    examples, columns, unlabelled = [], None, False
    for lineno, line in numbered_lines(path, XtremeDataError):
        if not line.strip():
            raise XtremeDataError(f"{path}:{lineno}: empty line; remove it")
        fields = line.split("\t")
        if len(fields) not in (2, 3):
            raise XtremeDataError(f"{path}:{lineno}: expected 3 tab-separated columns (sentence1, sentence2, "
                                  f"label) or 2 (sentence, label), found {len(fields)}")
        fields = [f.strip() for f in fields]
        if columns is None:
            columns = len(fields)
            unlabelled = allow_unlabelled and len(fields) == 2 and fields[-1] not in allowed
        if len(fields) != columns:
            hint = "no label? " if len(fields) == 2 else ""
            raise XtremeDataError(f"{path}:{lineno}: {hint}{len(fields)} columns, but line 1 has {columns}; "
                                  "a file is either sentence-pair (3 columns) or single-sentence (2 columns)")
        if unlabelled:
            examples.append(PairExample(fields[0], fields[1], None))
            continue
        label = fields[-1]
        if label not in allowed:
            if len(fields) == 2:
                raise XtremeDataError(
                    f"{path}:{lineno}: no label (2 columns, and {label!r} is not one of {', '.join(labels)}); "
                    "this file needs a label on every line (weam-evaluate predicts a test file without any "
                    "label, unscored; weam-xtreme-prepare needs labels: leave such test files out with --langs)")
            raise XtremeDataError(f"{path}:{lineno}: unknown label {label!r}; "
                                  f"expected one of {', '.join(labels)}")
        s1, s2 = fields[0], (fields[1] if len(fields) == 3 else None)
        examples.append(PairExample(s1, s2, label))
    if not examples:
        raise XtremeDataError(f"{path}: no examples")
    return examples


def is_labelled(examples: Sequence[PairExample]) -> bool:
    return bool(examples) and examples[0].label is not None


def find_test_languages(task_dir) -> List[str]:
    """Languages with a ``test-{lang}.tsv`` in ``task_dir``, sorted (``en`` first when present)."""
    langs = sorted(m.group(1) for p in Path(task_dir).iterdir() if (m := _TEST_FILE.match(p.name)))
    return sorted(langs, key=lambda lang: (lang != "en", lang))


def read_test_sets(task_dir, labels, langs=None, allow_unlabelled=False) -> Dict[str, List[PairExample]]:
    """``{lang: examples}`` for the requested (default: all) test languages (see :func:`read_pairs`)."""
    task_dir = Path(task_dir)
    langs = list(langs) if langs else find_test_languages(task_dir)
    if not langs:
        raise XtremeDataError(f"{task_dir}: no test-{{lang}}.tsv files")
    tests = {lang: read_pairs(task_dir / f"test-{lang}.tsv", labels, allow_unlabelled) for lang in langs}
    check_same_kind({f"test-{lang}.tsv": ex for lang, ex in tests.items() if is_labelled(ex)})
    return tests


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
