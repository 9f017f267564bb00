"""Single-sentence tasks (``sentence \\t label``): binarize without input1, fine-tune with fairseq's
sentence_prediction on input0 alone, evaluate (no generalized matrix), attack and augment sentence1 only."""
import json

import pytest
from fairseq.data import Dictionary, data_utils

from fairseq_weam.cli import xtreme_prepare
from fairseq_weam.evaluation.attacks import synonym_attack
from fairseq_weam.evaluation.classifier import PairClassifier
from fairseq_weam.robust.synonym_substitution import SynonymSubstituter
from fairseq_weam.xtreme.augment import augment
from fairseq_weam.xtreme.io import PairExample, XtremeDataError, read_pairs
from weam_testing import run, tool, write_lines
from xtreme_testing import finetune_args, pair_rows, train_spm, translate

LABELS = ["0", "1"]


def write_single_task(path):
    """The toy task of xtreme_testing with sentence2 dropped: the label word is in sentence1."""
    write_lines(path / "train-en.tsv", [f"{a}\t{y}" for a, _, y in pair_rows(192, 1)])
    write_lines(path / "dev-en.tsv", [f"{a}\t{y}" for a, _, y in pair_rows(64, 2)])
    test = pair_rows(48, 3)
    for lang in ("en", "de", "fr"):
        write_lines(path / f"test-{lang}.tsv", [f"{a}\t{y}" for a, _, y in translate(test, lang)])
    return path


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    base = tmp_path_factory.mktemp("single")
    task = write_single_task(base / "task")
    spm_model, dictionary = train_spm(base / "spm", task)
    run([tool("weam-xtreme-prepare"), task, "--destdir", base / "bin", "--spm-model", spm_model,
         "--dict", dictionary, "--task", "pawsx", "--max-len", "8"])
    return base, task, spm_model, dictionary


def test_binarized_input0_only_truncated_to_max_len(single):
    base, task, spm_model, dictionary = single
    assert sorted(p.name for p in (base / "bin").iterdir() if p.is_dir()) == ["input0", "label"]
    report = json.loads((base / "bin" / "prepare_report.json").read_text())
    assert report["single_sentence"] is True
    assert set(report["subsets"]) == {"train", "valid", "test.en", "test.de", "test.fr"}   # no test.l1-l2
    import sentencepiece as spm
    proc = spm.SentencePieceProcessor(model_file=str(spm_model))
    d = Dictionary.load(str(dictionary))
    dataset = data_utils.load_indexed_dataset(str(base / "bin" / "input0" / "train"), d)
    rows = read_pairs(task / "train-en.tsv", LABELS)
    for i, ex in enumerate(rows):
        expected = proc.encode(ex.sentence1, out_type=str)[:8 - 2]   # <s> x </s> within --max-len 8
        assert d.string(dataset[i][:-1]).split() == expected
    assert report["subsets"]["train"]["truncated"] == sum(len(proc.encode(ex.sentence1)) > 6 for ex in rows) > 0


def test_mixed_columns_are_an_error_naming_file_and_line(tmp_path, capsys, single):
    _, task, spm_model, dictionary = single
    bad = tmp_path / "task"
    write_single_task(bad)
    write_lines(bad / "dev-en.tsv", ["w1 good\t1", "w2 bad\tw3\t0"])
    assert xtreme_prepare.main([str(bad), "--destdir", str(tmp_path / "bin"), "--spm-model", str(spm_model),
                                "--dict", str(dictionary), "--task", "pawsx"]) == 1
    assert "dev-en.tsv:2: 3 columns, but line 1 has 2" in capsys.readouterr().err
    write_lines(bad / "dev-en.tsv", ["w1 good\tw9\t1"])
    assert xtreme_prepare.main([str(bad), "--destdir", str(tmp_path / "bin"), "--spm-model", str(spm_model),
                                "--dict", str(dictionary), "--task", "pawsx"]) == 1
    assert "dev-en.tsv is sentence-pair (3 columns) but train-en.tsv is single-sentence" in capsys.readouterr().err
    assert not (tmp_path / "bin").exists()


@pytest.mark.slow
def test_finetune_and_evaluate_end_to_end(single, tmp_path):
    base, task, spm_model, dictionary = single
    run(finetune_args(base / "bin", tmp_path / "ckpt", max_update=150))
    ckpt = tmp_path / "ckpt" / "checkpoint_best.pt"
    neighbours = tmp_path / "n.json"
    neighbours.write_text(json.dumps({"good": ["nice"], "bad": ["poor"]}))
    run([tool("weam-evaluate"), "--checkpoint", ckpt, "--task-dir", task, "--spm-model", spm_model,
         "--dict", dictionary, "--out-dir", tmp_path / "eval", "--neighbours", neighbours,
         "--attack-budget", "1", "--pgd-eps", "2.0", "--pgd-steps", "2"])
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results["task_kind"] == "single_sentence"
    assert results["generalized"] is None and "single-sentence" in results["generalized_skipped"]
    assert "Generalized setting skipped" in (tmp_path / "eval" / "results.md").read_text()
    assert results["standard"]["accuracy"]["en"] >= 90.0, "the label word is in the only sentence"
    assert results["synonym_attack"]["accuracy"]["en"] < results["synonym_attack"]["clean_accuracy"]["en"]
    # The classifier's input is what fairseq's sentence_prediction builds from input0 alone: <s> x </s>.
    classifier = PairClassifier.from_checkpoint(ckpt, spm_model, dictionary)
    import sentencepiece as spm
    proc = spm.SentencePieceProcessor(model_file=str(spm_model))
    d = Dictionary.load(str(dictionary))
    ex = read_pairs(task / "test-en.tsv", LABELS)[0]
    expected = [0] + [d.index(p) for p in proc.encode(ex.sentence1, out_type=str)] + [2]
    assert classifier.tokens(ex).tolist() == expected
    attacked, changed, _ = synonym_attack(classifier, PairExample("good w1", None, "1"),
                                          SynonymSubstituter({"good": ["nice"]}), budget=1)
    assert attacked.sentence2 is None and changed <= 1


def test_augment_perturbs_sentence1_only():
    rows = [PairExample("good w1 film", None, "1")] * 3
    out = list(augment(rows, SynonymSubstituter({"good": ["nice"], "film": ["movie"]}), copies=4, seed=1))
    assert len(out) == 12 and all(ex.sentence2 is None and ex.label == "1" for ex in out)
    assert {ex.sentence1 for ex in out} <= {"good w1 film", "nice w1 film", "good w1 movie", "nice w1 movie"}
    assert any(ex.sentence1 != "good w1 film" for ex in out)
