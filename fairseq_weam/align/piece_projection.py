"""Word <-> sentencepiece-piece bookkeeping and projection of word links onto pieces.

A word is a run of pieces starting at a piece that begins with ``▁`` (U+2581), or at the first piece of
the line. Aligners see one token per word, so their word indices map exactly onto runs of pieces.
"""
from typing import FrozenSet, Iterable, List, Sequence

from fairseq_weam.align.pharaoh import Link

WORD_BOUNDARY = "\u2581"


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


def project_links(
    word_links: Iterable[Link], src_spans: Sequence[range], tgt_spans: Sequence[range], first_piece_only=False
) -> FrozenSet[Link]:
    """Word links -> piece links: every piece of word i with every piece of word j (or first pieces only)."""
    links = set()
    for i, j in word_links:
        src = src_spans[i][:1] if first_piece_only else src_spans[i]
        tgt = tgt_spans[j][:1] if first_piece_only else tgt_spans[j]
        links.update((a, b) for a in src for b in tgt)
    return frozenset(links)
