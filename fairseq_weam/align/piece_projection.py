"""Projection of word links onto pieces. A word is a run of whole pieces: a ``▁``-word
(:mod:`fairseq_weam.text.pieces`) or a segmented word (:mod:`fairseq_weam.text.segmentation`)."""
from typing import Dict, FrozenSet, Iterable, List, Sequence, Tuple

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


def projected_line(word_links: Iterable[Link], src_spans: Sequence[range], tgt_spans: Sequence[range],
                   first_piece_only=False) -> Tuple[str, int, int, int]:
    """:func:`project_links` as its Pharaoh line, with the counts of links, aligned source and target pieces.

    Words are disjoint runs of pieces, so the sorted line is written block by block without a set or a sort.
    """
    targets: Dict[int, List[int]] = {}
    for i, j in sorted(word_links):
        targets.setdefault(i, []).append(j)
    cut = 1 if first_piece_only else None
    parts, links, src_count, tgt_aligned = [], 0, 0, set()
    for i, js in targets.items():
        tgt = [str(b) for j in js for b in tgt_spans[j][:cut]]
        tgt_aligned.update(js)
        src = src_spans[i][:cut]
        for a in src:
            prefix = f"{a}-"
            parts.append(prefix + (" " + prefix).join(tgt))
        links += len(src) * len(tgt)
        src_count += len(src)
    tgt_count = sum(len(tgt_spans[j][:cut]) for j in tgt_aligned)
    return " ".join(parts), links, src_count, tgt_count
