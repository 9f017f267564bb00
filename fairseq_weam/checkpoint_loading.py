"""Make fairseq's own checkpoints resumable: under torch >= 2.6, and after a kill during a checkpoint copy.

torch 2.6 changed ``torch.load`` to ``weights_only=True`` by default. fairseq's checkpoints pickle an
``argparse.Namespace`` and omegaconf containers, so ``fairseq-train`` can save a checkpoint it can no
longer resume, ``from_pretrained`` cannot load one, and in distributed runs rank > 0 fails when rank 0
broadcasts the state (``fairseq/distributed/utils.py``). Upstream fixed only the first call site
(facebookresearch/fairseq#5611) and the Python-3.11 builds on PyPI predate even that.

Rather than switching safety off for the whole process (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``), the
plugin gives exactly those fairseq modules a ``torch`` whose ``load`` defaults to ``weights_only=False``:
they read checkpoints the user wrote or chose to load, which is what fairseq always assumed.

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

from fairseq_weam.errors import WeamError

logger = logging.getLogger(__name__)

#: fairseq modules whose ``torch.load`` calls read fairseq's own pickled checkpoints / broadcasts.
CHECKPOINT_MODULES = ("fairseq.checkpoint_utils", "fairseq.distributed.utils")
LAST = "checkpoint_last{}.pt"


class CorruptCheckpointError(WeamError, RuntimeError):
    """The last checkpoint is unreadable and no intact one is beside it."""


def trusted_torch_load(*args, **kwargs):
    """``torch.load`` that unpickles full objects unless the caller asked otherwise."""
    kwargs.setdefault("weights_only", False)
    return torch.load(*args, **kwargs)


class _TorchWithTrustedLoad(types.ModuleType):
    """Stands in for the ``torch`` module inside fairseq's checkpoint code; only ``load`` differs."""

    def __init__(self):
        super().__init__("torch")

    def __getattr__(self, name):
        return getattr(torch, name)

    load = staticmethod(trusted_torch_load)


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


def allow_fairseq_checkpoints():
    """Patch fairseq's checkpoint readers (idempotent)."""
    for name in CHECKPOINT_MODULES:
        module = importlib.import_module(name)
        if not isinstance(module.torch, _TorchWithTrustedLoad):
            module.torch = _TorchWithTrustedLoad()
    checkpoint_utils = importlib.import_module("fairseq.checkpoint_utils")
    if not getattr(checkpoint_utils.load_checkpoint, "weam_fallback", False):
        checkpoint_utils.load_checkpoint = _fall_back_from_a_corrupt_last_checkpoint(checkpoint_utils.load_checkpoint)
