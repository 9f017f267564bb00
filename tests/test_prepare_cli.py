"""``weam-prepare`` from the command line, and its output read by fairseq's own alignment loader."""
import re

import pytest
from test_prepare_pipeline import make_raw
from weam_testing import run, tool


@pytest.mark.slow
def test_weam_prepare_output_trains_transformer_align(tmp_path):
    make_raw(tmp_path / "RAW", pairs=(("en", "de"), ("en", "fr")), n_train=80, n_valid=32)
    args = [tool("weam-prepare"), "--raw-dir", tmp_path / "RAW", "--dest-dir", tmp_path / "DATA",
            "--vocab-size", "80", "--workers", "2"]
    proc = run(args)
    assert re.search(r"en-fr train: 80 -> 80 pairs \(dropped: none\); [\d.]+ links/sentence", proc.stdout)
    assert "time per stage: clean:en-de" in proc.stdout
    assert "Traceback" not in proc.stderr  # the encoding pool's workers end quietly (SIGTERM from the pool)
    again = run(args)
    assert again.stdout.count("skipped (outputs complete)") == 12  # clean, encode, unk, align, binarize x2; spm; dict

    proc = run([
        tool("fairseq-train"), tmp_path / "DATA", "--task", "translation", "--source-lang", "en", "--target-lang", "de",
        "--load-alignments", "--arch", "transformer_align", "--criterion", "label_smoothed_cross_entropy_with_alignment",
        "--encoder-layers", "1", "--decoder-layers", "1", "--encoder-embed-dim", "16", "--decoder-embed-dim", "16",
        "--encoder-ffn-embed-dim", "32", "--decoder-ffn-embed-dim", "32", "--encoder-attention-heads", "2",
        "--decoder-attention-heads", "2", "--alignment-layer", "0", "--optimizer", "adam", "--lr", "0.001",
        "--batch-size", "8", "--max-update", "2", "--cpu", "--num-workers", "0", "--no-save",
        "--save-dir", tmp_path / "ckpt", "--log-interval", "1", "--no-progress-bar",
    ])
    log = proc.stdout + proc.stderr
    assert "loaded 80 examples from: " + str(tmp_path / "DATA/train.align.en-de") in log
    losses = [float(x) for x in re.findall(r"alignment_loss=([\d.]+)", log)]
    assert len(losses) == 2 and all(0 < x < 100 for x in losses)  # alignments reached the criterion
    assert "num_updates 2" in log


@pytest.mark.slow
def test_cli_errors_are_one_line_and_nonzero(tmp_path):
    raw = make_raw(tmp_path / "RAW", n_train=10, n_valid=4)
    (raw / "train.en-de.de").write_text("only one line\n")
    proc = run([tool("weam-prepare"), "--raw-dir", raw, "--dest-dir", tmp_path / "DATA"], check=False)
    assert proc.returncode == 1
    error = [line for line in proc.stderr.splitlines() if line.startswith("weam-prepare: error:")]
    assert len(error) == 1 and "has 10 lines and" in error[0] and "has 1 lines" in error[0]
    assert not (tmp_path / "DATA").exists()
