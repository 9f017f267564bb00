"""Line-aligned files read in step, a chunk of lines at a time, as columns (one list of lines per file).

The stages hand chunks to the worker pool this way: the main process reads whole blocks of lines per file (no
per-row Python), the workers strip and split them.
"""
import itertools
from contextlib import ExitStack
from typing import Iterator, List, Optional, Sequence


def open_sources(sources: Sequence, stack: ExitStack) -> List:
    """Paths opened (closed with ``stack``), open files as they are (read on from where they are), None as is."""
    return [src if src is None or hasattr(src, "readline") else stack.enter_context(open(src, encoding="utf-8"))
            for src in sources]


def read_columns(files: Sequence, size: int) -> List[Optional[List[str]]]:
    """The next lines of ``files`` in step: up to ``size`` of the first, as many of each other (None stays None);
    all cut to the shortest. Empty lists at the first file's end."""
    first = list(itertools.islice(files[0], size))
    columns = [first] + [None if f is None else list(itertools.islice(f, len(first))) for f in files[1:]]
    rows = min(len(column) for column in columns if column is not None)
    return [column if column is None or len(column) == rows else column[:rows] for column in columns]


def column_chunks(sources: Sequence, size: int) -> Iterator[List[Optional[List[str]]]]:
    """Lines of ``sources`` (see :func:`open_sources`) in step, up to the first source's end, ``size`` at a time,
    as columns: one list of lines (newlines kept) per source (None for None)."""
    with ExitStack() as stack:
        files = open_sources(sources, stack)
        while True:
            columns = read_columns(files, size)
            if not columns[0]:
                return
            yield columns
