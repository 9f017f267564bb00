"""fairseq under torch >= 2.6 saves checkpoints it cannot resume; the plugin makes resume work."""
import re

import pytest
from weam_testing import TINY_ROBERTA, USER_DIR, random_sentences, run, tool, write_lines

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mlm_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlm")
    write_lines(root / "train.txt", random_sentences(200, seed=1))
    write_lines(root / "valid.txt", random_sentences(80, seed=2))
    run([tool("fairseq-preprocess"), "--only-source", "--trainpref", root / "train.txt",
         "--validpref", root / "valid.txt", "--destdir", root / "bin", "--workers", "1"])
    return root / "bin"


def train_masked_lm(data, save_dir, max_update, user_dir=True, check=True):
    args = [tool("fairseq-train"), data, "--task", "masked_lm", "--criterion", "masked_lm",
            *TINY_ROBERTA, "--tokens-per-sample", "32", "--batch-size", "8", "--optimizer", "adam",
            "--lr", "1e-3", "--max-update", max_update, "--save-dir", save_dir, "--cpu",
            "--log-format", "simple", "--log-interval", "1", "--no-epoch-checkpoints", "--seed", "3",
            "--num-workers", "0"]
    if user_dir:
        args += ["--user-dir", USER_DIR]
    return run(args, check=check)


def logged_updates(output):
    return [int(n) for n in re.findall(r"num_updates (\d+)", output)]


def test_resume_continues_from_checkpoint_last(mlm_data, tmp_path):
    save_dir = tmp_path / "ckpt"
    first = train_masked_lm(mlm_data, save_dir, 4)
    assert (save_dir / "checkpoint_last.pt").exists(), first.stderr[-2000:]

    resumed = train_masked_lm(mlm_data, save_dir, 8)
    log = resumed.stdout + resumed.stderr
    assert "Loaded checkpoint" in log and "(epoch" in log
    updates = logged_updates(log)
    # The resumed run continues at update 5, it does not start again from 1.
    assert updates and min(updates) > 4 and max(updates) == 8


def test_without_plugin_fairseq_cannot_resume(mlm_data, tmp_path):
    """Documents the upstream breakage the plugin repairs (DESIGN.md §7)."""
    save_dir = tmp_path / "ckpt"
    train_masked_lm(mlm_data, save_dir, 2)
    failed = train_masked_lm(mlm_data, save_dir, 4, user_dir=False, check=False)
    assert failed.returncode != 0
    assert "weights_only" in failed.stderr.lower() or "Weights only load failed" in failed.stderr
