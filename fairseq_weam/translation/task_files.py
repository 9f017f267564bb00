"""The text columns of an XTREME-layout task file translated; labels, columns and row order kept.

A task file (``train-en.tsv``, ``test-de.tsv``, ...) has ``sentence1 \\t sentence2 \\t label`` or
``sentence \\t label`` on every line (see :mod:`fairseq_weam.xtreme.io`); the label column is copied as it
is, so the translated file is read and scored exactly like the original.
"""
from typing import List, Tuple

from fairseq_weam.atomic import write_lines_atomic
from fairseq_weam.text_file import numbered_lines
from fairseq_weam.xtreme.io import XtremeDataError


def read_task_rows(path) -> Tuple[List[List[str]], int]:
    """(rows as [text..., label], number of text columns); every line 2 or 3 non-empty-label columns alike."""
    rows, columns = [], None
    for lineno, line in numbered_lines(path, XtremeDataError):
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) not in (2, 3) or not line.strip():
            raise XtremeDataError(f"{path}:{lineno}: expected 3 tab-separated columns (sentence1, sentence2, "
                                  f"label) or 2 (sentence, label), found {len(fields) if line.strip() else 0}")
        if columns is None:
            columns = len(fields)
        elif len(fields) != columns:
            raise XtremeDataError(f"{path}:{lineno}: {len(fields)} columns, but line 1 has {columns}; a task "
                                  "file is either sentence-pair (3 columns) or single-sentence (2 columns)")
        rows.append(fields)
    if not rows:
        raise XtremeDataError(f"{path}: no examples")
    return rows, columns - 1


def translate_task_rows(rows, text_columns, dest, translator) -> dict:
    """Write ``dest``: the rows of :func:`read_task_rows` with every text column translated; returns counts."""
    translated = [translator.translate([row[c] for row in rows]) for c in range(text_columns)]
    lines = ["\t".join([*(column[i] for column in translated), row[-1]]) for i, row in enumerate(rows)]
    write_lines_atomic(dest, lines)
    return {"rows": len(rows), "text_columns": text_columns, "direction": translator.direction,
            "truncated_inputs": translator.truncated}


def translate_text_file(source, dest, translator) -> dict:
    """Write ``dest``: every line of ``source`` (one sentence a line) translated."""
    sentences = [line for _, line in numbered_lines(source, XtremeDataError)]
    write_lines_atomic(dest, translator.translate(sentences))
    return {"rows": len(sentences), "direction": translator.direction, "truncated_inputs": translator.truncated}
