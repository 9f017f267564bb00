"""Word boundaries over pieces: the one definition the data contract rests on.

A word is a run of pieces that starts at a piece beginning with ``▁`` (U+2581), or at the first piece of
the line. WordPiece vocabularies (BERT, mBERT) mark the other end: a piece beginning with ``##`` continues
a word, any other piece begins one. The plugin spells a WordPiece entry as a piece of this module
(:func:`piece_of_wordpiece`: ``play ##ing`` -> ``▁play ing``), in the data and in the fairseq dictionary
alike, so one rule, and every function below, holds for both vocabularies. Preparation (aligners see
one token per word, word links are projected onto pieces) and training (whole-word masking, the
word-exchange links, retrieval's word pooling) both use this module, so a word index in an ``.align``
file and a word index computed from token ids always agree.
fairseq's own whole-word masking for ``masked_lm`` is broken (issue #3924); the table below replaces it.
"""
from typing import List, NamedTuple, Optional, Sequence

import numpy as np

WORD_BOUNDARY = "\u2581"
WORDPIECE_CONTINUATION = "##"


def piece_of_wordpiece(token: str) -> str:
    """A WordPiece vocabulary entry spelled with ``▁`` word starts: ``##ing`` -> ``ing``, ``play`` -> ``▁play``.

    A lone ``##`` is a whole word (WordPiece continuations have a body), so it becomes ``▁##``.
    """
    if token.startswith(WORDPIECE_CONTINUATION) and len(token) > len(WORDPIECE_CONTINUATION):
        return token[len(WORDPIECE_CONTINUATION):]
    return WORD_BOUNDARY + token


def wordpiece_of_piece(piece: str) -> str:
    """The WordPiece entry :func:`piece_of_wordpiece` spelled as ``piece`` (its inverse where one exists)."""
    return piece[len(WORD_BOUNDARY):] if piece.startswith(WORD_BOUNDARY) else WORDPIECE_CONTINUATION + piece


def word_spans(pieces: Sequence[str]) -> List[range]:
    """Piece index ranges of the words of one line: ``["▁Da", "tei", "▁x"]`` -> ``[range(0, 2), range(2, 3)]``."""
    starts = [k for k, piece in enumerate(pieces) if k == 0 or piece.startswith(WORD_BOUNDARY)]
    return [range(a, b) for a, b in zip(starts, starts[1:] + [len(pieces)])]


def words_from_pieces(pieces: Sequence[str]) -> List[str]:
    """One token per word (its pieces joined, boundary mark removed) for the word aligner.

    A word that would be empty (a lone ``▁`` piece) is kept as ``▁`` so the word count never changes.
    """
    return ["".join(pieces[k] for k in span).replace(WORD_BOUNDARY, "") or WORD_BOUNDARY
            for span in word_spans(pieces)]


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


class WordLayout(NamedTuple):
    """The ``▁``-words of many lines of pieces at once (:func:`word_layout`), as arrays over all lines:
    ``pieces``/``words``: per line; ``piece_offset``/``word_offset``: where each line's pieces/words begin in
    the concatenation; ``word_start``/``word_end``: each word's pieces (``[start, end)``, counted in the
    concatenation of all lines' pieces)."""
    pieces: np.ndarray
    words: np.ndarray
    piece_offset: np.ndarray
    word_offset: np.ndarray
    word_start: np.ndarray
    word_end: np.ndarray


def word_layout(lines: Sequence[str]) -> Optional[WordLayout]:
    """:func:`word_spans` of many lines of pieces (without newlines) in array operations; None unless every
    line is pieces joined by single spaces (no other whitespace, no empty line)."""
    text = "\n".join(lines)
    if not lines or " ".join(text.split()) != text.replace("\n", " "):
        return None
    codes = np.frombuffer((text + "\n").encode("utf-32-le"), dtype=np.uint32)
    ends = np.flatnonzero((codes == 32) | (codes == 10))  # the character after each piece
    line_end = codes[ends] == 10
    first_char = np.concatenate(([0], ends[:-1] + 1))
    line_start = np.concatenate(([True], line_end[:-1]))
    is_start = line_start | (codes[first_char] == ord(WORD_BOUNDARY))
    line_of_piece = np.concatenate(([0], np.cumsum(line_end)[:-1]))
    word_start = np.flatnonzero(is_start)
    pieces = np.bincount(line_of_piece, minlength=len(lines))
    words = np.bincount(line_of_piece[word_start], minlength=len(lines))
    return WordLayout(pieces, words, np.cumsum(pieces) - pieces, np.cumsum(words) - words, word_start,
                      np.append(word_start[1:], len(first_char)))
