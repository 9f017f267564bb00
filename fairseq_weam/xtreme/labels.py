"""Label dictionaries of ``sentence_prediction`` data: class id = position of the label in ``label/dict.txt``.

weam-xtreme-prepare writes the label dictionary from the label set, in its order; a fine-tuned model's
class ids mean what that file said when it was trained. :func:`finetuned_label_order` reads the order back
from the binarized fine-tuning data dir (``label/dict.txt``, or ``prepare_report.json``'s ``label_ids``).
"""
import json
import os
from pathlib import Path
from typing import List, Optional, Tuple

from fairseq.data import Dictionary

from fairseq_weam.errors import WeamError


class LabelDictionaryError(WeamError, ValueError):
    """A label dictionary that is missing or unreadable."""


def write_label_dictionary(path, labels):
    """A fairseq dict.txt whose symbol order is the label order (class id = position)."""
    Path(path).write_text("".join(f"{label} 1\n" for label in labels), encoding="utf-8")


def label_dictionary(labels) -> Dictionary:
    """The in-memory fairseq Dictionary that ``write_label_dictionary`` + ``Dictionary.load`` would give."""
    d = Dictionary()
    for label in labels:
        d.add_symbol(label)
    return d


def read_label_dictionary(path) -> List[str]:
    """The labels of a fairseq label dict.txt, in class-id order."""
    path = Path(path)
    if not path.is_file():
        raise LabelDictionaryError(f"{path}: no such label dictionary")
    labels = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "#fairseq:overwrite":
            fields = fields[1:]
        if len(fields) != 2:
            raise LabelDictionaryError(f"{path}:{lineno}: expected 'LABEL COUNT', got {line!r}")
        labels.append(fields[0])
    if not labels:
        raise LabelDictionaryError(f"{path}: no labels")
    return labels


def finetuned_label_order(data) -> Optional[Tuple[List[str], str]]:
    """(labels in class-id order, file they came from) for a binarized sentence_prediction data dir, or None.

    ``data`` is the task's ``data`` setting (several dirs joined by ``os.pathsep`` are allowed: the first
    one holds the dictionaries, as in fairseq).
    """
    if not data:
        return None
    first = Path(str(data).split(os.pathsep)[0])
    label_dict = first / "label" / "dict.txt"
    if label_dict.is_file():
        return read_label_dictionary(label_dict), str(label_dict)
    report = first / "prepare_report.json"
    if report.is_file():
        try:
            ids = json.loads(report.read_text(encoding="utf-8"))["label_ids"]
            return [label for label, _ in sorted(ids.items(), key=lambda item: item[1])], str(report)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise LabelDictionaryError(f"{report}: no readable label_ids") from None
    return None
