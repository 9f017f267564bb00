"""The eflomal aligner (default backend) through its ``eflomal-align`` console script.

``eflomal-align -s SRC -t TGT -f FWD -r REV`` writes both directions as ``source-target`` Pharaoh links,
one line per sentence pair, ready for symmetrization.
"""
import sys
from pathlib import Path

from fairseq_weam.align.external_tool import find_binary, run_tool

INSTALL_HINT = "pip install eflomal (it provides the eflomal-align command)"


def eflomal_binary(given=None) -> str:
    if not given:
        beside_python = Path(sys.executable).parent / "eflomal-align"
        if beside_python.exists():
            given = str(beside_python)
    return find_binary("eflomal-align", given, INSTALL_HINT, "--eflomal-bin")


def align_eflomal(src_path, tgt_path, forward_path, reverse_path, binary=None, extra_args=(), tmp_dir=None, on_start=None):
    """Write forward and reverse links of the word-level files ``src_path`` / ``tgt_path``.

    eflomal-align keeps its own temporary files under ``TMPDIR``: ``tmp_dir`` when given.
    """
    run_tool(
        [eflomal_binary(binary), "-s", src_path, "-t", tgt_path, "-f", forward_path, "-r", reverse_path,
         "--overwrite", *extra_args],
        "eflomal-align", INSTALL_HINT, tmp_dir=tmp_dir, on_start=on_start,
    )
