"""Atomic outputs: write to a hidden temporary sibling, rename onto the final name only on success.

The one way the plugin writes a file or a directory that a user (or a later stage) reads: an
interrupted or failed run leaves the previous output, or nothing, never half of it. A temporary left
behind by a killed run (``.NAME.tmp``) is replaced by the next run.
"""
import contextlib
import os
import shutil
from pathlib import Path


def temporary_sibling(path) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}.tmp")


def _remove(path: Path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextlib.contextmanager
def atomic_path(path, directory=False):
    """Yield a temporary path beside ``path`` (a fresh empty directory when ``directory``); on success
    rename it onto ``path`` (replacing a previous file; a previous directory is removed first)."""
    path = Path(path)
    tmp = temporary_sibling(path)
    _remove(tmp)  # a stale temporary from a killed run
    if directory:
        tmp.mkdir(parents=True)
    else:
        tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    if directory and path.exists():
        _remove(path)
    os.replace(tmp, path)


def write_text_atomic(path, text: str):
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_lines_atomic(path, lines):
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as out:
            for line in lines:
                out.write(line + "\n")
