"""weam-translate: task files translated by a fairseq translation model trained on weam-prepare's bitext,
sacreBLEU scores against sacrebleu's own command line, and one-line errors."""
import json
import re
import subprocess

import pytest
import torch
from omegaconf import OmegaConf
from test_prepare_pipeline import make_raw
from weam_testing import USER_DIR, run, tool, write_lines

from fairseq_weam.cli import translate as translate_cli

#: A one-layer transformer: a few updates on CPU in seconds.
TINY_TRANSFORMER = [
    "--arch", "transformer", "--encoder-layers", "1", "--decoder-layers", "1", "--encoder-embed-dim", "16",
    "--decoder-embed-dim", "16", "--encoder-ffn-embed-dim", "32", "--decoder-ffn-embed-dim", "32",
    "--encoder-attention-heads", "2", "--decoder-attention-heads", "2", "--share-all-embeddings",
    "--max-source-positions", "64", "--max-target-positions", "64",
]


@pytest.fixture(scope="module")
def mt(tmp_path_factory):
    """(weam-prepare data dir, de->en checkpoint trained for a few updates on its bitext)."""
    base = tmp_path_factory.mktemp("mt")
    raw = make_raw(base / "RAW", pairs=(("en", "de"),), n_train=80, n_valid=16)
    for split in ("train", "valid"):  # word-for-word bitext: the links are known, no aligner run
        lines = (raw / f"{split}.en-de.en").read_text(encoding="utf-8").splitlines()
        write_lines(raw / f"{split}.en-de.align", [" ".join(f"{i}-{i}" for i in range(len(s.split()))) for s in lines])
    run([tool("weam-prepare"), "--raw-dir", raw, "--dest-dir", base / "DATA", "--vocab-size", "80",
         "--aligner", "precomputed", "--workers", "1"])
    run([tool("fairseq-train"), base / "DATA", "--user-dir", USER_DIR, "--task", "translation",
         "--source-lang", "de", "--target-lang", "en", *TINY_TRANSFORMER, "--optimizer", "adam", "--lr", "0.005",
         "--criterion", "label_smoothed_cross_entropy", "--batch-size", "16", "--max-update", "8",
         "--disable-validation", "--no-epoch-checkpoints", "--cpu", "--num-workers", "0",
         "--save-dir", base / "ckpt", "--seed", "1"])
    return base / "DATA", base / "ckpt" / "checkpoint_last.pt"


def one_line_error(capsys, argv):
    assert translate_cli.main([str(a) for a in argv]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("weam-translate: error: "), err
    return err[0]


@pytest.mark.slow
def test_task_file_keeps_labels_and_rows_and_decodes_like_fairseq_interactive(mt, tmp_path):
    data, checkpoint = mt
    rows = (data.parent  # the held-out German side of the bitext
             / "RAW" / "valid.en-de.de").read_text(encoding="utf-8").splitlines()[:9]
    labels = ["b", "a", "c", "a", "b", "c", "c", "a", "b"]
    pair_file = write_lines(tmp_path / "test-de.tsv", [f"{s}\t{rows[-1 - i]}\t{y}" for i, (s, y) in
                                                       enumerate(zip(rows, labels))])
    single_file = write_lines(tmp_path / "single-de.tsv", [f"{s}\t{y}" for s, y in zip(rows, labels)])
    common = ["--checkpoint", str(checkpoint), "--data-dir", str(data), "--batch-size", "1", "--beam", "3"]
    assert translate_cli.main(["task", str(pair_file), str(tmp_path / "out.tsv"), *common]) == 0
    assert translate_cli.main(["task", str(single_file), str(tmp_path / "single-out.tsv"), *common]) == 0
    pair_out = [line.split("\t") for line in (tmp_path / "out.tsv").read_text(encoding="utf-8").splitlines()]
    single_out = [line.split("\t") for line in (tmp_path / "single-out.tsv").read_text(encoding="utf-8").splitlines()]
    assert [len(f) for f in pair_out] == [3] * 9 and [len(f) for f in single_out] == [2] * 9
    assert [f[-1] for f in pair_out] == labels and [f[-1] for f in single_out] == labels

    # fairseq's own command line, one sentence a batch as above: the same translations in the same order
    proc = subprocess.run(
        [tool("fairseq-interactive"), str(data), "--user-dir", str(USER_DIR), "--path", str(checkpoint),
         "--source-lang", "de", "--target-lang", "en", "--bpe", "sentencepiece",
         "--sentencepiece-model", str(data / "sentencepiece.bpe.model"), "--beam", "3", "--max-len-a", "1.2",
         "--max-len-b", "10", "--batch-size", "1", "--buffer-size", "1", "--cpu"],
        input="".join(s + "\n" for s in rows), capture_output=True, text=True, check=True)
    expected = [" ".join(line.split("\t")[2].split()) if line.count("\t") == 2 else ""
                for line in proc.stdout.splitlines() if line.startswith("D-")]
    assert len(expected) == 9
    assert [f[0] for f in pair_out] == expected and [f[0] for f in single_out] == expected
    assert [f[1] for f in pair_out] == expected[::-1]


def test_scores_equal_sacrebleu_command_line(tmp_path, capsys):
    refs = ["Öffnen Sie die Datei.", "The quick brown fox jumps over the lazy dog.", "Ошибка: файл не найден",
            "Save as…", "Close the window"]
    hyps = ["Öffne die Datei.", "A quick brown fox jumped over a lazy dog.", "Ошибка: файл не найден",
            "Save…", "Close window now"]
    ref, hyp = write_lines(tmp_path / "ref.txt", refs), write_lines(tmp_path / "hyp.txt", hyps)
    assert translate_cli.main(["score", str(hyp), str(ref), "--json", str(tmp_path / "s.json")]) == 0
    printed = capsys.readouterr().out
    ours = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    theirs = json.loads(run([tool("sacrebleu"), ref, "-i", hyp, "-m", "bleu", "chrf", "-f", "json",
                             "-w", "6"]).stdout)
    for key, name in (("bleu", "BLEU"), ("chrf", "chrF2")):
        (cli,) = [m for m in theirs if m["name"] == name]
        assert ours[key]["score"] == pytest.approx(cli["score"], abs=1e-6)
        assert ours[key]["signature"] == cli["signature"]
        assert f"signature: {cli['signature']}" in printed
    assert 0 < ours["bleu"]["score"] < 100 and ours["segments"] == 5


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    ref = write_lines(tmp_path / "ref.txt", ["a b c", "d e f"])
    hyp = write_lines(tmp_path / "hyp.txt", ["a b c"])
    assert re.search(r"hyp.txt has 1 lines but .*ref.txt has 2", one_line_error(capsys, ["score", hyp, ref]))
    assert "no such file" in one_line_error(capsys, ["score", tmp_path / "missing.txt", ref])
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9\n")
    assert "latin1.txt:1: bytes that are not UTF-8" in one_line_error(capsys, ["score", tmp_path / "latin1.txt", hyp])

    model = ["--checkpoint", tmp_path / "none.pt", "--data-dir", tmp_path]
    bad = write_lines(tmp_path / "bad.tsv", ["a\tb\t0", "a\tb\tc\t1"])
    assert "bad.tsv:2: expected 3 tab-separated columns" in one_line_error(capsys, ["task", bad, tmp_path / "o", *model])
    mixed = write_lines(tmp_path / "mixed.tsv", ["a\tb\t0", "a\t1"])
    assert "mixed.tsv:2: 2 columns, but line 1 has 3" in one_line_error(capsys, ["task", mixed, tmp_path / "o", *model])
    good = write_lines(tmp_path / "good.tsv", ["a\t0"])
    assert "none.pt: no such checkpoint file" in one_line_error(capsys, ["task", good, tmp_path / "o", *model])
    (tmp_path / "garbage.pt").write_bytes(b"\x80\x02not a checkpoint")
    (tmp_path / "sentencepiece.bpe.model").write_bytes(b"")
    message = one_line_error(capsys, ["text", good, tmp_path / "o", "--checkpoint", tmp_path / "garbage.pt",
                                      "--data-dir", tmp_path])
    assert "garbage.pt is not a readable fairseq checkpoint" in message
    torch.save({"cfg": OmegaConf.create({"task": {"_name": "masked_lm"}, "model": {"_name": "roberta"},
                                         "dataset": {"batch_size": 1}}),
                "model": {}, "args": None, "extra_state": {"epoch": 1},
                "optimizer_history": [{"criterion_name": "masked_lm", "optimizer_name": "adam",
                                       "lr_scheduler_state": {"best": None}, "num_updates": 0}]},
               tmp_path / "mlm.pt")
    message = one_line_error(capsys, ["text", good, tmp_path / "o", "--checkpoint", tmp_path / "mlm.pt",
                                      "--data-dir", tmp_path])
    assert "mlm.pt was trained with --task masked_lm, not translation" in message
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_wrong_data_dir_is_one_line_error(mt, tmp_path, capsys):
    data, checkpoint = mt
    good = write_lines(tmp_path / "good.tsv", ["a\t0"])
    message = one_line_error(capsys, ["task", good, tmp_path / "o", "--checkpoint", checkpoint, "--data-dir", tmp_path,
                                      "--spm-model", data / "sentencepiece.bpe.model"])
    assert f"{tmp_path} has no dict.de.txt" in message
    assert not (tmp_path / "o").exists()
