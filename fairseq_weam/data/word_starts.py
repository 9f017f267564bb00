"""Which dictionary entries begin a word.

A word is a run of sentencepiece pieces that starts at a piece beginning with ``▁`` (U+2581), so word
boundaries are a property of the token id alone. fairseq's own whole-word masking for ``masked_lm`` is
broken (issue #3924); this table is what the plugin uses instead.
"""
import numpy as np

WORD_BOUNDARY = "\u2581"


def word_start_table(dictionary):
    """Boolean array over token ids: True where the piece begins a word (special symbols count as words)."""
    table = np.zeros(len(dictionary), dtype=bool)
    for index, symbol in enumerate(dictionary.symbols):
        table[index] = index < dictionary.nspecial or symbol.startswith(WORD_BOUNDARY) or symbol == "<mask>"
    return table


def word_ids(tokens, starts_table):
    """Word index of every piece of ``tokens`` (pieces before the first word start join word 0)."""
    starts = starts_table[np.asarray(tokens, dtype=np.int64)]
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int64)
    ids = np.cumsum(starts) - 1
    return np.maximum(ids, 0)
