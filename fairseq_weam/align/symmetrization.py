"""Symmetrization of forward and reverse word alignments (Koehn et al. 2003, as in Moses and ``atools``).

``grow-diag-final-and`` starts from the intersection, grows it with union links that touch an aligned
link (8-neighbourhood, diagonals included) and cover a still-unaligned word, then adds forward, then
reverse links whose words are both unaligned. ``atools -c <heuristic>`` (fast_align) is used when a
binary is available; the implementation here follows atools' order exactly (candidate links visited in
source-major order, sweeps repeated until nothing is added), so both give the same links. The order
matters: two candidates competing for one unaligned word are resolved in favour of the first.
"""
import shutil
import tempfile
from pathlib import Path
from typing import AbstractSet, FrozenSet, List, Optional, Sequence

from fairseq_weam.align.external_tool import AlignerError, run_tool
from fairseq_weam.align.pharaoh import AlignmentError, Link, format_links, parse_links, read_pharaoh_file

HEURISTICS = ("grow-diag-final-and", "intersect", "union")


def grow_diag_final_and(forward: FrozenSet[Link], reverse: FrozenSet[Link]) -> FrozenSet[Link]:
    if forward == reverse:  # nothing to grow, every word of a link aligned: the result is the links
        return frozenset(forward)
    width = max(j for _, j in forward | reverse) + 2
    links = grow_diag_final_and_keys({i * width + j for i, j in forward}, {i * width + j for i, j in reverse}, width)
    return frozenset(divmod(key, width) for key in links)


def grow_diag_final_and_keys(forward: AbstractSet[int], reverse: AbstractSet[int], width: int) -> AbstractSet[int]:
    """:func:`grow_diag_final_and` of links given as keys ``i * width + j``; ``width`` must exceed every target
    position by 2 (a column no link uses keeps the neighbours of ``j = 0`` and of the last target in their row).
    Integer keys spare a tuple per link and per neighbour looked up; the sorted keys are the source-major order."""
    if forward == reverse:
        return forward
    links = set(forward & reverse)
    src_aligned = {key // width for key in links}
    tgt_aligned = {key % width for key in links}
    candidates = sorted((forward | reverse) - links)
    up, down = width + 1, width - 1
    while candidates:  # grow-diag: sweep the candidates until a sweep adds nothing
        grown = False
        for key in candidates:
            i, j = divmod(key, width)
            if (i not in src_aligned or j not in tgt_aligned) and (  # covers an unaligned word, touches a link
                    key + width in links or key - width in links or key + 1 in links or key - 1 in links
                    or key + up in links or key - down in links or key + down in links or key - up in links):
                links.add(key)
                src_aligned.add(i)
                tgt_aligned.add(j)
                grown = True
        if not grown:
            break
        candidates = [key for key in candidates if key not in links]
    for direction in (forward, reverse):  # final-and
        for key in sorted(direction):
            i, j = divmod(key, width)
            if i not in src_aligned and j not in tgt_aligned:
                links.add(key)
                src_aligned.add(i)
                tgt_aligned.add(j)
    return links


def symmetrize(forward: FrozenSet[Link], reverse: FrozenSet[Link], heuristic: str = "grow-diag-final-and"):
    """Combine one sentence's forward and reverse links (both as source-target pairs)."""
    if heuristic == "intersect":
        return frozenset(forward & reverse)
    if heuristic == "union":
        return frozenset(forward | reverse)
    if heuristic == "grow-diag-final-and":
        return grow_diag_final_and(frozenset(forward), frozenset(reverse))
    raise ValueError(f"unknown symmetrization heuristic {heuristic!r}; choose one of {', '.join(HEURISTICS)}")


def symmetrize_keys(forward: AbstractSet[int], reverse: AbstractSet[int], width: int,
                    heuristic: str = "grow-diag-final-and") -> AbstractSet[int]:
    """:func:`symmetrize` of links given as keys ``i * width + j`` (see :func:`grow_diag_final_and_keys`)."""
    if heuristic == "grow-diag-final-and":
        return grow_diag_final_and_keys(forward, reverse, width)
    return symmetrize(forward, reverse, heuristic)  # intersect, union (set operations either way), or the error


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
    forward = read_pharaoh_file(forward_path)
    reverse = read_pharaoh_file(reverse_path)
    if len(forward) != len(reverse):
        raise AlignerError(
            f"forward links {forward_path} ({len(forward)} lines) and reverse links {reverse_path} "
            f"({len(reverse)} lines) differ in length"
        )
    if not atools:
        return [symmetrize(f, r, heuristic) for f, r in zip(forward, reverse)]
    with tempfile.TemporaryDirectory(prefix="weam-atools-") as tmp:
        out_path = Path(tmp) / "symmetrized"
        run_atools(forward_path, reverse_path, heuristic, atools, out_path, len(forward))
        with open(out_path, encoding="utf-8") as f:
            return [parse_atools_line(line, n, atools) for n, line in enumerate(f, 1)]


def run_atools(forward_path, reverse_path, heuristic: str, atools: str, out_path, sentences: int):
    """``atools -c heuristic`` into ``out_path``; an AlignerError unless it wrote one line per sentence pair."""
    with open(out_path, "wb") as out:
        run_tool([atools, "-i", str(forward_path), "-j", str(reverse_path), "-c", heuristic], "atools",
                 install_hint="build atools from https://github.com/clab/fast_align", stdout=out)
    with open(out_path, encoding="utf-8") as f:
        lines = sum(1 for _ in f)
    if lines != sentences:
        raise AlignerError(
            f"atools ({atools}) wrote {lines} lines of links for {sentences} sentence pairs; check the atools binary, or omit --atools-bin and remove atools from PATH to "
            f"use the built-in symmetrization"
        )


def parse_atools_line(line: str, number: int, atools: str) -> FrozenSet[Link]:
    """Line ``number`` of atools' output, parsed; an AlignerError when it is malformed."""
    try:
        return parse_links(line, f"atools output line {number}")
    except AlignmentError as err:
        raise AlignerError(f"atools ({atools}) wrote unusable links: {err}") from None


def write_links(path, lines: Sequence[FrozenSet[Link]]):
    with open(path, "w", encoding="utf-8") as f:
        for links in lines:
            f.write(format_links(links) + "\n")
