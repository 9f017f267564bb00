"""Interrupting an aligner run (Ctrl-C, SIGTERM) ends the tool's whole process group and leaves no files.

The stand-in aligner does what eflomal-align does: it starts a worker process (here ``sleep``) and
creates a temporary file under ``TMPDIR``, then waits. The run is interrupted in a separate Python
process that goes through the CLI wrapper, as ``weam-prepare`` does.
"""
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

STANDIN = """\
#!{python}
import os, subprocess, tempfile, time
fd, temporary = tempfile.mkstemp(prefix="standin-")
worker = subprocess.Popen(["sleep", "300"])
with open({pid_file!r} + ".part", "w") as f:
    f.write(f"{{worker.pid}} {{temporary}}")
os.rename({pid_file!r} + ".part", {pid_file!r})
time.sleep(300)
"""

DRIVER = """\
import sys
from fairseq_weam.align.word_aligners import align_word_corpus
from fairseq_weam.cli.entry import run_cli
sys.exit(run_cli("align", lambda: align_word_corpus(
    [["a", "b"]], [["a", "b"]], aligner="fast_align", fast_align_bin=sys.argv[1], tmp_dir=sys.argv[2])))
"""


def alive(pid):
    """True while ``pid`` runs (a zombie waiting for its parent to reap it counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_until(condition, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_interrupt_ends_the_process_group_and_removes_temporaries(tmp_path, signum):
    pid_file = tmp_path / "worker.pid"
    tool = tmp_path / "fast_align"
    tool.write_text(STANDIN.format(python=sys.executable, pid_file=str(pid_file)))
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    # SIG_DFL for SIGINT in the driver: a process started with SIGINT ignored (as pytest-xdist's workers, or
    # `cmd &` in a script, start their children) keeps ignoring it, and Python then raises no KeyboardInterrupt
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(tool), str(work)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    worker = None
    try:
        assert wait_until(pid_file.exists, 120), "the stand-in aligner did not start"
        worker_pid, temporary = pid_file.read_text().split()
        worker = int(worker_pid)
        assert alive(worker)
        driver.send_signal(signum)  # to the driver alone, as `kill PID` does
        _, stderr = driver.communicate(timeout=60)
        assert driver.returncode == 130, stderr.decode()
        assert b"align: interrupted" in stderr
        assert wait_until(lambda: not alive(worker), 10), "the aligner's worker process is still running"
        assert not list(work.iterdir())  # the weam-align-* directory is gone
        assert not Path(temporary).exists()  # and so is the tool's own temporary file
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        if worker is not None and alive(worker):
            os.kill(worker, signal.SIGKILL)
