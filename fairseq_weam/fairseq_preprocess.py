"""The one runner of fairseq's ``fairseq-preprocess`` (binarization of text and alignments)."""
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from fairseq_weam.errors import WeamError


class PreprocessError(WeamError, RuntimeError):
    """fairseq-preprocess is missing or failed."""


def fairseq_preprocess_binary() -> str:
    """The ``fairseq-preprocess`` of this Python's environment first, then the one on PATH."""
    beside_python = Path(sys.executable).parent / "fairseq-preprocess"
    found = str(beside_python) if beside_python.exists() else shutil.which("fairseq-preprocess")
    if not found:
        raise PreprocessError("fairseq-preprocess not found beside this Python or on PATH; install fairseq "
                              "(make install)")
    return found


def run_fairseq_preprocess(args: Sequence[str], what: str) -> str:
    """Run ``fairseq-preprocess ARGS``; return its output, or raise with the tail of it naming ``what``."""
    proc = subprocess.run([fairseq_preprocess_binary(), *map(str, args)], capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-20:])
        raise PreprocessError(f"fairseq-preprocess failed for {what} (exit {proc.returncode}):\n{tail}")
    return output
