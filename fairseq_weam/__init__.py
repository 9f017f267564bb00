"""fairseq-weam: alignment-aware multilingual pre-training and robust zero-shot transfer for fairseq.

Use as ``fairseq-train --user-dir fairseq_weam ...`` or ``import fairseq_weam``. Importing registers the
plugin's tasks and criterions with fairseq (fairseq auto-imports only ``tasks/`` and ``models/`` of a
user dir, never ``criterions/``) and makes fairseq checkpoints resumable under torch >= 2.6.
"""
import importlib
import pkgutil
from pathlib import Path

from fairseq_weam.checkpoint_loading import allow_fairseq_checkpoints

__version__ = "0.1.0"

allow_fairseq_checkpoints()


def _import_components(subpackage):
    folder = Path(__file__).parent / subpackage
    for info in pkgutil.iter_modules([str(folder)]):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{subpackage}.{info.name}")


for _subpackage in ("tasks", "criterions"):
    _import_components(_subpackage)
