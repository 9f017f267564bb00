"""Checkpoint reads run no code from the file: fairseq's reader, the rank-0 broadcast, the task's own loader."""
import argparse
import importlib
import io
import logging
import os

import numpy as np
import pytest
import torch
from fairseq import checkpoint_utils
from fairseq.distributed import utils as distributed_utils
from omegaconf import OmegaConf

from fairseq_weam.cli import checkpoint_globals
from fairseq_weam.checkpoint_safety import ALLOWED, TRUST_ENV, UntrustedCheckpointError, checkpoint_trust
from fairseq_weam.tasks.weam import checkpoint_vocab_size

#: how pickle names os.system (posix.system on Linux), found independently of the code under test
SYSTEM = f"{os.system.__module__}.{os.system.__name__}"


class Payload:
    """Unpickling this runs ``touch marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def genuine_state():
    """The shape of a fairseq checkpoint: cfg with a Namespace, weights, optimizer state, extra_state."""
    return {"args": None, "cfg": {"model": argparse.Namespace(arch="roberta_base", encoder_layers=1),
                                  "task": {"_name": "weam", "data": "DATA"}, "common": {"seed": 1}},
            "model": {"encoder.sentence_encoder.embed_tokens.weight": torch.randn(7, 4)},
            "optimizer_history": [{"criterion_name": "WeamCriterion", "optimizer_name": "FairseqAdam",
                                   "lr_scheduler_state": {"best": 3.5}, "num_updates": 2}],
            "last_optimizer_state": {"state": {0: {"step": torch.tensor(2.0), "exp_avg": torch.zeros(3)}},
                                     "param_groups": [{"lr": 1e-3, "params": [0]}]},
            "extra_state": {"epoch": 1, "val_loss": 3.5, "train_iterator": {"epoch": 1, "iterations_in_epoch": 2}}}


@pytest.fixture
def no_env_opt_in(monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)


def save_malicious(path, marker, legacy=False):
    state = genuine_state()
    state["extra_state"]["payload"] = Payload(marker)
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    return path


def test_every_allow_list_entry_is_the_object_its_pickled_name_resolves_to():
    for obj, name, origin in ALLOWED:
        module, _, attr = name.rpartition(".")
        assert getattr(importlib.import_module(module), attr) is obj, name
        assert origin


def test_a_genuine_checkpoint_loads_through_fairseqs_reader(tmp_path, no_env_opt_in):
    state = genuine_state()
    torch.save(state, tmp_path / "ckpt.pt")
    loaded = checkpoint_utils.load_checkpoint_to_cpu(str(tmp_path / "ckpt.pt"))
    assert torch.equal(loaded["model"]["encoder.sentence_encoder.embed_tokens.weight"],
                       state["model"]["encoder.sentence_encoder.embed_tokens.weight"])
    assert loaded["cfg"].model.encoder_layers == 1 and loaded["cfg"].task.data == "DATA"
    assert torch.equal(loaded["last_optimizer_state"]["state"][0]["step"], torch.tensor(2.0))


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-pickle"])
def test_a_malicious_checkpoint_is_refused_by_fairseqs_reader_and_the_task(tmp_path, no_env_opt_in, legacy):
    marker = tmp_path / "marker"
    path = save_malicious(tmp_path / "evil.pt", marker, legacy)
    for read in (lambda: checkpoint_utils.load_checkpoint_to_cpu(str(path)), lambda: checkpoint_vocab_size(path)):
        with pytest.raises(UntrustedCheckpointError) as err:
            read()
        message = str(err.value)
        assert "\n" not in message and message.startswith(f"{path}: refused to load: it needs {SYSTEM},")
        assert message.endswith(f"set {TRUST_ENV}=1 in the environment")
    assert not marker.exists()


def test_a_refusal_names_the_commands_flag_inside_checkpoint_trust(tmp_path, no_env_opt_in):
    path = save_malicious(tmp_path / "evil.pt", tmp_path / "marker")
    with checkpoint_trust(False, "--trust-checkpoint"), pytest.raises(UntrustedCheckpointError) as err:
        checkpoint_utils.load_checkpoint_to_cpu(str(path))
    assert str(err.value).endswith("if you trust where the file comes from, pass --trust-checkpoint")
    assert not (tmp_path / "marker").exists()


@pytest.mark.parametrize("opt_in", ["env", "flag"])
def test_with_the_opt_in_it_loads_and_the_opt_in_is_logged_once_per_file(tmp_path, monkeypatch, caplog, opt_in):
    marker = tmp_path / "marker"
    path = save_malicious(tmp_path / "evil.pt", marker)
    trusted = checkpoint_trust(opt_in == "flag", "--trust-checkpoint")
    if opt_in == "env":
        monkeypatch.setenv(TRUST_ENV, "1")
    with caplog.at_level(logging.WARNING), trusted:
        state = checkpoint_utils.load_checkpoint_to_cpu(str(path))
        assert checkpoint_vocab_size(path) == 7
    assert marker.exists() and state["extra_state"]["payload"] == 0  # os.system's return value
    logged = [r.getMessage() for r in caplog.records if str(path) in r.getMessage()]
    how = "--trust-checkpoint" if opt_in == "flag" else f"{TRUST_ENV}=1"
    assert logged == [f"{path}: unpickling in full ({how}): it needs {SYSTEM}, code in it may run"]


def broadcast_buffer(obj):
    """The bytes rank 0 sends in fairseq's broadcast_object: the object with its tensors taken out."""
    tensors = []
    skeleton = distributed_utils._split_tensors_from_obj(obj, tensors)
    buffer = io.BytesIO()
    torch.save(skeleton, buffer)
    return io.BytesIO(buffer.getvalue()), tensors


def test_the_rank0_broadcast_is_read_weights_only(tmp_path, no_env_opt_in):
    """What rank > 0 unpickles (fairseq's _broadcast_object_slow): rank 0's loaded state, cfg a DictConfig."""
    torch.save(genuine_state(), tmp_path / "ckpt.pt")
    state = checkpoint_utils.load_checkpoint_to_cpu(str(tmp_path / "ckpt.pt"))
    state["extra_state"]["numpy_loss"] = np.float64(3.25)
    state["extra_state"]["numpy_array"] = np.arange(3)
    buffer, tensors = broadcast_buffer(state)
    received = distributed_utils._put_tensors_in_obj(distributed_utils.torch.load(buffer, map_location="cpu"),
                                                     tensors)
    assert OmegaConf.to_container(received["cfg"]) == OmegaConf.to_container(state["cfg"])
    assert received["extra_state"]["numpy_loss"] == 3.25 and list(received["extra_state"]["numpy_array"]) == [0, 1, 2]
    key = "encoder.sentence_encoder.embed_tokens.weight"
    assert torch.equal(received["model"][key], state["model"][key])

    state["extra_state"]["payload"] = Payload(tmp_path / "marker")
    buffer, _ = broadcast_buffer(state)
    with pytest.raises(UntrustedCheckpointError, match=f"^the checkpoint state broadcast by rank 0: refused to load: "
                                                       f"it needs {SYSTEM},"):
        distributed_utils.torch.load(buffer, map_location="cpu")
    assert not (tmp_path / "marker").exists()


def test_fairseq_passing_weights_only_false_does_not_switch_the_guard_off(tmp_path, no_env_opt_in):
    """fairseq upstream (#5611) now passes weights_only=False: the plugin's policy still holds."""
    path = save_malicious(tmp_path / "evil.pt", tmp_path / "marker")
    with pytest.raises(UntrustedCheckpointError):
        checkpoint_utils.torch.load(str(path), map_location="cpu", weights_only=False)
    assert not (tmp_path / "marker").exists()


def test_the_listing_tool_marks_globals_off_the_allow_list(tmp_path, capsys):
    path = save_malicious(tmp_path / "evil.pt", tmp_path / "marker")
    assert checkpoint_globals.main([str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: argparse.Namespace, {SYSTEM} (NOT ALLOWED)\n"
    assert not (tmp_path / "marker").exists()


def test_a_class_to_build_or_several_globals_are_named_too(tmp_path, no_env_opt_in):
    """A numpy object array names no new global but makes unpickling build an object dtype; two payloads."""
    torch.save({"model": {}, "extra_state": {"objects": np.array([{"k": 1}], dtype=object)}}, tmp_path / "obj.pt")
    with pytest.raises(UntrustedCheckpointError, match=f"it needs {type(np.dtype(object)).__module__}."
                                                       f"{type(np.dtype(object)).__name__}, which is not among"):
        checkpoint_utils.load_checkpoint_to_cpu(str(tmp_path / "obj.pt"))
    state = genuine_state()
    state["extra_state"]["payloads"] = [Payload(tmp_path / "marker"), print]
    torch.save(state, tmp_path / "two.pt")
    with pytest.raises(UntrustedCheckpointError, match=f"it needs builtins.print, {SYSTEM}, which are not among"):
        checkpoint_utils.load_checkpoint_to_cpu(str(tmp_path / "two.pt"))
    assert not (tmp_path / "marker").exists()
