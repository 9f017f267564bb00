"""Running an external aligner binary: find it, run it, turn failures into errors a user can act on."""
import os
import shutil
import signal
import subprocess
import time
from typing import Callable, Optional, Sequence

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


def run_tool(args: Sequence[str], name: str, install_hint: str, stdout=None, tmp_dir=None, env=None,
             on_start: Optional[Callable[[subprocess.Popen], None]] = None) -> str:
    """Run ``args``; return its stdout (when not redirected to the ``stdout`` file object).

    ``on_start(proc)`` is called once the process runs (a caller in another thread can then end it).

    The tool runs in its own process group (with ``TMPDIR=tmp_dir`` when given, so its own temporary
    files land there, and with the variables of ``env`` set); an exception or interrupt while it runs ends the whole group, workers included.
    A missing executable or a non-zero exit becomes an :class:`AlignerError` with the command and the
    tail of its stderr.
    """
    args = [str(a) for a in args]
    extra = dict(env or {}, **({"TMPDIR": str(tmp_dir)} if tmp_dir is not None else {}))
    env = dict(os.environ, **extra) if extra else None
    try:
        proc = subprocess.Popen(
            args, stdout=stdout if stdout is not None else subprocess.PIPE, stderr=subprocess.PIPE, env=env,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise AlignerError(f"{name} binary not found: {args[0]}; install it: {install_hint}") from None
    except PermissionError:
        raise AlignerError(f"{name} binary is not executable: {args[0]}; install it: {install_hint}") from None
    try:
        if on_start is not None:
            on_start(proc)
        out, err = proc.communicate()
    except BaseException:
        end_process_group(proc)
        raise
    if proc.returncode != 0:
        tail = err.decode("utf-8", errors="replace").strip().splitlines()[-15:]
        raise AlignerError(
            f"{name} failed (exit status {proc.returncode}): {' '.join(args)}\n"
            + "\n".join(f"  {line}" for line in tail)
        )
    return out.decode("utf-8") if stdout is None else ""


def end_process_group(proc: subprocess.Popen, grace_s: float = 3.0):
    """SIGTERM to ``proc``'s process group, SIGKILL to what is left after ``grace_s``; reap ``proc``."""
    group = proc.pid  # start_new_session: the group id is the leader's pid, kept until it is reaped
    for signum, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, grace_s)):
        try:
            os.killpg(group, signum)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and _group_running(group, proc):
            time.sleep(0.05)
        if not _group_running(group, proc):
            break
    proc.wait()


def _group_running(group: int, proc: subprocess.Popen) -> bool:
    if proc.poll() is None:
        return True
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
