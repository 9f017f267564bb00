"""weam-xtreme-prepare: layout, label ids, generalized subsets, truncation, and every bad input."""
import json

import pytest
from fairseq.data import Dictionary, data_utils

from fairseq_weam.cli import xtreme_prepare
from weam_testing import run, tool, write_lines
from xtreme_testing import tiny_prepared


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return tiny_prepared(tmp_path_factory.getbasetemp() / "xtreme")


@pytest.fixture(scope="module")
def spm_files(prepared):
    return prepared[1], prepared[2]


def load(bin_dir, column, subset):
    d = Dictionary.load(str(bin_dir / column / "dict.txt"))
    return d, data_utils.load_indexed_dataset(str(bin_dir / column / subset), d)


@pytest.mark.slow
def test_layout_labels_and_generalized_pairs(prepared):
    task_dir, _, _, bin_dir = prepared
    report = json.loads((bin_dir / "prepare_report.json").read_text())
    expected = ["valid", "test.en", "test.de", "test.fr", "test.en-de", "test.en-fr", "test.de-en",
                "test.de-fr", "test.fr-en", "test.fr-de"]
    assert report["valid_subsets"] == expected
    for subset in ["train"] + expected:
        for column in ("input0", "input1", "label"):
            assert (bin_dir / column / f"{subset}.bin").exists(), (column, subset)
    # Labels: fixed dictionary, same ids everywhere, matching the raw file row by row.
    label_dict, labels = load(bin_dir, "label", "test.de-fr")
    assert [label_dict[i] for i in range(label_dict.nspecial, len(label_dict))] == ["0", "1"]
    raw = [line.split("\t") for line in (task_dir / "test-de.tsv").read_text().splitlines()]
    assert [label_dict[int(t[0])] for t in labels] == [r[2] for r in raw]
    # Generalized: sentence1 from de, sentence2 from fr, row by row.
    d, de_fr0 = load(bin_dir, "input0", "test.de-fr")
    _, de0 = load(bin_dir, "input0", "test.de")
    _, de_fr1 = load(bin_dir, "input1", "test.de-fr")
    _, fr1 = load(bin_dir, "input1", "test.fr")
    assert len(de_fr0) == len(raw) == len(fr1)
    for i in range(len(raw)):
        assert de_fr0[i].tolist() == de0[i].tolist() and de_fr1[i].tolist() == fr1[i].tolist()
    assert d.unk() not in de0[0].tolist()


@pytest.mark.slow
def test_truncation_bounds_the_pair(tmp_path, spm_files):
    task = tmp_path / "task"
    long = " ".join(["w1 w2 good movie"] * 30)
    rows = [f"{long}\tw3 fine\t1", "w4 w5\tw4 w6\t0"] * 4
    for name in ("train-en", "dev-en", "test-en"):
        write_lines(task / f"{name}.tsv", rows)
    run([tool("weam-xtreme-prepare"), task, "--destdir", tmp_path / "bin", "--spm-model", spm_files[0],
         "--dict", spm_files[1], "--task", "pawsx", "--max-len", "20"])
    _, a = load(tmp_path / "bin", "input0", "train")
    _, b = load(tmp_path / "bin", "input1", "train")
    assert len(a[0]) - 1 + len(b[0]) - 1 == 20 - 4  # pieces without </s>, plus 4 specials = max-len
    report = json.loads((tmp_path / "bin" / "prepare_report.json").read_text())
    assert report["subsets"]["train"]["truncated"] == 4


BAD_INPUTS = [
    ("test-de.tsv", "w1 w2\tw3 w4\n", "test-de.tsv:1: no label"),
    ("test-de.tsv", "w1 w2\tw3 w4\tmaybe\n", "test-de.tsv:1: unknown label 'maybe'"),
    ("train-en.tsv", "w1\tw2\t0\nw1\tw2\tw3\t1\n", "train-en.tsv:2: expected 3"),
    ("dev-en.tsv", "w1\tw2\t0\n\n", "dev-en.tsv:2: empty line"),
    ("test-fr.tsv", "w1\tw2\t0\n", "test-en.tsv has 4 rows but test-fr.tsv has 1"),
    ("test-fr.tsv", "w1\tw2\t1\nw1\tw2\t0\nw1\tw2\t0\nw1\tw2\t0\n", "line 1 is labelled '0'"),
    ("dev-en.tsv", b"w1\t\xff\t0\n", "dev-en.tsv:1: bytes that are not UTF-8"),
]


@pytest.mark.parametrize("name,content,message", BAD_INPUTS)
def test_bad_input_is_an_error_naming_file_and_line(tmp_path, capsys, spm_files, name, content, message):
    task = tmp_path / "task"
    for base in ("train-en", "dev-en", "test-en", "test-de", "test-fr"):
        write_lines(task / f"{base}.tsv", ["w1\tw2\t0"] * 4)
    path = task / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert xtreme_prepare.main([str(task), "--destdir", str(tmp_path / "bin"), "--spm-model", str(spm_files[0]),
                                "--dict", str(spm_files[1]), "--task", "pawsx"]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "bin").exists(), "nothing may be written on error"


def test_cli_exit_status_on_error(tmp_path, spm_files):
    write_lines(tmp_path / "task" / "train-en.tsv", ["a\tb\tneutral"])
    proc = run([tool("weam-xtreme-prepare"), tmp_path / "task", "--destdir", tmp_path / "bin", "--spm-model",
                spm_files[0], "--dict", spm_files[1], "--task", "pawsx"], check=False)
    assert proc.returncode != 0 and "train-en.tsv:1: unknown label 'neutral'" in proc.stderr
