"""Symmetrization of forward and reverse word alignments (Koehn et al. 2003, as in Moses and ``atools``).

``grow-diag-final-and`` starts from the intersection, grows it into neighbouring (including diagonal)
union links that cover a still-unaligned word, then adds union links whose words are both unaligned.
``atools -c <heuristic>`` is used when a binary is available; the implementation here follows the same
order of iteration (source-major, neighbours left, up, right, down, then diagonals; final pass over the
forward then the reverse links) so both give the same links.
"""
import shutil
from typing import FrozenSet, List, Optional, Sequence

from fairseq_weam.align.external_tool import AlignerError, run_tool
from fairseq_weam.align.pharaoh import Link, format_links, parse_links, read_pharaoh_file

HEURISTICS = ("grow-diag-final-and", "intersect", "union")
_NEIGHBOURS = ((-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))


def grow_diag_final_and(forward: FrozenSet[Link], reverse: FrozenSet[Link]) -> FrozenSet[Link]:
    union = forward | reverse
    links = set(forward & reverse)
    src_aligned = {i for i, _ in links}
    tgt_aligned = {j for _, j in links}
    src_len = max((i for i, _ in union), default=-1) + 1
    tgt_len = max((j for _, j in union), default=-1) + 1

    def add(i, j):
        links.add((i, j))
        src_aligned.add(i)
        tgt_aligned.add(j)

    added = True
    while added:  # grow-diag
        added = False
        for i in range(src_len):
            for j in range(tgt_len):
                if (i, j) not in links:
                    continue
                for di, dj in _NEIGHBOURS:
                    point = (i + di, j + dj)
                    if point in union and point not in links and (
                        point[0] not in src_aligned or point[1] not in tgt_aligned
                    ):
                        add(*point)
                        added = True
    for direction in (forward, reverse):  # final-and
        for i in range(src_len):
            for j in range(tgt_len):
                if (i, j) in direction and i not in src_aligned and j not in tgt_aligned:
                    add(i, j)
    return frozenset(links)


def symmetrize(forward: FrozenSet[Link], reverse: FrozenSet[Link], heuristic: str = "grow-diag-final-and"):
    """Combine one sentence's forward and reverse links (both as source-target pairs)."""
    if heuristic == "intersect":
        return frozenset(forward & reverse)
    if heuristic == "union":
        return frozenset(forward | reverse)
    if heuristic == "grow-diag-final-and":
        return grow_diag_final_and(frozenset(forward), frozenset(reverse))
    raise ValueError(f"unknown symmetrization heuristic {heuristic!r}; choose one of {', '.join(HEURISTICS)}")


def find_atools(atools_bin: Optional[str] = None) -> Optional[str]:
    """The ``atools`` binary to use: ``atools_bin`` (must exist), else ``atools`` on PATH, else None."""
    if atools_bin:
        found = shutil.which(atools_bin)
        if not found:
            raise AlignerError(
                f"atools binary not found at '{atools_bin}' (--atools-bin); build it with fast_align "
                f"(https://github.com/clab/fast_align: cmake . && make atools), or omit --atools-bin to use "
                f"the built-in symmetrization"
            )
        return found
    return shutil.which("atools")


def symmetrize_files(forward_path, reverse_path, heuristic="grow-diag-final-and", atools_bin=None) -> List[FrozenSet[Link]]:
    """Symmetrize two Pharaoh files line by line, with ``atools`` when found, else :func:`symmetrize`."""
    if heuristic not in HEURISTICS:
        raise ValueError(f"unknown symmetrization heuristic {heuristic!r}; choose one of {', '.join(HEURISTICS)}")
    atools = find_atools(atools_bin)
    if atools:
        out = run_tool([atools, "-i", str(forward_path), "-j", str(reverse_path), "-c", heuristic], "atools",
                       install_hint="build atools from https://github.com/clab/fast_align")
        return [parse_links(line, f"atools output line {n}") for n, line in enumerate(out.splitlines(), 1)]
    forward = read_pharaoh_file(forward_path)
    reverse = read_pharaoh_file(reverse_path)
    if len(forward) != len(reverse):
        raise AlignerError(
            f"forward links {forward_path} ({len(forward)} lines) and reverse links {reverse_path} "
            f"({len(reverse)} lines) differ in length"
        )
    return [symmetrize(f, r, heuristic) for f, r in zip(forward, reverse)]


def write_links(path, lines: Sequence[FrozenSet[Link]]):
    with open(path, "w", encoding="utf-8") as f:
        for links in lines:
            f.write(format_links(links) + "\n")
