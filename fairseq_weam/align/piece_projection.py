"""Projection of word links onto pieces. A word is a run of whole pieces: a ``▁``-word
(:mod:`fairseq_weam.text.pieces`) or a segmented word (:mod:`fairseq_weam.text.segmentation`)."""
from typing import FrozenSet, Iterable, Sequence

from fairseq_weam.align.pharaoh import Link


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
