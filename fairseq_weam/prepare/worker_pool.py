"""The worker processes of one ``weam-prepare`` run: started once, on first use, for encoding and binarization.

Workers ignore Ctrl-C and die on SIGTERM: the parent handles the interruption and ends the pool. What a
task loads (a sentencepiece model, a fairseq dictionary) is kept per process, keyed by the file's size
and modification time, so each worker loads it once per run.
"""
import multiprocessing
import os
import signal
from collections import deque
from typing import Callable, Dict, Iterator, Optional, Tuple

_loaded: Dict[Tuple, object] = {}


def loaded(loader: Callable, path):
    """``loader(str(path))``, once per process and version of the file."""
    stat = os.stat(path)
    key = (loader.__module__, loader.__qualname__, str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _loaded:
        _loaded[key] = loader(str(path))
    return _loaded[key]


def _start_worker():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class WorkerPool:
    """``workers`` forked processes; a context manager that ends them (terminates on error)."""

    def __init__(self, workers: int = 1):
        self.workers = max(1, workers)
        self._pool = None

    def _started(self):
        if self._pool is None:
            self._pool = multiprocessing.get_context("fork").Pool(self.workers, _start_worker)
        return self._pool

    def in_order(self, fn, items, ahead: Optional[int] = None) -> Iterator:
        """``fn`` over ``items`` in the workers, results in order, at most ``ahead`` (default: 2 per worker + 1)
        items read and in flight: memory holds those, never the whole input."""
        ahead = ahead or 2 * self.workers + 1
        pending = deque()
        for item in items:
            pending.append(self.submit(fn, item))
            if len(pending) >= ahead:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    def submit(self, fn, *args):
        """``fn(*args)`` in a worker; returns its ``AsyncResult``."""
        return self._started().apply_async(fn, args)

    def terminate(self):
        """End the workers now (tasks in flight are abandoned)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._pool is not None and exc_type is None:
            self._pool.close()
            self._pool.join()
            self._pool = None
        self.terminate()
