"""Reading a checkpoint runs no code from it: weights-only unpickling with one allow-list.

A pickle can call any function while it is read, so a ``model.pt`` from elsewhere could run commands. Every
checkpoint read of the plugin and of fairseq's readers (patched in ``checkpoint_loading``) goes through
:func:`load`: ``torch.load(weights_only=True)`` with exactly the globals of :data:`ALLOWED`, the types fairseq
checkpoints hold. A file that needs anything else is refused before anything in it is built, with one line
naming the file, the global and the opt-in, unless the user trusts it: ``--trust-checkpoint`` on the plugin's
commands, ``WEAM_TRUST_CHECKPOINT=1`` in the environment (``fairseq-train``). Then it is unpickled in full,
logged once per file.

``weam-checkpoint-globals FILE...`` lists the globals each file needs beyond torch's own
(the allow-list was derived that way: tests/test_checkpoint_safety_commands.py lists the globals of
every kind of checkpoint the plugin writes).
"""
import argparse
import collections
import contextlib
import logging
import os
import pickle
import re
import typing

import numpy
import torch
from fairseq.distributed.utils import _TensorPlaceholder
from omegaconf import AnyNode, DictConfig, ListConfig
from omegaconf.base import ContainerMetadata, Metadata

from fairseq_weam.errors import WeamError

logger = logging.getLogger(__name__)

TRUST_ENV = "WEAM_TRUST_CHECKPOINT"

_RECONSTRUCT = numpy.core.multiarray._reconstruct
_SCALAR = numpy.core.multiarray.scalar

#: (object, name as pickled, where it comes from). Names are ``module.qualname`` as a pickle records them.
ALLOWED = (
    (argparse.Namespace, "argparse.Namespace",
     "cfg['model'] of every checkpoint fairseq-train writes (weam/tlm/mlm, masked_lm, sentence_prediction "
     "with robust_sentence_prediction); 'args' of pre-hydra checkpoints such as the released XLM-R model.pt"),
    (DictConfig, "omegaconf.dictconfig.DictConfig",
     "cfg as an OmegaConf container: the state rank 0 broadcasts after load_checkpoint_to_cpu made cfg one; "
     "checkpoints of fairseq versions that saved cfg unconverted"),
    (ListConfig, "omegaconf.listconfig.ListConfig", "list values of such a cfg"),
    (ContainerMetadata, "omegaconf.base.ContainerMetadata", "metadata of every DictConfig / ListConfig"),
    (Metadata, "omegaconf.base.Metadata", "metadata of every omegaconf value node"),
    (AnyNode, "omegaconf.nodes.AnyNode", "the value nodes of a cfg built from a dict (fairseq's loader does so)"),
    (typing.Any, "typing.Any", "ContainerMetadata.ref_type / key_type / element_type"),
    (dict, "builtins.dict", "ContainerMetadata.object_type of a DictConfig; its resolver cache's factory"),
    (list, "builtins.list", "ContainerMetadata.object_type of a ListConfig"),
    (int, "builtins.int", "ContainerMetadata.key_type of a ListConfig"),
    (collections.defaultdict, "collections.defaultdict", "ContainerMetadata.resolver_cache"),
    (_TensorPlaceholder, "fairseq.distributed.utils._TensorPlaceholder",
     "broadcast_object: rank 0 sends the state with each tensor replaced by one"),
    (_RECONSTRUCT, "numpy.core.multiarray._reconstruct",
     "numpy arrays in older fairseq checkpoints (fairseq issue #5603), written under numpy 1.x"),
    (_RECONSTRUCT, "numpy._core.multiarray._reconstruct", "the same, written under numpy 2.x"),
    (numpy.ndarray, "numpy.ndarray", "numpy arrays (with _reconstruct)"),
    (numpy.dtype, "numpy.dtype", "the dtype of a numpy array or scalar"),
    (_SCALAR, "numpy.core.multiarray.scalar", "numpy scalars (a loss or metric kept as numpy.float64)"),
    (_SCALAR, "numpy._core.multiarray.scalar", "the same, written under numpy 2.x"),
) + tuple(
    (type(numpy.dtype(code)), f"numpy.dtypes.{type(numpy.dtype(code)).__name__}",
     "the class of a numeric numpy dtype, which unpickling a dtype builds (never an object or string dtype)")
    for code in ("?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8")
)

SAFE_GLOBALS = [(obj, name) for obj, name, _ in ALLOWED]
ALLOWED_NAMES = frozenset(name for _, name, _ in ALLOWED)

#: --help of the commands' --trust-checkpoint
TRUST_HELP = ("unpickle the checkpoint in full when it needs more than the types fairseq checkpoints hold; code in "
              "it may run, so use it only for a file whose source you trust (default: such a file is refused)")
_opt_in = {"trusted": False, "flag": None}  # set by checkpoint_trust
_logged = set()


class UntrustedCheckpointError(WeamError):
    """A checkpoint needs a global outside the allow-list and the user has not said it is trusted."""


@contextlib.contextmanager
def checkpoint_trust(trusted, flag):
    """Within: checkpoints are unpickled in full when ``trusted`` (a command's ``flag``, which a refusal names)."""
    previous = dict(_opt_in)
    _opt_in.update(trusted=bool(trusted), flag=flag)
    try:
        yield
    finally:
        _opt_in.update(previous)


def _trusted_by():
    """The opt-in in force (a flag, the environment variable), or None."""
    if _opt_in["trusted"]:
        return _opt_in["flag"]
    if os.environ.get(TRUST_ENV, "") not in ("", "0"):
        return f"{TRUST_ENV}={os.environ[TRUST_ENV]}"
    return None


def _how_to_trust():
    return f"pass {_opt_in['flag']}" if _opt_in["flag"] else f"set {TRUST_ENV}=1 in the environment"


def _source_name(f, source):
    if source is not None:
        return source
    if isinstance(f, (str, os.PathLike)):
        return os.fspath(f)
    return getattr(f, "name", None) or "<checkpoint data>"


def unsafe_globals(f):
    """Globals the checkpoint ``f`` (path or seekable file) needs beyond torch's own and :data:`ALLOWED`.

    Reads the pickle's opcodes only; nothing is built. Legacy (pre-1.6, non-zip) files cannot be scanned so:
    for them this returns None."""
    with torch.serialization.safe_globals(SAFE_GLOBALS):
        try:
            return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(f))
        except ValueError:  # not a zip archive
            return None


def _rewind(f, start):
    if start is not None:
        f.seek(start)


def load(f, *, source=None, **kwargs):
    """``torch.load(f, weights_only=True, **kwargs)`` with the allow-list; a file that needs more is refused
    unless trusted (:func:`checkpoint_trust`, ``WEAM_TRUST_CHECKPOINT``). ``weights_only`` in ``kwargs`` is
    ignored: the policy is this module's. ``source`` names ``f`` in messages (default: its path)."""
    kwargs.pop("weights_only", None)
    name = _source_name(f, source)
    start = None if isinstance(f, (str, os.PathLike)) else f.tell()
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(f, weights_only=True, **kwargs)
    except pickle.UnpicklingError as err:
        _rewind(f, start)
        # a global the pickle names, or a class weights-only unpickling would have to build (a numpy object dtype)
        refused = re.findall(r"GLOBAL (\S+)|but got <class '([^']+)'>", str(err))
        needed = unsafe_globals(f) or ["".join(match) for match in refused]
        if not needed:
            raise
        wanted = ", ".join(needed)
        trusted_by = _trusted_by()
        if trusted_by is None:
            raise UntrustedCheckpointError(
                f"{name}: refused to load: it needs {wanted}, which {'is' if len(needed) == 1 else 'are'} not among "
                "the types fairseq checkpoints hold, and unpickling it could run code from the file; if you trust "
                f"where the file comes from, {_how_to_trust()}") from None
    if name not in _logged:
        _logged.add(name)
        logger.warning(f"{name}: unpickling in full ({trusted_by}): it needs {wanted}, code in it may run")
    _rewind(f, start)
    return torch.load(f, weights_only=False, **kwargs)

