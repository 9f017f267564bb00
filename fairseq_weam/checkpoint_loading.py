"""fairseq's own checkpoint reads: weights-only with the plugin's allow-list, and resumable after a kill.

torch >= 2.6 loads weights-only by default, and fairseq's checkpoints pickle an ``argparse.Namespace`` (and,
in what rank 0 broadcasts to the other ranks, omegaconf containers), so unpatched fairseq cannot resume the
checkpoints it writes. The plugin gives exactly fairseq's checkpoint readers (``checkpoint_utils`` and the
broadcast in ``distributed/utils.py``) a ``torch`` whose ``load`` is ``checkpoint_safety.load``: weights-only
with one allow-list of the types fairseq checkpoints hold; anything else only on the user's opt-in.

fairseq writes a checkpoint once (atomically) and then *copies* it to ``checkpoint_best.pt`` and
``checkpoint_last.pt``; a kill during the copy leaves ``checkpoint_last.pt`` truncated beside intact
checkpoints. On resume, a ``checkpoint_last.pt`` that is not a complete archive is skipped (with a
warning) for the latest complete checkpoint in the same directory. The check reads the archive's
directory only; nothing is unpickled.
"""
import copy
import importlib
import logging
import re
import types
import zipfile
from pathlib import Path

import torch
from omegaconf import open_dict

from fairseq_weam import checkpoint_safety
from fairseq_weam.errors import WeamError

logger = logging.getLogger(__name__)

#: fairseq modules whose ``torch.load`` calls read checkpoints, and how a refusal names what they read.
CHECKPOINT_MODULES = {"fairseq.checkpoint_utils": None,  # the file's path
                      "fairseq.distributed.utils": "the checkpoint state broadcast by rank 0"}
LAST = "checkpoint_last{}.pt"


class CorruptCheckpointError(WeamError, RuntimeError):
    """The last checkpoint is unreadable and no intact one is beside it."""


class _TorchWithSafeLoad(types.ModuleType):
    """Stands in for the ``torch`` module inside fairseq's checkpoint code; only ``load`` differs."""

    def __init__(self, source):
        super().__init__("torch")
        self._source = source

    def __getattr__(self, name):
        return getattr(torch, name)

    def load(self, f, map_location=None, **kwargs):
        return checkpoint_safety.load(f, source=self._source, map_location=map_location, **kwargs)


def archive_problem(path):
    """Why ``path`` is not a complete torch checkpoint archive (None when it is one, or when it is in
    torch's pre-1.6 pickle format, which cannot be checked without unpickling)."""
    try:
        with zipfile.ZipFile(path):
            return None
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        with open(path, "rb") as f:
            if f.read(1) == b"\x80":  # a pickle protocol marker: the legacy format
                return None
        return f"not a complete archive ({err})"


def _training_progress(path, suffix):
    """Sort key for fairseq's checkpoint names: ``checkpoint_E_U`` within epoch E, ``checkpointE`` at its end;
    other names (``checkpoint_best``, ``checkpoint.best_*``) only after those, newest file first."""
    match = re.fullmatch(rf"checkpoint(?:(\d+)|_(\d+)_(\d+)){re.escape(suffix)}\.pt", path.name)
    if match is None:
        return (0, 0, 0, 0, path.stat().st_mtime_ns)
    epoch_end, epoch, updates = match.groups()
    if epoch_end is not None:
        return (1, int(epoch_end), 1, 0, 0)
    return (1, int(epoch), 0, int(updates), 0)


def newest_intact_checkpoint(save_dir, suffix=""):
    """The latest complete checkpoint in ``save_dir`` other than the last one, or None."""
    last = Path(save_dir) / LAST.format(suffix)
    candidates = [p for p in Path(save_dir).glob(f"checkpoint*{suffix}.pt") if p != last and p.is_file()]
    for path in sorted(candidates, key=lambda p: _training_progress(p, suffix), reverse=True):
        if archive_problem(path) is None:
            return path
    return None


def _fall_back_from_a_corrupt_last_checkpoint(load_checkpoint):
    """Wrap fairseq's ``checkpoint_utils.load_checkpoint(cfg, trainer, ...)`` (what fairseq-train calls)."""

    def load(cfg, trainer, **passthrough_args):
        suffix = trainer.checkpoint_suffix or ""
        last = Path(cfg.save_dir) / LAST.format(suffix)
        if cfg.restore_file != "checkpoint_last.pt" or not last.is_file():
            return load_checkpoint(cfg, trainer, **passthrough_args)
        problem = archive_problem(last)
        if problem is None:
            return load_checkpoint(cfg, trainer, **passthrough_args)
        fallback = newest_intact_checkpoint(cfg.save_dir, suffix)
        if fallback is None:
            raise CorruptCheckpointError(f"{last} is {problem} and no intact checkpoint is beside it: "
                                         "remove it to start training from scratch")
        logger.warning(f"{last} is {problem} (a kill during fairseq's copy?); resuming from {fallback}, "
                       "the latest intact checkpoint")
        cfg = copy.deepcopy(cfg)
        with open_dict(cfg):
            # fairseq adds the suffix to --restore-file itself; the last checkpoint exists, so fairseq would
            # not fine-tune from a model here either
            cfg.restore_file = str(fallback.with_name(fallback.name[:-len(f"{suffix}.pt")] + ".pt"))
            cfg.finetune_from_model = None
        return load_checkpoint(cfg, trainer, **passthrough_args)

    load.weam_fallback = True
    return load


def guard_fairseq_checkpoint_reads():
    """Patch fairseq's checkpoint readers (idempotent)."""
    for name, source in CHECKPOINT_MODULES.items():
        module = importlib.import_module(name)
        if not isinstance(module.torch, _TorchWithSafeLoad):
            module.torch = _TorchWithSafeLoad(source)
    checkpoint_utils = importlib.import_module("fairseq.checkpoint_utils")
    if not getattr(checkpoint_utils.load_checkpoint, "weam_fallback", False):
        checkpoint_utils.load_checkpoint = _fall_back_from_a_corrupt_last_checkpoint(checkpoint_utils.load_checkpoint)
