"""One ``weam-prepare`` run per output directory: an exclusive ``flock`` on ``DEST/.lock``.

The lock file holds who took it (pid, host, start time), so a second run can say who holds it. The
holder removes the file when it ends; the kernel drops the lock of a killed holder, and the next run
takes it over.
"""
import contextlib
import fcntl
import os
import socket
import time
from pathlib import Path

from fairseq_weam.prepare.config import PrepareError

LOCK_NAME = ".lock"


@contextlib.contextmanager
def locked_dest(dest):
    """Hold the lock on ``dest`` (created if needed) for the ``with`` block; a :class:`PrepareError` if taken."""
    path = Path(dest) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode("utf-8", errors="replace").strip() or "another process"
            os.close(fd)
            raise PrepareError(f"{dest} is in use by {holder}; wait for that run to end, or write to another "
                               f"--dest-dir") from None
        try:  # the file may have been removed by a holder that ended while we opened it: lock the current one
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        os.ftruncate(fd, 0)
        os.write(fd, f"weam-prepare pid {os.getpid()} on {socket.gethostname()} since {started}\n".encode())
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)
