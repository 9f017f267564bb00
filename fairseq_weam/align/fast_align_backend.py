"""fast_align (Dyer et al. 2013) through ``subprocess``: forward ``-i F -d -o -v``, reverse adds ``-r``.

Its input is one ``source ||| target`` line per sentence pair (tokens split on spaces and tabs; the first
``|||`` token ends the source); both directions print ``source-target`` links on stdout. A word that is
itself ``|||`` is written as :data:`SEPARATOR_STANDIN` so the word counts stay the same; links are by
index, so nothing is translated back.

fast_align runs with one OpenMP thread: with several, its sums are added in a different order on each
run and two runs on the same input give different links (seen with the real binary), while a re-run of
``weam-prepare`` must give identical output.
"""
from fairseq_weam.align.external_tool import find_binary, run_tool

INSTALL_HINT = (
    "build it from https://github.com/clab/fast_align (mkdir build && cd build && cmake .. && make) and "
    "put fast_align on PATH or pass --fast-align-bin"
)


DETERMINISTIC_ENV = {"OMP_NUM_THREADS": "1"}
SEPARATOR = "|||"
# Contains the word boundary mark, which words built from pieces never do (a lone mark is written "\u2581").
SEPARATOR_STANDIN = "\u2581|||\u2581"


def fast_align_side(line: str) -> str:
    """One side of an input line: whitespace tokens, a ``|||`` token replaced by the stand-in."""
    return " ".join(SEPARATOR_STANDIN if token == SEPARATOR else token for token in line.split())


def write_fast_align_input(src_path, tgt_path, joint_path):
    with open(src_path, encoding="utf-8") as src, open(tgt_path, encoding="utf-8") as tgt, \
            open(joint_path, "w", encoding="utf-8") as out:
        for s, t in zip(src, tgt):
            out.write(f"{fast_align_side(s)} {SEPARATOR} {fast_align_side(t)}\n")


def align_fast_align(src_path, tgt_path, forward_path, reverse_path, binary=None, joint_path=None, tmp_dir=None,
                     on_start=None):
    """Write forward and reverse links of the word-level files ``src_path`` / ``tgt_path``."""
    exe = find_binary("fast_align", binary, INSTALL_HINT, "--fast-align-bin")
    joint_path = joint_path or f"{forward_path}.input"
    write_fast_align_input(src_path, tgt_path, joint_path)
    for out_path, extra in ((forward_path, []), (reverse_path, ["-r"])):
        with open(out_path, "wb") as out:
            run_tool([exe, "-i", joint_path, "-d", "-o", "-v", *extra], "fast_align", INSTALL_HINT, stdout=out,
                     tmp_dir=tmp_dir, env=DETERMINISTIC_ENV, on_start=on_start)
