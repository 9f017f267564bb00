"""Encoding reads its input a few batches ahead of the results, never the whole split. The align stages of consecutive pairs overlap: the first pair's aligner runs while the other pairs encode
(and the dictionary is counted); pair k+1's words are written while pair k's aligner runs, and
pair k+1's aligner runs while pair k's links are projected and binarized. The output is that of aligning each
pair alone; an error in pair k ends pair k+1's aligner and leaves no temporary files."""
import json
import os
import signal
import sys
import time
from collections import Counter

import pytest
from test_prepare_pipeline import config, make_raw

from fairseq_weam.align.external_tool import AlignerError
from fairseq_weam.prepare.piece_alignment import PairAlignment, align_pair
from fairseq_weam.prepare.pipeline import prepare

# fast_align's command line; links between equal words (case-insensitive). Every run is logged (one line: its
# pid) in CALLS; run number BAD_RUN writes a link outside the sentence, run number SLOW_RUN waits (ended by the
# pipeline), every other run takes SECONDS.
FAKE = f"""#!{sys.executable}
import os, sys, time
calls = os.environ["FAKE_CALLS"]
with open(calls, "a") as f:
    f.write(f"{{os.getpid()}}\\n")
run = len(open(calls).read().split())
if run == int(os.environ.get("FAKE_SLOW_RUN", 0)):
    time.sleep(120)
time.sleep(float(os.environ.get("FAKE_SECONDS", 0)))
path = sys.argv[sys.argv.index("-i") + 1]
for line in open(path, encoding="utf-8"):
    src, tgt = (side.split() for side in line.split(" ||| "))
    links = [f"{{i}}-{{j}}" for i, s in enumerate(src) for j, t in enumerate(tgt) if s.lower() == t.lower()]
    if run == int(os.environ.get("FAKE_BAD_RUN", 0)):
        links.append(f"0-{{len(tgt) + 5}}")
    print(" ".join(links))
"""


def fake_aligner(tmp_path, monkeypatch, **env):
    path = tmp_path / "fast_align"
    path.write_text(FAKE)
    path.chmod(0o755)
    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls.txt"))
    for key, value in env.items():
        monkeypatch.setenv(f"FAKE_{key.upper()}", str(value))
    return str(path)


@pytest.mark.slow
def test_next_pair_aligns_while_this_one_is_projected(tmp_path, monkeypatch):
    make_raw(tmp_path / "RAW", pairs=(("en", "de"), ("en", "fr")))
    fake = fake_aligner(tmp_path, monkeypatch, seconds=1.0)
    prepare(config(tmp_path, aligner="fast_align", fast_align_bin=fake, workers=2, aligner_input="pieces"),
            log=lambda *_: None)  # (with the text the aligners are queued before sentencepiece: test_prepare_text_words)
    data = tmp_path / "DATA"
    steps = {name: (a, b) for name, a, b in json.loads((data / "prep_report.json").read_text())["timeline"]}
    assert steps["aligner:en-de"][0] <= steps["encode:en-fr"][0]  # en-de aligns while en-fr encodes
    assert steps["words:en-fr"][1] <= steps["aligner:en-de"][1]  # written while en-de's aligner ran
    assert steps["words:en-fr"][0] <= steps["dict"][0]  # as soon as en-fr was encoded
    assert steps["aligner:en-fr"][0] <= steps["project:en-de"][0]  # started before en-de's links were projected
    assert steps["aligner:en-fr"][1] > steps["project:en-de"][0]
    for pair in ("en-de", "en-fr"):  # the same links as aligning the pair alone
        pieces = data / ".work" / "pieces"
        ins = {s: [pieces / f"{s}.{pair}.{lang}" for lang in pair.split("-")] for s in ("train", "valid")}
        alone = {s: tmp_path / f"{s}.{pair}.alone" for s in ins}
        align_pair(ins, alone, config(tmp_path, aligner="fast_align", fast_align_bin=fake), tmp_path, pair.split("-"))
        for s in ins:
            assert alone[s].read_bytes() == (pieces / f"{s}.{pair}.align").read_bytes(), (pair, s)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_an_error_in_this_pair_ends_the_next_pairs_aligner(tmp_path, monkeypatch):
    make_raw(tmp_path / "RAW", pairs=(("en", "de"), ("en", "fr")))
    # runs 1 and 2: en-de forward and reverse (forward bad); run 3: en-fr forward, still running at the error
    fake = fake_aligner(tmp_path, monkeypatch, bad_run=1, slow_run=3)
    calls, finish = tmp_path / "calls.txt", PairAlignment.finish

    def finish_once_run_3_runs(self, out_paths):  # en-de's links are read once en-fr's aligner has logged its pid
        deadline = time.monotonic() + 60
        while len(calls.read_text().split()) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        return finish(self, out_paths)

    monkeypatch.setattr(PairAlignment, "finish", finish_once_run_3_runs)
    began = time.monotonic()
    with pytest.raises(AlignerError, match="wrote unusable links"):
        prepare(config(tmp_path, aligner="fast_align", fast_align_bin=fake, workers=2), log=lambda *_: None)
    assert time.monotonic() - began < 100  # not waiting for the slow run
    pids = [int(p) for p in (tmp_path / "calls.txt").read_text().split()]
    assert len(pids) == 3
    try:
        assert not _alive(pids[2])
    finally:
        if _alive(pids[2]):
            os.kill(pids[2], signal.SIGKILL)
    work = tmp_path / "DATA" / ".work"
    assert not list(work.glob("weam-align-*")) and not list(work.rglob("*.partial"))
    assert not (work / "pieces" / "train.en-de.align").exists()


def test_encoding_reads_a_few_batches_ahead(tmp_path):
    from weam_testing import random_sentences, write_lines

    from fairseq_weam.prepare import sentencepiece_model
    from fairseq_weam.prepare.worker_pool import WorkerPool

    text = tmp_path / "text"
    write_lines(text, random_sentences(200, vocab_size=30, seed=1))
    model = tmp_path / "m.model"
    sentencepiece_model.train_sentencepiece([text], model, vocab_size=60)
    read = []

    def batches():
        for b in range(200):  # 10 rows each, as columns: source, target, line numbers
            rows = range(10 * b, 10 * b + 10)
            read.extend(rows)
            yield [[f"w{k % 7} w{k % 5}\n" for k in rows], [f"w{k % 3}\n" for k in rows], [f"{k + 1}\n" for k in rows]]

    with WorkerPool(2) as pool:
        encoded = sentencepiece_model.encode_batches(model, batches(), pool=pool)
        texts, counts, piece_counts = next(encoded)
        time.sleep(1.0)  # a reader that runs ahead would now have read everything
        assert counts["in"] == counts["out"] == 10 and len(texts) == 3 and texts[2] == "".join(f"{k}\n" for k in range(1, 11))
        assert texts[0].splitlines()[0].replace(" ", "").replace("▁", "") == "w0w0"
        assert len(read) <= 10 * (2 * 2 + 2), len(read)  # the batches in flight and the next one
        assert all(piece_counts[side] == Counter(texts[side].split()) for side in (0, 1))
        assert sum(counts["in"] for _, counts, _ in encoded) == 1990
