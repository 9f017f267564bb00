"""weam-report --xtreme: the XTREME-R score of task runs (as weam-evaluate leaves them), and the tables by
language family and script; figures checked against the official scorer's recorded ones and by hand."""
import json
import shutil

import pytest

from fairseq_weam.cli import report
from test_xtreme_score import DATA, make_fixtures

TASKS = ["xnli", "panx", "udpos", "tatoeba", "xcopa", "mewslix", "xquad", "mlqa", "tydiqa"]  # official order


@pytest.fixture(scope="module")
def submission(tmp_path_factory):
    return make_fixtures(tmp_path_factory.mktemp("report_xtreme"))


def evaluate_run(root, submission, task, langs=None, predictions_from=None):
    """A run directory as weam-evaluate leaves it: results.json, predictions/<task>/, labels/<task>/."""
    root.mkdir(parents=True)
    for side in ("predictions", "labels"):
        source = (predictions_from if side == "predictions" and predictions_from else submission) / side / task
        (root / side / task).mkdir(parents=True)
        for path in source.iterdir():
            if langs is None or path.stem[len("test-"):] in langs:
                shutil.copy(path, root / side / task / path.name)
    results = {"task": task, "scores": {}, "predictions": str(root / "predictions" / task)}
    (root / "results.json").write_text(json.dumps(results))
    return root / "results.json"


def main(capsys, *argv):
    code = report.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_xtreme_r_score_equals_the_official_scorer_and_groups_by_family_and_script(submission, tmp_path, capsys):
    specs = [f"weam={evaluate_run(tmp_path / 'weam' / t, submission, t)}" for t in TASKS]
    # a second system: MLQA on three languages only, two seeds (the second one's predictions are the gold)
    partial = ["en", "de", "zh"]
    perfect = tmp_path / "perfect"
    (perfect / "predictions" / "mlqa").mkdir(parents=True)
    for lang in partial:
        data = json.loads((submission / "labels" / "mlqa" / f"test-{lang}.json").read_text())["data"]
        answers = {qa["id"]: qa["answers"][0]["text"] for article in data for paragraph in article["paragraphs"]
                   for qa in paragraph["qas"]}
        (perfect / "predictions" / "mlqa" / f"test-{lang}.json").write_text(json.dumps(answers))
    specs += [f"tlm={evaluate_run(tmp_path / 'tlm' / 'mlqa1', submission, 'mlqa', partial)}",
              f"tlm={evaluate_run(tmp_path / 'tlm' / 'mlqa2', submission, 'mlqa', partial, perfect)}"]
    code, out, err = main(capsys, "--xtreme", *specs, "--out-dir", tmp_path / "report")
    assert code == 0, err
    summary = json.loads((tmp_path / "report" / "xtreme_score.json").read_text())
    official = json.loads((DATA / "official-xtreme-r.json").read_text())
    weam = summary["systems"]["weam"]
    for task in TASKS:
        assert weam["tasks"][task]["summary"]["avg_metric"] == pytest.approx(official[task]["avg_metric"], abs=0.01)
        assert weam["tasks"][task]["complete"]
    for group in ("classification", "tagging", "qa", "retrieval", "multi_choice"):
        assert weam["overall"][group] == pytest.approx(official[group], abs=0.01)
    assert "all_task" not in weam["overall"]  # LAReQA is missing (and the official scorer never gives it)
    # tlm: the mean of the two seeds per language; seed 2 is perfect (100 on every language)
    tlm = summary["systems"]["tlm"]["tasks"]["mlqa"]
    seed1 = [(official["mlqa"]["exact_match"][lang] + official["mlqa"]["f1"][lang]) / 2 for lang in partial]
    assert tlm["summary"]["avg_metric"] == pytest.approx((sum(seed1) / 3 + 100) / 2)
    assert tlm["std"] == pytest.approx(abs(sum(seed1) / 3 - 100) / 2 ** 0.5)
    assert not tlm["complete"] and tlm["languages"] == partial
    text = (tmp_path / "report" / "xtreme_score.md").read_text()
    assert text in out
    # columns in the official task order (xnli, panx, udpos, tatoeba, xcopa, ...), then the groups
    assert f"| weam | {official['xnli']['avg_metric']:.1f} | {official['panx']['avg_metric']:.1f} |" in text
    assert "* (3/7)" in text and "not the official one" in text
    # by family / script (hand: per-language (EM + F1) / 2 from the official per-language figures)
    mlqa = {lang: (official["mlqa"]["exact_match"][lang] + official["mlqa"]["f1"][lang]) / 2
            for lang in official["mlqa"]["f1"]}
    indo_european = sum(mlqa[lang] for lang in ("en", "es", "de", "hi")) / 4
    weam_family = text.split("## weam: by language family")[1].split("##")[0]
    row = next(line for line in weam_family.splitlines() if line.startswith("| Indo-European |"))
    assert row.split(" | ")[TASKS.index("mlqa") + 1] == f"{indo_european:.1f} (4)"
    weam_script = text.split("## weam: by script")[1].split("##")[0]
    row = next(line for line in weam_script.splitlines() if line.startswith("| Han |"))
    assert row.split(" | ")[TASKS.index("mlqa") + 1] == f"{mlqa['zh']:.1f} (1)"


def test_a_run_without_its_files_or_task_is_one_line(submission, tmp_path, capsys):
    spec = evaluate_run(tmp_path / "run", submission, "panx", ["en", "de"])
    (tmp_path / "run" / "predictions" / "panx" / "test-de.tsv").unlink()
    code, _, err = main(capsys, "--xtreme", f"weam={spec}", "--out-dir", tmp_path / "report")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "predictions/panx/test-de.tsv is not available" in err and not (tmp_path / "report").exists()
    (tmp_path / "other.json").write_text(json.dumps({"languages": ["en"], "standard": {"accuracy": {"en": 1}}}))
    code, _, err = main(capsys, "--xtreme", f"weam={tmp_path / 'other.json'}", "--out-dir", tmp_path / "report")
    assert code == 1 and "names no XTREME task" in err
    spec = evaluate_run(tmp_path / "xcopa", submission, "xcopa", ["et"])
    code, _, err = main(capsys, "--xtreme", "--version", "xtreme", f"weam={spec}", "--out-dir", tmp_path / "report")
    assert code == 1 and "is a xcopa run, which xtreme does not have; use --version xtreme-r" in err


def test_lareqa_is_shown_but_keeps_all_task_out_as_in_the_official_scorer(submission, tmp_path, capsys):
    """XTREME-R lists no LAReQA language: its figure (on the run's languages) is shown, marked, and in no
    group; with every task present there is still no all_task, as the official scorer gives none."""
    specs = [f"weam={evaluate_run(tmp_path / 'weam' / t, submission, t)}" for t in TASKS + ["lareqa"]]
    code, out, err = main(capsys, "--xtreme", *specs, "--out-dir", tmp_path / "report")
    assert code == 0, err
    weam = json.loads((tmp_path / "report" / "xtreme_score.json").read_text())["systems"]["weam"]
    assert weam["tasks"]["lareqa"]["summary"]["avg_metric"] is not None
    assert "all_task" not in weam["overall"]
    official = json.loads((DATA / "official-xtreme-r.json").read_text())
    assert weam["overall"]["retrieval"] == pytest.approx(official["retrieval"], abs=0.01)
    table = (tmp_path / "report" / "xtreme_score.md").read_text()
    assert "†" in table and "(11/0)" not in table
