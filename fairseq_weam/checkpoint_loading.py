"""Make fairseq's own checkpoints loadable under torch >= 2.6.

torch 2.6 changed ``torch.load`` to ``weights_only=True`` by default. fairseq's checkpoints pickle an
``argparse.Namespace`` and omegaconf containers, so ``fairseq-train`` can save a checkpoint it can no
longer resume, ``from_pretrained`` cannot load one, and in distributed runs rank > 0 fails when rank 0
broadcasts the state (``fairseq/distributed/utils.py``). Upstream fixed only the first call site
(facebookresearch/fairseq#5611) and the Python-3.11 builds on PyPI predate even that.

Rather than switching safety off for the whole process (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``), the
plugin gives exactly those fairseq modules a ``torch`` whose ``load`` defaults to ``weights_only=False``:
they read checkpoints the user wrote or chose to load, which is what fairseq always assumed.
"""
import importlib
import types

import torch

#: fairseq modules whose ``torch.load`` calls read fairseq's own pickled checkpoints / broadcasts.
CHECKPOINT_MODULES = ("fairseq.checkpoint_utils", "fairseq.distributed.utils")


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


def allow_fairseq_checkpoints():
    """Patch fairseq's checkpoint readers (idempotent)."""
    for name in CHECKPOINT_MODULES:
        module = importlib.import_module(name)
        if not isinstance(module.torch, _TorchWithTrustedLoad):
            module.torch = _TorchWithTrustedLoad()
