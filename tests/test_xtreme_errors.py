"""weam-xtreme-prepare / weam-evaluate: a missing sentencepiece model is one line; binarizing is atomic."""
import json

from fairseq_weam.cli import evaluate, xtreme_prepare
from fairseq_weam.xtreme.binarize import prepare
from weam_testing import write_lines
from xtreme_testing import tiny_prepared


def test_missing_spm_model_is_one_line(tmp_path, capsys):
    for base in ("train-en", "dev-en", "test-en"):
        write_lines(tmp_path / "task" / f"{base}.tsv", ["w1\tw2\t0"] * 4)
    write_lines(tmp_path / "dict.txt", ["w1 1"])
    missing = tmp_path / "nowhere" / "sentencepiece.bpe.model"
    assert xtreme_prepare.main([str(tmp_path / "task"), "--destdir", str(tmp_path / "bin"), "--spm-model",
                                str(missing), "--dict", str(tmp_path / "dict.txt"), "--task", "pawsx"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--spm-model {missing}: no such file" in err[0], err
    assert not (tmp_path / "bin").exists()
    assert evaluate.main(["--checkpoint", str(tmp_path / "ckpt.pt"), "--task-dir", str(tmp_path / "task"),
                          "--spm-model", str(missing), "--dict", str(tmp_path / "dict.txt"),
                          "--out-dir", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("weam-evaluate: error: --spm-model") and "no such file" in err[0]
    (tmp_path / "not-a-model").write_text("hello\n")
    assert xtreme_prepare.main([str(tmp_path / "task"), "--destdir", str(tmp_path / "bin"), "--spm-model",
                                str(tmp_path / "not-a-model"), "--dict", str(tmp_path / "dict.txt"),
                                "--task", "pawsx"]) == 1
    assert "not a sentencepiece model" in capsys.readouterr().err


def test_binarize_replaces_a_stale_temporary_and_leaves_nothing_else(tmp_path_factory, tmp_path):
    """A killed run leaves ``.DEST.tmp`` (fairseq_weam.atomic's name); the next run replaces it."""
    task_dir, spm_model, dictionary, _ = tiny_prepared(tmp_path_factory.getbasetemp() / "xtreme")
    stale = tmp_path / ".bin.tmp"
    write_lines(stale / "input0" / "train.bin", ["half-written"])
    report = prepare(task_dir, tmp_path / "bin", spm_model, dictionary, ["0", "1"], langs=["en"],
                     generalized=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"]
    assert sorted(p.name for p in (tmp_path / "bin").iterdir()) == ["input0", "input1", "label",
                                                                    "prepare_report.json"]
    assert json.loads((tmp_path / "bin" / "prepare_report.json").read_text()) == report
    assert (tmp_path / "bin" / "label" / "dict.txt").read_text() == "0 1\n1 1\n"
