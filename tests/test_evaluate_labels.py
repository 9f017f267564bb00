"""weam-evaluate and the label order: the model's class ids mean what its fine-tuning label dictionary said."""
import tempfile

import pytest
import torch
from fairseq import checkpoint_utils

from fairseq_weam.evaluation.classifier import CheckpointMismatchError, load_checkpoint
from fairseq_weam.evaluation.suite import EvaluationSettings, run_evaluation
from weam_testing import run, tool
from xtreme_testing import tiny_finetuned


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
    (task_dir, spm_model, dictionary, bin_dir), ckpt = tiny_finetuned(tmp_path_factory.getbasetemp() / "xtreme")
    return dict(checkpoint=str(ckpt), task_dir=str(task_dir), spm_model=str(spm_model),
                dictionary=str(dictionary)), bin_dir


def evaluate_cli(files, out, *extra):
    return run([tool("weam-evaluate"), "--checkpoint", files["checkpoint"], "--task-dir", files["task_dir"],
                "--spm-model", files["spm_model"], "--dict", files["dictionary"], "--out-dir", out,
                "--no-generalized", "--langs", "en", *extra], check=False)


def test_reversed_label_order_is_refused_naming_both_orders(finetuned, tmp_path):
    files, _ = finetuned
    proc = evaluate_cli(files, tmp_path / "out", "--labels", "1,0")
    assert proc.returncode == 1, proc.stdout
    lines = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and "1,0" in lines[0] and "0,1" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


def test_model_label_order_is_the_default_and_the_same_order_is_accepted(finetuned):
    files, _ = finetuned
    quiet = dict(progress=lambda m: None)
    default = run_evaluation(EvaluationSettings(**files, generalized=False, langs=["en"]), **quiet)
    given = run_evaluation(EvaluationSettings(**files, labels=["0", "1"], generalized=False, langs=["en"]), **quiet)
    assert default["settings"]["labels"] == ["0", "1"]
    assert default["standard"]["accuracy"]["en"] == given["standard"]["accuracy"]["en"] >= 90.0


def relocated_checkpoint(files, path):
    """The checkpoint as if its fine-tuning data dir had been moved away."""
    state = checkpoint_utils.load_checkpoint_to_cpu(files["checkpoint"])
    state["cfg"].task.data = str(path.parent / "moved-away")
    torch.save(state, path)
    return str(path)


def test_missing_label_dictionary_says_what_to_pass(finetuned, tmp_path):
    files, bin_dir = finetuned
    moved = {**files, "checkpoint": relocated_checkpoint(files, tmp_path / "moved.pt")}
    proc = evaluate_cli(moved, tmp_path / "out", "--labels", "0,1")
    assert proc.returncode == 1 and "cannot find the label dictionary" in proc.stderr
    assert "--label-dict" in proc.stderr and "Traceback" not in proc.stderr
    proc = evaluate_cli(moved, tmp_path / "out", "--label-dict", bin_dir / "label" / "dict.txt", "--labels", "1,0")
    assert proc.returncode == 1 and "0,1" in proc.stderr and "1,0" in proc.stderr
    proc = evaluate_cli(moved, tmp_path / "out", "--label-dict", bin_dir / "label" / "dict.txt")
    assert proc.returncode == 0, proc.stderr


def test_classifier_is_built_without_a_temporary_data_dir(finetuned, monkeypatch):
    """The model comes from the checkpoint's cfg and the given dictionaries; nothing is written to disk."""
    files, _ = finetuned

    def forbidden(*args, **kwargs):
        raise AssertionError("evaluation created a temporary directory")

    monkeypatch.setattr(tempfile, "mkdtemp", forbidden)
    monkeypatch.setattr(tempfile, "TemporaryDirectory", forbidden)
    model, task, _, head, labels = load_checkpoint(files["checkpoint"], files["dictionary"], ["0", "1"])
    assert labels == ["0", "1"] and head == "sentence_classification_head"
    assert len(task.source_dictionary) == model.encoder.sentence_encoder.embed_tokens.weight.shape[0]
    with pytest.raises(CheckpointMismatchError, match="0,1"):
        load_checkpoint(files["checkpoint"], files["dictionary"], ["1", "0"])
