"""Cleaning of a parallel split: both sides are read together and a pair is kept or dropped together.

Character-level drops happen here (not UTF-8, empty, too many characters); piece-level drops (too many
pieces, extreme length ratio) need the sentencepiece model and happen while encoding.
"""
from collections import Counter
from itertools import zip_longest
from typing import List

from tqdm import tqdm

from fairseq_weam.prepare.raw_corpus import read_lines


def clean_split(in_paths: List, out_paths: List, line_numbers_path, max_chars: int,
                on_bad_utf8: str = "error") -> Counter:
    """Copy line-aligned ``in_paths`` to ``out_paths`` keeping good pairs; return counts (``in``, ``out``, drops).

    Whitespace is collapsed. The third file, when present, is the word alignment of the pair and is
    carried along unchanged (checked later, against the pieces). ``line_numbers_path`` gets the raw line
    number of every kept pair, so later errors can name the user's file and line.
    """
    stats = Counter()
    readers = [read_lines(p, on_bad_utf8) for p in in_paths]
    outs = [open(p, "w", encoding="utf-8") for p in [*out_paths, line_numbers_path]]
    try:
        for rows in tqdm(zip_longest(*readers), desc=f"clean {in_paths[0].name[:-len(in_paths[0].suffix)]}",
                         unit=" lines", mininterval=2, leave=False, disable=None):
            stats["in"] += 1
            texts = [row[1] for row in rows]
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
                for out, text in zip(outs, [src, tgt, *texts[2:], str(rows[0][0])]):
                    out.write(text.strip() + "\n")
    finally:
        for out in outs:
            out.close()
    return stats
