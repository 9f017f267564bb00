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


def train_masked_lm(data, save_dir, max_update, user_dir=True, check=True, extra=("--no-epoch-checkpoints",)):
    args = [tool("fairseq-train"), data, "--task", "masked_lm", "--criterion", "masked_lm",
            *TINY_ROBERTA, "--tokens-per-sample", "32", "--batch-size", "8", "--optimizer", "adam",
            "--lr", "1e-3", "--max-update", max_update, "--save-dir", save_dir, "--cpu",
            "--log-format", "simple", "--log-interval", "1", "--seed", "3", "--num-workers", "0", *extra]
    if user_dir:
        args += ["--user-dir", USER_DIR]
    return run(args, check=check)


def logged_updates(output):
    return [int(n) for n in re.findall(r"num_updates[= ](\d+)", output)]


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


def test_a_truncated_checkpoint_last_falls_back_to_the_newest_intact_checkpoint(mlm_data, tmp_path):
    """A kill during fairseq's copy to checkpoint_last.pt leaves it truncated beside intact checkpoints."""
    save_dir = tmp_path / "ckpt"
    interval = ("--save-interval-updates", "2")
    train_masked_lm(mlm_data, save_dir, 4, extra=interval)
    last = save_dir / "checkpoint_last.pt"
    assert (save_dir / "checkpoint_1_2.pt").exists() and (save_dir / "checkpoint_1_4.pt").exists()
    with open(last, "r+b") as f:
        f.truncate(last.stat().st_size // 2)

    resumed = train_masked_lm(mlm_data, save_dir, 6, extra=interval)
    log = resumed.stdout + resumed.stderr
    warnings = [line for line in log.splitlines() if "WARNING" in line and str(last) in line]
    assert len(warnings) == 1 and f"resuming from {save_dir / 'checkpoint_1_4.pt'}" in warnings[0], log[-3000:]
    assert f"Loaded checkpoint {save_dir / 'checkpoint_1_4.pt'} (epoch 1 @ 4 updates)" in log
    assert sorted(set(logged_updates(log))) == [5, 6]


def test_a_truncated_checkpoint_last_alone_is_one_clear_error(mlm_data, tmp_path):
    save_dir = tmp_path / "ckpt"
    train_masked_lm(mlm_data, save_dir, 2)
    for path in save_dir.glob("*.pt"):
        path.write_bytes(path.read_bytes()[:1000])
    failed = train_masked_lm(mlm_data, save_dir, 4, check=False)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert failed.stderr.rstrip().splitlines()[-1] == (
        f"fairseq-train: error: {save_dir / 'checkpoint_last.pt'} is not a complete archive (File is not a zip "
        "file) and no intact checkpoint is beside it: remove it to start training from scratch")
