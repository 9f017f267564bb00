"""The built-in symmetrization against outputs recorded from the real atools (tests/data/align/atools_en_de)."""
from pathlib import Path

import pytest

from fairseq_weam.align.pharaoh import read_pharaoh_file
from fairseq_weam.align.symmetrization import HEURISTICS, symmetrize, symmetrize_files

FIXTURE = Path(__file__).parent / "data" / "align" / "atools_en_de"


def recorded(name):
    return read_pharaoh_file(FIXTURE / name)


def test_fixture_tells_the_heuristics_apart():
    forward, reverse = recorded("forward.align"), recorded("reverse.align")
    gdfa = recorded("atools.grow-diag-final-and")
    assert len(forward) == len(reverse) == len(gdfa) == 2000
    # grow-diag-final-and is neither the intersection nor the union on hundreds of pairs.
    differs = sum(g != (f & r) and g != (f | r) for f, r, g in zip(forward, reverse, gdfa))
    assert differs >= 400, differs


@pytest.mark.parametrize("heuristic", HEURISTICS)
def test_builtin_symmetrization_equals_atools_on_every_pair(heuristic, tmp_path, monkeypatch):
    expected = recorded(f"atools.{heuristic}")
    forward, reverse = recorded("forward.align"), recorded("reverse.align")
    different = [n for n, (f, r, e) in enumerate(zip(forward, reverse, expected), 1)
                 if symmetrize(f, r, heuristic) != e]
    assert not different, f"{len(different)} of {len(expected)} pairs differ from atools, first lines: {different[:5]}"
    monkeypatch.setenv("PATH", str(tmp_path))  # no atools on PATH: the file-level path is built-in too
    assert symmetrize_files(FIXTURE / "forward.align", FIXTURE / "reverse.align", heuristic) == expected
