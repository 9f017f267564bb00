"""weam-retrieval: the retrieval measures on hand-made states, and the command on a trained tiny checkpoint."""
import json
import shutil

import pytest
import torch
from fairseq.data import Dictionary

from fairseq_weam.text.pieces import word_start_table
from fairseq_weam.evaluation.retrieval import sentence_retrieval, word_retrieval, word_states
from weam_pair_data import make_aligned_data
from weam_testing import TINY_ROBERTA, USER_DIR, run, tool

WB = "\u2581"


def test_word_states_pool_the_pieces_of_each_word():
    d = Dictionary()
    for s in (f"{WB}a", "b", f"{WB}c"):
        d.add_symbol(s)
    pieces = torch.tensor([d.index(f"{WB}a"), d.index("b"), d.index(f"{WB}c")])
    states = torch.tensor([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0]])
    mean, words = word_states(states, pieces, word_start_table(d), "mean")
    assert words.tolist() == [0, 0, 1]
    assert torch.allclose(mean, torch.tensor([[2.0, 1.0], [5.0, 5.0]]))
    first, _ = word_states(states, pieces, word_start_table(d), "first")
    assert torch.allclose(first, torch.tensor([[1.0, 0.0], [5.0, 5.0]]))


def test_word_retrieval_counts_a_hit_when_the_nearest_word_is_linked():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = torch.tensor([[0.1, 1.0], [1.0, 0.1]])
    # x0 nearest y1 (linked: hit); x1 nearest y0 but linked to y1 only (miss); x2 has no link (not counted)
    assert word_retrieval(x, y, {(0, 1), (1, 1)}) == (1, 2)
    # a multi-link word is right if its nearest word is any of its links
    assert word_retrieval(x, y, {(1, 0), (1, 1)}) == (1, 1)
    assert word_retrieval(x, y, set()) == (0, 0)


def test_sentence_retrieval_is_top1_in_both_directions():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = torch.tensor([[1.0, 0.1], [0.9, 1.0], [0.1, 1.0]])
    # x->y: x0->y0 ok, x1->y2 wrong, x2->y1 wrong; y->x: y0->x0 ok, y1->x2 wrong, y2->x1 wrong
    assert sentence_retrieval(x, y) == pytest.approx((1 / 3, 1 / 3))
    assert sentence_retrieval(x, x) == pytest.approx((1.0, 1.0))


@pytest.mark.slow
def test_weam_retrieval_command_reports_every_pair(tmp_path):
    data = make_aligned_data(tmp_path, pairs=("en-de", "en-fr"), n_train=64, n_valid=40)
    run([tool("fairseq-train"), data, "--user-dir", USER_DIR, "--task", "weam", "--criterion", "weam",
         *TINY_ROBERTA, "--tokens-per-sample", "64", "--batch-size", "8", "--optimizer", "adam", "--lr", "1e-3",
         "--max-update", "2", "--save-dir", tmp_path / "ckpt", "--cpu", "--num-workers", "0",
         "--no-epoch-checkpoints"])
    out = tmp_path / "retrieval.json"
    proc = run([tool("weam-retrieval"), tmp_path / "ckpt" / "checkpoint_last.pt", "--data", data,
                "--max-sentences", "20", "--output", out])
    report = json.loads(out.read_text())
    assert set(report["pairs"]) == {"en-de", "en-fr"}
    for result in report["pairs"].values():
        assert result["sentences"] == 20 and result["aligned_words"] > 0
        for key in ("word_acc", "word_acc_x2y", "word_acc_y2x", "sentence_acc", "sentence_acc_x2y"):
            assert 0.0 <= result[key] <= 1.0
    expected = (report["pairs"]["en-de"]["word_acc"] + report["pairs"]["en-fr"]["word_acc"]) / 2
    assert report["average"]["word_acc"] == pytest.approx(expected)
    assert "average: word" in proc.stderr

    embeddings = run([tool("weam-retrieval"), tmp_path / "ckpt" / "checkpoint_last.pt", "--data", data,
                      "--max-sentences", "20", "--layer", "0", "--lang-pairs", "en-de"])
    report0 = json.loads(embeddings.stdout)
    assert list(report0["pairs"]) == ["en-de"] and report0["layer"] == 0

    missing = run([tool("weam-retrieval"), tmp_path / "ckpt" / "checkpoint_last.pt", "--data", data,
                   "--lang-pairs", "en-xx"], check=False)
    assert missing.returncode == 1 and "en-xx" in missing.stderr and "Traceback" not in missing.stderr

    # without alignments: an error naming the missing file, not "word 0.000"
    unaligned = tmp_path / "unaligned"
    shutil.copytree(data, unaligned, ignore=shutil.ignore_patterns("valid.align.*"))
    failed = run([tool("weam-retrieval"), tmp_path / "ckpt" / "checkpoint_last.pt", "--data", unaligned,
                  "--output", tmp_path / "none.json"], check=False)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr and "word 0.000" not in failed.stderr
    assert [line for line in failed.stderr.splitlines() if not line.startswith("INFO:")] == [
        f"weam-retrieval: error: {unaligned / 'valid.align.en-de'}.bin/.idx not found: the word alignments of "
        "en-de (valid) are needed; weam-prepare writes them (fairseq-preprocess --align-suffix align)"
    ]
    assert not (tmp_path / "none.json").exists()

    # a checkpoint of another vocabulary: one line naming both sizes and both files
    other = make_aligned_data(tmp_path / "bigger", n_words=40, n_train=40, n_valid=24)
    failed = run([tool("weam-retrieval"), tmp_path / "ckpt" / "checkpoint_last.pt", "--data", other], check=False)
    lines = [line for line in failed.stderr.splitlines() if not line.startswith("INFO:")]
    assert failed.returncode == 1 and len(lines) == 1, failed.stderr[-3000:]
    assert lines[0].startswith("weam-retrieval: error: vocabulary size mismatch")
    assert str(other / "dict.txt") in lines[0] and "checkpoint_last.pt has 73 token embeddings" in lines[0]
