"""Which checkpoint a resume falls back to when checkpoint_last.pt is truncated (no training needed)."""
import os

import torch

from fairseq_weam.checkpoint_loading import archive_problem, newest_intact_checkpoint


def save(path, mtime, truncate=False):
    torch.save({"w": torch.zeros(64)}, path)
    if truncate:
        path.write_bytes(path.read_bytes()[:200])
    os.utime(path, ns=(mtime, mtime))


def test_latest_by_training_progress_then_other_names_by_time(tmp_path):
    save(tmp_path / "checkpoint_1_5.pt", 1)
    save(tmp_path / "checkpoint1.pt", 2)           # end of epoch 1: after every checkpoint_1_U
    save(tmp_path / "checkpoint_2_10.pt", 3, truncate=True)
    save(tmp_path / "checkpoint_best.pt", 9)       # newest file, but not named by progress
    save(tmp_path / "checkpoint_last.pt", 10, truncate=True)
    assert archive_problem(tmp_path / "checkpoint_last.pt") and archive_problem(tmp_path / "checkpoint1.pt") is None
    assert newest_intact_checkpoint(tmp_path) == tmp_path / "checkpoint1.pt"
    (tmp_path / "checkpoint1.pt").unlink()
    assert newest_intact_checkpoint(tmp_path) == tmp_path / "checkpoint_1_5.pt"
    (tmp_path / "checkpoint_1_5.pt").unlink()
    assert newest_intact_checkpoint(tmp_path) == tmp_path / "checkpoint_best.pt"
    (tmp_path / "checkpoint_best.pt").unlink()
    assert newest_intact_checkpoint(tmp_path) is None


def test_sharded_suffix(tmp_path):
    save(tmp_path / "checkpoint_1_4-shard0.pt", 1)
    save(tmp_path / "checkpoint_1_6-shard1.pt", 2)
    save(tmp_path / "checkpoint_last-shard0.pt", 3, truncate=True)
    assert newest_intact_checkpoint(tmp_path, "-shard0") == tmp_path / "checkpoint_1_4-shard0.pt"


def test_pre_1_6_pickle_format_is_not_taken_for_corrupt(tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save({"w": torch.zeros(4)}, path, _use_new_zipfile_serialization=False)
    assert archive_problem(path) is None
