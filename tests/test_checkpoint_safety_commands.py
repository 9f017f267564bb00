"""A checkpoint with a pickled command, through every command that reads one: refused in one line naming the
global, nothing runs; with the opt-in it loads, logged once. Every kind of checkpoint the plugin writes needs
only allow-listed globals."""
import os
import sys

import pytest
import torch
from omegaconf import OmegaConf
from weam_pair_data import make_aligned_data
from weam_testing import TINY_ROBERTA, USER_DIR, run, tool
from xtreme_testing import finetune_args, tiny_prepared

from fairseq_weam.checkpoint_safety import ALLOWED, TRUST_ENV

pytestmark = pytest.mark.slow

SYSTEM = f"{os.system.__module__}.{os.system.__name__}"  # how pickle names os.system
TRAIN = ["--optimizer", "adam", "--lr", "1e-3", "--cpu", "--num-workers", "0", "--no-epoch-checkpoints",
         "--log-format", "simple", "--log-interval", "1", "--seed", "3"]

#: writes CHECKPOINT with a pickled os.system("touch MARKER") in its extra_state (a separate process, so the
#: payload's class exists only while writing)
POISON = """
import os, sys, torch
class Payload:
    def __reduce__(self):
        return os.system, ("touch " + sys.argv[3],)
state = torch.load(sys.argv[1], weights_only=False)
state["extra_state"]["payload"] = Payload()
torch.save(state, sys.argv[2])
"""


def weam_train(data, save_dir, *extra, max_update=2):
    return [tool("fairseq-train"), data, "--user-dir", USER_DIR, "--task", "weam", "--criterion", "weam",
            *TINY_ROBERTA, "--tokens-per-sample", "64", "--batch-size", "8", "--max-update", max_update,
            "--save-dir", save_dir, *TRAIN, *extra]


def masked_lm_train(data, save_dir, *extra, max_update=1):
    return [tool("fairseq-train"), data, "--user-dir", USER_DIR, "--task", "masked_lm", "--criterion", "masked_lm",
            *TINY_ROBERTA, "--tokens-per-sample", "32", "--sample-break-mode", "eos", "--batch-size", "8",
            "--max-update", max_update, "--save-dir", save_dir, *TRAIN, *extra]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Genuine checkpoints of every kind, each with its poisoned copy beside it (``evil_<kind>.pt``)."""
    root = tmp_path_factory.mktemp("safety")
    data = make_aligned_data(root / "weam")
    files = {"data": data}
    for objective in ("weam", "tlm", "mlm"):
        run(weam_train(data, root / objective, "--objective", objective))
        files[objective] = root / objective / "checkpoint_last.pt"
    # a masked_lm over the weam data's dictionary: the layout of a released XLM-R model.pt
    run([tool("fairseq-preprocess"), "--only-source", "--srcdict", root / "weam" / "dict.txt", "--trainpref",
         root / "weam" / "raw" / "train.en-de.en", "--validpref", root / "weam" / "raw" / "valid.en-de.en",
         "--destdir", root / "mono", "--workers", "1"])
    files["mono"] = root / "mono"
    run(masked_lm_train(root / "mono", root / "masked_lm"))
    files["masked_lm"] = root / "masked_lm" / "checkpoint_last.pt"
    prepared = tiny_prepared(root / "xtreme")
    files["task_dir"], files["spm_model"], files["dictionary"], files["bin"] = prepared
    run(finetune_args(prepared[3], root / "classifier", "adversarial", 2, [
        "--adv-steps", "1", "--adv-eps", "0.5", "--adv-step-size", "0.3", "--store-ema", "--ema-decay", "0.9"]))
    files["classifier"] = root / "classifier" / "checkpoint_last.pt"
    for kind in ("weam", "masked_lm", "classifier"):
        files[f"evil_{kind}"] = root / f"evil_{kind}.pt"
        run([sys.executable, "-c", POISON, files[kind], files[f"evil_{kind}"], root / f"marker_{kind}"])
    return files


def marker(files, kind):
    return files[f"evil_{kind}"].parent / f"marker_{kind}"


def without_opt_in():
    return {k: v for k, v in os.environ.items() if k != TRUST_ENV}


def with_opt_in():
    return {**os.environ, TRUST_ENV: "1"}


def assert_refused(proc, prog, path, opt_in):
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.stderr.rstrip().splitlines()[-1] == (
        f"{prog}: error: {path}: refused to load: it needs {SYSTEM}, which is not among the types fairseq "
        f"checkpoints hold, and unpickling it could run code from the file; if you trust where the file comes "
        f"from, {opt_in}")


def opt_in_lines(proc, path):
    return [line for line in (proc.stdout + proc.stderr).splitlines() if f"{path}: unpickling in full" in line]


def test_every_kind_of_checkpoint_needs_only_allow_listed_globals(checkpoints, tmp_path):
    """The derivation of the allow-list: each objective, masked_lm, a robust classifier with EMA and optimizer
    state, and the state rank 0 broadcasts (cfg turned into a DictConfig by fairseq's reader)."""
    from fairseq import checkpoint_utils
    from fairseq.distributed import utils as distributed_utils

    allowed = {name for _, name, _ in ALLOWED}
    for kind in ("weam", "tlm", "mlm", "masked_lm", "classifier"):
        state = torch.load(checkpoints[kind], weights_only=False)  # the test's own, trusted, file
        assert state["last_optimizer_state"]["state"] and (kind != "classifier" or state["extra_state"]["ema"])
        needed = set(torch.serialization.get_unsafe_globals_in_checkpoint(checkpoints[kind]))
        assert needed == {"argparse.Namespace"}, (kind, needed)
        loaded = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoints[kind]))
        assert OmegaConf.is_config(loaded["cfg"])
        tensors = []
        torch.save(distributed_utils._split_tensors_from_obj(loaded, tensors), tmp_path / f"broadcast_{kind}.pt")
        needed = set(torch.serialization.get_unsafe_globals_in_checkpoint(tmp_path / f"broadcast_{kind}.pt"))
        assert "omegaconf.dictconfig.DictConfig" in needed and needed <= allowed, (kind, needed - allowed)


def train_refused_then_trusted(args, path, mark, loaded):
    """fairseq-train refuses ``path`` without the opt-in; with it, logs the opt-in once and prints ``loaded``."""
    refused = run(args, env=without_opt_in(), check=False)
    assert_refused(refused, "fairseq-train", path, f"set {TRUST_ENV}=1 in the environment")
    assert not mark.exists()

    trusted = run(args, env=with_opt_in())
    assert mark.exists() and len(opt_in_lines(trusted, path)) == 1
    assert loaded in trusted.stdout + trusted.stderr
    mark.unlink()


def test_restore_file(checkpoints, tmp_path):
    """fairseq-train --restore-file: fairseq's own reader (masked_lm: no plugin code reads it first)."""
    path = checkpoints["evil_masked_lm"]
    args = masked_lm_train(checkpoints["mono"], tmp_path / "ckpt", "--restore-file", path, max_update=2)
    train_refused_then_trusted(args, path, marker(checkpoints, "masked_lm"),
                               f"Loaded checkpoint {path} (epoch 1 @ 1 updates)")


def test_finetune_from_model(checkpoints, tmp_path):
    path = checkpoints["evil_classifier"]
    args = finetune_args(checkpoints["bin"], tmp_path / "ckpt", "none", 1, ["--finetune-from-model", path])
    train_refused_then_trusted(args, path, marker(checkpoints, "classifier"), f"loading pretrained model from {path}")


def test_xlmr_continuation(checkpoints, tmp_path):
    """--task weam --finetune-from-model model.pt: the task's vocabulary check reads it, then fairseq's reader
    (read twice, the opt-in logged once)."""
    path = checkpoints["evil_masked_lm"]
    args = weam_train(checkpoints["data"], tmp_path / "ckpt", "--finetune-from-model", path, max_update=1)
    train_refused_then_trusted(args, path, marker(checkpoints, "masked_lm"), f"loading pretrained model from {path}")


def test_weam_evaluate(checkpoints, tmp_path):
    path, mark = checkpoints["evil_classifier"], marker(checkpoints, "classifier")
    args = [tool("weam-evaluate"), "--checkpoint", path, "--task-dir", checkpoints["task_dir"], "--spm-model",
            checkpoints["spm_model"], "--dict", checkpoints["dictionary"], "--out-dir", tmp_path / "out",
            "--limit", "8", "--no-generalized"]
    refused = run(args, env=without_opt_in(), check=False)
    assert_refused(refused, "weam-evaluate", path, "pass --trust-checkpoint")
    assert not mark.exists() and not (tmp_path / "out").exists()

    trusted = run([*args, "--trust-checkpoint"], env=without_opt_in())
    assert mark.exists() and len(opt_in_lines(trusted, path)) == 1
    assert "(--trust-checkpoint)" in opt_in_lines(trusted, path)[0] and (tmp_path / "out" / "results.json").exists()
    mark.unlink()


def test_weam_retrieval(checkpoints, tmp_path):
    path, mark = checkpoints["evil_weam"], marker(checkpoints, "weam")
    args = [tool("weam-retrieval"), path, "--data", checkpoints["data"], "--max-sentences", "8",
            "--output", tmp_path / "report.json"]
    refused = run(args, env=without_opt_in(), check=False)
    assert_refused(refused, "weam-retrieval", path, "pass --trust-checkpoint")
    assert not mark.exists() and not (tmp_path / "report.json").exists()

    trusted = run([*args, "--trust-checkpoint"], env=without_opt_in())
    assert mark.exists() and len(opt_in_lines(trusted, path)) == 1 and (tmp_path / "report.json").exists()
    mark.unlink()


def test_genuine_checkpoints_load_in_the_commands_without_opt_in(checkpoints, tmp_path):
    retrieval = run([tool("weam-retrieval"), checkpoints["weam"], "--data", checkpoints["data"], "--max-sentences", "8",
         "--output", tmp_path / "report.json"], env=without_opt_in())
    proc = run([tool("weam-evaluate"), "--checkpoint", checkpoints["classifier"], "--task-dir",
                checkpoints["task_dir"], "--spm-model", checkpoints["spm_model"], "--dict", checkpoints["dictionary"],
                "--out-dir", tmp_path / "out", "--limit", "8", "--no-generalized"], env=without_opt_in())
    for done in (retrieval, proc):
        assert "unpickling in full" not in done.stdout + done.stderr
