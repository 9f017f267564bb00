"""fairseq-weam: alignment-aware multilingual pre-training and robust zero-shot transfer for fairseq.

Use as ``fairseq-train --user-dir fairseq_weam ...`` or ``import fairseq_weam``. Importing registers the
plugin's tasks and criterions with fairseq (fairseq auto-imports only ``tasks/`` and ``models/`` of a
user dir, never ``criterions/``), has fairseq read checkpoints weights-only with the plugin's allow-list
(resumable under torch >= 2.6, no code from a checkpoint runs without the user's opt-in), builds batches
without fairseq's prefetch thread when there are no DataLoader workers (``batch_prefetch``), and has
fairseq's own commands (``fairseq-train`` ...) report the plugin's user errors as one line, not a traceback.
"""
import importlib
import pkgutil
import sys
from pathlib import Path

from fairseq_weam.batch_prefetch import no_prefetch_thread_without_workers
from fairseq_weam.checkpoint_loading import guard_fairseq_checkpoint_reads
from fairseq_weam.errors import WeamError

__version__ = "0.1.0"

guard_fairseq_checkpoint_reads()
no_prefetch_thread_without_workers()


def _report_user_errors_in_one_line(kind, value, traceback, _previous=sys.excepthook):
    """``sys.excepthook``: a WeamError that escapes a program (fairseq-train) is printed as one line."""
    if isinstance(value, WeamError):
        print(f"{Path(sys.argv[0]).name}: error: {value}", file=sys.stderr)
    else:
        _previous(kind, value, traceback)


if sys.excepthook.__name__ != _report_user_errors_in_one_line.__name__:
    sys.excepthook = _report_user_errors_in_one_line


def _import_components(subpackage):
    folder = Path(__file__).parent / subpackage
    for info in pkgutil.iter_modules([str(folder)]):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{subpackage}.{info.name}")


for _subpackage in ("tasks", "criterions"):
    _import_components(_subpackage)
