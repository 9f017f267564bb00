"""Symmetrization heuristics against link sets worked out by hand (Koehn's grow-diag-final-and)."""
import pytest

from fairseq_weam.align.symmetrization import symmetrize, symmetrize_files, write_links


def links(text):
    return frozenset(tuple(map(int, token.split("-"))) for token in text.split())


# Each case: forward links, reverse links, then the expected intersect / union / grow-diag-final-and.
# grow-diag visits the candidate (union minus current) links in source-major order, as atools does.
CASES = {
    # Intersection {0-2, 2-0}. Candidates 1-0 (next to 2-0) and 1-2 (next to 0-2) both cover the
    # unaligned source word 1. 1-0 comes first and is added; then 1-2 joins two aligned words: rejected.
    # (Growing from the links instead, 0-2 first, would take 1-2: atools and this implementation don't.)
    "competing candidates: first in source-major order wins": (
        "0-2 1-0 1-2 2-0", "0-2 2-0",
        "0-2 2-0", "0-2 1-0 1-2 2-0", "0-2 1-0 2-0",
    ),
    # Intersection {0-0, 1-1}. Candidate 2-2 touches 1-1 diagonally and source word 2 is unaligned:
    # grown. 3-0 touches nothing. 3-3, later in the same sweep, now touches 2-2 (source 3 unaligned):
    # grown. The next sweep rejects 3-0 (both words aligned), and so does final-and.
    "diagonal growth chains, final-and rejects": (
        "0-0 1-1 2-2 3-0", "0-0 1-1 3-3",
        "0-0 1-1", "0-0 1-1 2-2 3-0 3-3", "0-0 1-1 2-2 3-3",
    ),
    # Union points 0-1 and 1-0 neighbour the intersection, but both of their words are already
    # aligned, so grow-diag does not add them and final-and does not either.
    "no growth between aligned words": (
        "0-0 0-1 1-1", "0-0 1-1 1-0",
        "0-0 1-1", "0-0 0-1 1-0 1-1", "0-0 1-1",
    ),
    # 2-2 (forward only) is not a neighbour of 0-0: no growth. final-and takes forward links first:
    # 2-2 has both words unaligned, added. Then reverse 2-0: source 2 and target 0 are aligned: rejected.
    "final-and: forward first, both words unaligned": (
        "0-0 2-2", "0-0 2-0",
        "0-0", "0-0 2-0 2-2", "0-0 2-2",
    ),
    # Intersection {0-3, 3-0}. Candidate 1-0 covers the unaligned source word 1 but touches no link: 0-3 ends the
    # row before it (links kept as keys i * width + j must not make it 1-0's left neighbour). final-and rejects it:
    # target 0 is aligned.
    "the last target of a row does not touch the first of the next": (
        "0-3 1-0 3-0", "0-3 3-0",
        "0-3 3-0", "0-3 1-0 3-0", "0-3 3-0",
    ),
    # Nothing in common: the intersection is empty, so nothing grows; final-and adds forward 0-1
    # (both unaligned), then reverse 1-0 (source 1, target 0 still unaligned), but not 0-0 (source 0 taken).
    "empty intersection": (
        "0-1", "1-0 0-0",
        "", "0-0 0-1 1-0", "0-1 1-0",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_heuristics_by_hand(case):
    forward, reverse, intersect, union, gdfa = (links(x) for x in CASES[case])
    assert symmetrize(forward, reverse, "intersect") == intersect
    assert symmetrize(forward, reverse, "union") == union
    assert symmetrize(forward, reverse, "grow-diag-final-and") == gdfa
    assert symmetrize(forward, reverse) == gdfa  # the default


def test_symmetrize_files_without_atools(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no atools on PATH: the built-in implementation runs
    cases = [CASES[c] for c in sorted(CASES)]
    write_links(tmp_path / "fwd", [links(c[0]) for c in cases])
    write_links(tmp_path / "rev", [links(c[1]) for c in cases])
    assert symmetrize_files(tmp_path / "fwd", tmp_path / "rev") == [links(c[4]) for c in cases]


def test_unknown_heuristic():
    with pytest.raises(ValueError, match="grow-diag-final-and"):
        symmetrize(links("0-0"), links("0-0"), "grow-diag")
