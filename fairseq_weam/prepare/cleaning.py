"""Cleaning of a parallel split: both sides are read together and a pair is kept or dropped together.

Character-level drops happen here (not UTF-8, empty, too many characters); piece-level drops (too many
pieces, extreme length ratio) need the sentencepiece model and happen while encoding. The main process reads
blocks of raw lines; the workers of the pool (when given) decode and clean them, in order.
"""
import itertools
from collections import Counter
from contextlib import ExitStack
from typing import List, Optional

from tqdm import tqdm

from fairseq_weam.prepare.line_chunks import read_columns
from fairseq_weam.prepare.raw_corpus import raw_line
from fairseq_weam.prepare.worker_pool import WorkerPool

_CHUNK = 4000  # raw lines of each file per task


def _clean_chunk(task):
    """Clean one block of raw lines: the text of each output file (source, target[, links], line numbers), counts."""
    columns, first, paths, max_chars, on_bad_utf8 = task
    outs = [[] for _ in range(len(columns) + 1)]
    stats = Counter(**{"in": len(columns[0])})
    for k, raws in enumerate(zip(*columns)):
        number = first + k
        texts = [raw_line(raw, path, number, on_bad_utf8) for raw, path in zip(raws, paths)]
        if any(text is None for text in texts):
            stats["bad_utf8"] += 1
            continue
        src, tgt = (" ".join(t.split()) for t in texts[:2])
        if not src or not tgt:
            stats["empty"] += 1
        elif len(src) > max_chars or len(tgt) > max_chars:
            stats["too_long_chars"] += 1
        else:
            stats["out"] += 1
            for out, text in zip(outs, [src, tgt, *texts[2:], str(number)]):
                out.append(text.strip())
    return ["".join(line + "\n" for line in out) for out in outs], stats


def clean_split(in_paths: List, out_paths: List, line_numbers_path, max_chars: int,
                on_bad_utf8: str = "error", pool: Optional[WorkerPool] = None) -> Counter:
    """Copy line-aligned ``in_paths`` to ``out_paths`` keeping good pairs; return counts (``in``, ``out``, drops).

    Whitespace is collapsed. The third file, when present, is the word alignment of the pair and is
    carried along unchanged (checked later, against the pieces). ``line_numbers_path`` gets the raw line
    number of every kept pair, so later errors can name the user's file and line. The input files must have as
    many lines each (:func:`~fairseq_weam.prepare.raw_corpus.check_parallel`).
    """
    stats = Counter()
    with ExitStack() as stack:
        files = [stack.enter_context(open(p, "rb")) for p in in_paths]
        outs = [stack.enter_context(open(p, "w", encoding="utf-8")) for p in [*out_paths, line_numbers_path]]

        def tasks():
            for first in itertools.count(1, _CHUNK):
                columns = read_columns(files, _CHUNK)
                if not columns[0]:
                    return
                yield columns, first, [str(p) for p in in_paths], max_chars, on_bad_utf8

        progress = tqdm(desc=f"clean {in_paths[0].name[:-len(in_paths[0].suffix)]}", unit=" lines", mininterval=2,
                        leave=False, disable=None)
        for texts, counts in (pool.in_order(_clean_chunk, tasks()) if pool else map(_clean_chunk, tasks())):
            stats.update(counts)
            progress.update(counts["in"])
            for out, text in zip(outs, texts):
                out.write(text)
        progress.close()
    return stats
