"""weam-evaluate on a tiny fine-tuned model: results.json keys, markdown, PNGs, attacks, determinism, errors."""
import json
from pathlib import Path

import matplotlib.image
import pytest

from fairseq_weam.evaluation.classifier import CheckpointMismatchError
from fairseq_weam.evaluation.comparison import parse_run_specs, write_comparison
from fairseq_weam.evaluation.suite import EvaluationSettings, run_evaluation
from fairseq_weam.xtreme.io import XtremeDataError
from weam_testing import run, tool, write_lines
from xtreme_testing import tiny_finetuned

# "nice", "poor", ... never occur in training: substituting them is a real attack on the toy model.
NEIGHBOURS = {"good": ["nice", "w3"], "fine": ["ok"], "bad": ["poor", "w4"], "awful": ["terrible"]}


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
    (task_dir, spm_model, dictionary, _), ckpt = tiny_finetuned(tmp_path_factory.getbasetemp() / "xtreme")
    neighbours = tmp_path_factory.mktemp("nb") / "neighbours.json"
    neighbours.write_text(json.dumps(NEIGHBOURS))
    return dict(checkpoint=str(ckpt), task_dir=str(task_dir), spm_model=str(spm_model),
                dictionary=str(dictionary), labels=["0", "1"]), neighbours


@pytest.mark.slow
def test_cli_writes_json_markdown_and_plots(finetuned, tmp_path):
    files, neighbours = finetuned
    run([tool("weam-evaluate"), "--checkpoint", files["checkpoint"], "--task-dir", files["task_dir"],
         "--spm-model", files["spm_model"], "--dict", files["dictionary"], "--task", "pawsx", "--out-dir",
         tmp_path, "--smooth-copies", "3", "--smooth-sigma", "0.01", "--neighbours", neighbours,
         "--attack-budget", "1", "--pgd-eps", "2.0", "--pgd-steps", "3", "--batch-size", "8"])
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results) >= {"settings", "languages", "standard", "generalized", "smoothed", "synonym_attack",
                            "pgd_attack", "seconds"}
    assert results["languages"] == ["en", "de", "fr"]
    std = results["standard"]
    assert std["accuracy"]["en"] >= 90.0, "the toy model learned its task"
    assert std["average"] == pytest.approx(sum(std["accuracy"].values()) / 3)
    gen = results["generalized"]
    assert gen["accuracy"]["de"]["de"] == std["accuracy"]["de"]
    assert set(gen["accuracy"]["en"]) == {"en", "de", "fr"}
    syn, pgd = results["synonym_attack"], results["pgd_attack"]
    assert syn["accuracy"]["en"] < syn["clean_accuracy"]["en"], "unseen synonyms flip the toy model"
    assert 0 < syn["mean_words_changed"]["en"] <= 1
    assert pgd["accuracy"]["en"] < std["accuracy"]["en"]
    md = (tmp_path / "results.md").read_text()
    assert "| language | clean | smoothed | synonym attack | PGD |" in md
    assert "| sentence1 \\ sentence2 | en | de | fr |" in md and "| **average** |" in md
    for png in ("accuracy_per_language.png", "generalized_heatmap.png"):
        image = matplotlib.image.imread(tmp_path / png)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    # the submission layout: one predicted label per test row, scoring to the reported accuracy
    for lang in ("en", "de", "fr"):
        predicted = (tmp_path / "predictions" / "pawsx" / f"test-{lang}.tsv").read_text().splitlines()
        gold = [line.split("\t")[-1] for line in
                (Path(files["task_dir"]) / f"test-{lang}.tsv").read_text().splitlines()]
        assert len(predicted) == len(gold) == 48
        assert 100 * sum(p == g for p, g in zip(predicted, gold)) / len(gold) == pytest.approx(std["accuracy"][lang])
        assert (tmp_path / "labels" / "pawsx" / f"test-{lang}.tsv").read_text().splitlines() == gold
    assert results["predictions"] == str(tmp_path / "predictions" / "pawsx")


def test_deterministic_and_tiny_noise_smoothing_matches_clean(finetuned):
    files, _ = finetuned
    settings = EvaluationSettings(**files, smooth_copies=3, smooth_sigma=1e-6, pgd_eps=0.3, pgd_steps=2,
                                  batch_size=16)
    first, second = (run_evaluation(settings, progress=lambda m: None) for _ in range(2))
    first.pop("seconds"), second.pop("seconds")
    assert first == second
    assert first["smoothed"]["accuracy"] == first["standard"]["accuracy"]
    assert first["synonym_attack"] is None


def test_unlabelled_test_file_is_an_error(finetuned, tmp_path):
    files, _ = finetuned
    write_lines(tmp_path / "test-en.tsv", ["good w1\tw2\t1", "bad w1\tw2"])
    with pytest.raises(XtremeDataError, match="test-en.tsv:2: no label"):
        run_evaluation(EvaluationSettings(**{**files, "task_dir": str(tmp_path)}), progress=lambda m: None)


@pytest.mark.slow
def test_dictionary_or_labels_that_do_not_fit_the_checkpoint(finetuned, tmp_path):
    files, _ = finetuned
    bigger = tmp_path / "dict.txt"
    bigger.write_text(open(files["dictionary"]).read() + "extra 1\n")
    with pytest.raises(CheckpointMismatchError, match="vocabulary"):
        run_evaluation(EvaluationSettings(**{**files, "dictionary": str(bigger)}), progress=lambda m: None)
    proc = run([tool("weam-evaluate"), "--checkpoint", files["checkpoint"], "--task-dir", files["task_dir"],
                "--spm-model", files["spm_model"], "--dict", files["dictionary"], "--labels", "0,1,2",
                "--out-dir", tmp_path / "out"], check=False)
    assert proc.returncode != 0 and "predicts 2 classes but the label set has 3" in proc.stderr


def test_report_over_seeds_of_real_evaluations(finetuned, tmp_path):
    """weam-report's mean ± std over seeds, on results that weam-evaluate really wrote."""
    files, _ = finetuned
    paths = []
    for seed in (1, 2):
        results = run_evaluation(EvaluationSettings(**files, seed=seed, pgd_eps=1.0, pgd_steps=1, limit=16),
                                 progress=lambda m: None)
        paths.append(tmp_path / f"seed{seed}.json")
        paths[-1].write_text(json.dumps(results))
    runs = [json.loads(p.read_text()) for p in paths]
    table = write_comparison(parse_run_specs([f"tiny={p}" for p in paths]), tmp_path / "summary")
    summary = json.loads((tmp_path / "summary" / "summary.json").read_text())
    pgd = [r["pgd_attack"]["average"] for r in runs]
    mean, std = summary["systems"]["tiny"]["settings"]["PGD avg"]
    assert mean == pytest.approx(sum(pgd) / 2) and std == pytest.approx(abs(pgd[0] - pgd[1]) / 2 ** 0.5)
    assert summary["systems"]["tiny"]["per_language"]["de"][1] == 0.0  # clean accuracy does not depend on the seed
    assert "| tiny | 2 |" in table and "synonym attack avg" not in table
    runs[1]["languages"] = ["en"]
    paths[1].write_text(json.dumps(runs[1]))
    with pytest.raises(ValueError, match="languages"):
        write_comparison(parse_run_specs([f"tiny={p}" for p in paths]), tmp_path / "bad")


@pytest.mark.slow
def test_test_files_without_labels_are_predicted_not_scored(finetuned, tmp_path):
    """XTREME's download strips test labels: those files get predictions (submission layout), no score."""
    files, _ = finetuned
    task = Path(files["task_dir"])
    (tmp_path / "task").mkdir()
    for lang in ("en", "de"):
        (tmp_path / "task" / f"test-{lang}.tsv").write_text((task / f"test-{lang}.tsv").read_text())
    stripped = ["\t".join(line.split("\t")[:2]) for line in (task / "test-fr.tsv").read_text().splitlines()]
    write_lines(tmp_path / "task" / "test-fr.tsv", stripped)
    common = ["--checkpoint", files["checkpoint"], "--spm-model", files["spm_model"], "--dict", files["dictionary"],
              "--task", "pawsx", "--batch-size", "16"]
    run([tool("weam-evaluate"), *common, "--task-dir", tmp_path / "task", "--out-dir", tmp_path / "out"])
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["languages"] == ["en", "de"] and results["unscored"] == ["fr"]
    assert results["generalized"]["languages"] == ["en", "de"]
    predicted = (tmp_path / "out" / "predictions" / "pawsx" / "test-fr.tsv").read_text().splitlines()
    assert len(predicted) == 48 and set(predicted) <= {"0", "1"}
    # the same predictions as when the file has its labels
    run([tool("weam-evaluate"), *common, "--task-dir", task, "--langs", "fr", "--out-dir", tmp_path / "labelled"])
    assert (tmp_path / "labelled" / "predictions" / "pawsx" / "test-fr.tsv").read_text().splitlines() == predicted
    assert not (tmp_path / "out" / "labels" / "pawsx" / "test-fr.tsv").exists()
    # no labelled file at all: predictions only
    only = tmp_path / "only"
    write_lines(only / "test-fr.tsv", stripped)
    proc = run([tool("weam-evaluate"), *common, "--task-dir", only, "--out-dir", tmp_path / "out2"])
    assert "nothing scored" in proc.stdout
    assert (tmp_path / "out2" / "predictions" / "pawsx" / "test-fr.tsv").read_text().splitlines() == predicted
