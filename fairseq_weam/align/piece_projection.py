"""Projection of word links onto pieces. A word is a run of whole pieces: a ``▁``-word
(:mod:`fairseq_weam.text.pieces`) or a segmented word (:mod:`fairseq_weam.text.segmentation`)."""
from typing import Dict, FrozenSet, Iterable, List, NamedTuple, Sequence, Tuple

import numpy as np

from fairseq_weam.align.pharaoh import Link
from fairseq_weam.text.pieces import WordLayout


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


def projected_line(word_links: Iterable[Link], src_bounds: Sequence[int], tgt_bounds: Sequence[int],
                   first_piece_only=False) -> Tuple[str, int, int, int]:
    """:func:`project_links` as its Pharaoh line, with the counts of links, aligned source and target pieces.

    Words are given by their bounds: word ``i`` is pieces ``bounds[i]`` to ``bounds[i + 1]`` (exclusive). Words
    are disjoint runs of pieces, so the sorted line is written block by block without a set or a sort.
    """
    targets: Dict[int, List[int]] = {}
    for i, j in sorted(word_links):
        if i in targets:
            targets[i].append(j)
        else:
            targets[i] = [j]
    cut = 1 if first_piece_only else None
    parts, links, src_count, tgt_words = [], 0, 0, set()
    for i, js in targets.items():
        tgt = [str(b) for j in js for b in range(tgt_bounds[j], tgt_bounds[j + 1])[:cut]]
        src = range(src_bounds[i], src_bounds[i + 1])[:cut]
        tgt_words.update(js)
        for a in src:
            prefix = f"{a}-"
            parts.append(prefix + (" " + prefix).join(tgt))
        links += len(src) * len(tgt)
        src_count += len(src)
    tgt_count = sum(len(range(tgt_bounds[j], tgt_bounds[j + 1])[:cut]) for j in tgt_words)
    return " ".join(parts), links, src_count, tgt_count


_PREFIXES: List[str] = []  # "a-" for piece a
_NUMBERS: List[str] = []  # "b" for piece b


def _grow_tables(size: int):
    for k in range(len(_NUMBERS), size):
        _PREFIXES.append(f"{k}-")
        _NUMBERS.append(str(k))


class BlockProjection(NamedTuple):
    """:func:`projected_block`'s text and figures (piece links; source/target pieces with a link; source and
    target words with a link)."""
    text: str
    links: int
    src_aligned: int
    tgt_aligned: int
    src_linked_words: int
    tgt_linked_words: int


def projected_block(line: np.ndarray, src: np.ndarray, tgt: np.ndarray, lines: int, src_words: WordLayout,
                    tgt_words: WordLayout, first_piece_only=False) -> BlockProjection:
    """:func:`projected_line` of ``lines`` lines at once, in array operations: the word links are ``(line[k],
    src[k], tgt[k])``, sorted and without repeats; the words are given by their layouts. The text is every
    line's Pharaoh line, each ending in a newline (an empty line where a line has no link)."""
    if not len(line):
        return BlockProjection("\n" * lines, 0, 0, 0, 0, 0)
    src_word = src_words.word_offset[line] + src
    tgt_word = tgt_words.word_offset[line] + tgt
    src_first, tgt_first = src_words.word_start[src_word], tgt_words.word_start[tgt_word]
    src_len = src_words.word_end[src_word] - src_first
    tgt_len = tgt_words.word_end[tgt_word] - tgt_first
    if first_piece_only:
        src_len, tgt_len = np.minimum(src_len, 1), np.minimum(tgt_len, 1)
    # every piece of the source word with every piece of the target word
    per_link = src_len * tgt_len
    of = np.repeat(np.arange(len(line)), per_link)
    step = np.arange(len(of)) - np.repeat(np.cumsum(per_link) - per_link, per_link)
    out_line = line[of]
    a = src_first[of] + step // tgt_len[of] - src_words.piece_offset[out_line]
    b = tgt_first[of] + step % tgt_len[of] - tgt_words.piece_offset[out_line]
    order = np.lexsort((b, a, out_line))
    a, b, out_line = a[order].tolist(), b[order].tolist(), out_line[order]
    _grow_tables(max(max(a), max(b)) + 1)
    gaps = np.diff(out_line, append=lines).tolist()  # lines from each link's line to the next link's
    separators = {gap: "\n" * gap if gap else " " for gap in set(gaps)}
    parts = [""] * (3 * len(a))
    parts[0::3] = map(_PREFIXES.__getitem__, a)
    parts[1::3] = map(_NUMBERS.__getitem__, b)
    parts[2::3] = map(separators.__getitem__, gaps)
    first_of_src = np.concatenate(([True], (line[1:] != line[:-1]) | (src[1:] != src[:-1])))
    tgt_keys, tgt_at = np.unique(tgt_word, return_index=True)
    return BlockProjection("\n" * int(out_line[0]) + "".join(parts), len(a), int(src_len[first_of_src].sum()),
                           int(tgt_len[tgt_at].sum()), int(first_of_src.sum()), len(tgt_keys))
