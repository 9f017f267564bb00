"""Running an external aligner binary: find it, run it, turn failures into errors a user can act on."""
import shutil
import subprocess
from typing import Optional, Sequence

from fairseq_weam.errors import WeamError


class AlignerError(WeamError, RuntimeError):
    """An aligner (or atools) is missing, failed, or wrote output that does not match its input."""


def find_binary(name: str, given: Optional[str], install_hint: str, flag: str) -> str:
    """Path of ``given`` (a path or a command name) or of ``name`` on PATH; an :class:`AlignerError` if absent."""
    candidate = given or name
    found = shutil.which(candidate)
    if not found:
        where = f"at '{given}' ({flag})" if given else f"on PATH (or pass {flag})"
        raise AlignerError(f"{name} binary not found {where}; install it: {install_hint}")
    return found


def run_tool(args: Sequence[str], name: str, install_hint: str, stdout=None) -> str:
    """Run ``args``; return its stdout (when not redirected to the ``stdout`` file object).

    A missing executable or a non-zero exit becomes an :class:`AlignerError` with the command and the
    tail of its stderr.
    """
    args = [str(a) for a in args]
    try:
        proc = subprocess.run(
            args, stdout=stdout if stdout is not None else subprocess.PIPE, stderr=subprocess.PIPE,
        )
    except FileNotFoundError:
        raise AlignerError(f"{name} binary not found: {args[0]}; install it: {install_hint}") from None
    except PermissionError:
        raise AlignerError(f"{name} binary is not executable: {args[0]}; install it: {install_hint}") from None
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", errors="replace").strip().splitlines()[-15:]
        raise AlignerError(
            f"{name} failed (exit status {proc.returncode}): {' '.join(args)}\n"
            + "\n".join(f"  {line}" for line in tail)
        )
    return proc.stdout.decode("utf-8") if stdout is None else ""
