"""weam-xtreme-score against the official XTREME scorer, on a submission of every task of both versions.

tests/data/xtreme_score/make_fixtures.py writes the submission; official-xtreme.json / official-xtreme-r.json
are what google-research/xtreme's ``evaluate.py`` (HEAD of the mirror, seqeval 1.2.2) wrote for it, run once:

    python evaluate.py --prediction_folder P --label_folder L --xtreme_version xtreme --output_file F

For xtreme-r the official scorer was run without the lareqa folder: with it, it stops with KeyError
'avg_metric' (LAReQA has no language in its XTREME-R list), which the test below documents.
"""
import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from fairseq_weam.cli import xtreme_score
from weam_testing import run, tool

DATA = Path(__file__).parent / "data" / "xtreme_score"
#: digest of the generated submission the official figures belong to (a change of the generator voids them)
FIXTURE_SHA256 = "4c2dc2218328fd52e26a68320cbe14a9bc1ff7a7f4ba6507823da4ebf4e1d312"


def make_fixtures(out):
    spec = importlib.util.spec_from_file_location("make_fixtures", DATA / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = module.make(out)
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    assert digest.hexdigest() == FIXTURE_SHA256, "the fixture generator changed: rerun the official scorer"
    return root


@pytest.fixture(scope="module")
def submission(tmp_path_factory):
    return make_fixtures(tmp_path_factory.mktemp("xtreme_score"))


@pytest.fixture(scope="module")
def scored(submission, tmp_path_factory):
    """The console script run once per version: {version: (process, JSON it wrote)}."""
    out = tmp_path_factory.mktemp("scored")
    results = {}
    for version in ("xtreme", "xtreme-r"):
        proc = run([tool("weam-xtreme-score"), "--predictions", submission / "predictions", "--labels",
                    submission / "labels", "--version", version, "--output", out / f"{version}.json"])
        results[version] = proc, json.loads((out / f"{version}.json").read_text())
    return results


def score_in_process(capsys, root, version, output, predictions=None):
    """The CLI's main() (argument parsing, run_cli's one-line errors) without a new interpreter."""
    code = xtreme_score.main(["--predictions", str(predictions or root / "predictions"), "--labels",
                              str(root / "labels"), "--version", version, "--output", str(output)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def flat(tree, prefix=""):
    out = {}
    for key, value in tree.items():
        out.update(flat(value, f"{prefix}{key}/") if isinstance(value, dict) else {prefix + key: value})
    return out


@pytest.mark.slow
@pytest.mark.parametrize("version", ["xtreme", "xtreme-r"])
def test_every_figure_equals_the_official_scorer(scored, version):
    proc, ours = scored[version]
    official = json.loads((DATA / f"official-{version}.json").read_text())
    # same keys in the same order (groups, all_task, then tasks); LAReQA's entry is empty, as the official one
    assert [k for k in ours if k != "lareqa"] == list(official)
    flat_ours, flat_official = flat(ours), flat(official)
    assert set(flat_ours) == set(flat_official)
    assert len(flat_official) > 350  # every language of every task, every metric
    for key, value in flat_official.items():
        assert flat_ours[key] == pytest.approx(value, abs=0.01), key
    if version == "xtreme":
        assert ours["all_task"] == pytest.approx(56.0898, abs=0.01) and "lareqa" not in ours
    else:
        assert ours["lareqa"] == {} and "all_task" not in ours
        assert "no all_task: lareqa has no figure" in proc.stderr
    # the unanswered questions are scored 0 and said
    # counted in the fixture (XTREME's XQuAD has no ro: one file fewer)
    unanswered = "6 of 78" if version == "xtreme-r" else "5 of 70"
    assert f"xquad: {unanswered} gold ids have no prediction, in {unanswered[0]} file(s)" in proc.stderr
    assert "tydiqa: 9 predicted ids are not in the gold files" in proc.stderr
    # the per-task table
    assert "== mlqa ==" in proc.stdout and f"avg_metric {official['mlqa']['avg_metric']:.2f}" in proc.stdout


@pytest.mark.slow
def test_hand_computed_figures_of_the_fixture(scored):
    """Independent of both scorers: a few figures computed by hand from make_fixtures.py's cases."""
    ours = scored["xtreme-r"][1]
    # Mewsli-X en: gold at ranks 3, 5, 20, 21 (beyond the cut: 0), 25 but unpredicted, absent
    assert ours["mewslix"]["map@20"]["en"] == pytest.approx(100 * (1 / 3 + 1 / 5 + 1 / 20) / 6)
    # MLQA zh: 北京大学/北京 (F1 2/3), 中华人民共和国/人民共和国。 (F1 10/12), 2008年/2008 年 and 长城/《长城》
    # exact after character segmentation and Unicode punctuation removal, one unanswered
    assert ours["mlqa"]["exact_match"]["zh"] == pytest.approx(40.0)
    assert ours["mlqa"]["f1"]["zh"] == pytest.approx(100 * (2 / 3 + 10 / 12 + 1 + 1 + 0) / 5)
    # MLQA de: articles der/die/dem/einem/das removed; „Haus“ loses its quotes; "großer" != "große"
    assert ours["mlqa"]["exact_match"]["de"] == pytest.approx(60.0)
    # PAN-X he: the first entity cut short (B-PER I-PER predicted as B-PER O): 5 of 6 entities right
    assert ours["panx"]["f1"]["he"] == pytest.approx(100 * 5 / 6)
    # XTREME-R groups: the official run without the lareqa folder has the same (LAReQA is in no group)
    official = json.loads((DATA / "official-xtreme-r.json").read_text())
    for group in ("classification", "tagging", "qa", "retrieval", "multi_choice"):
        assert ours[group] == pytest.approx(official[group], abs=0.01)


def test_a_missing_language_file_is_an_error_naming_it(submission, tmp_path, capsys):
    root = tmp_path / "copy"
    shutil.copytree(submission, root)
    (root / "predictions" / "tydiqa" / "test-te.json").unlink()
    code, _, err = score_in_process(capsys, root, "xtreme", tmp_path / "score.json")
    err = err.strip().splitlines()
    assert code == 1 and len(err) == 1, err
    assert f"{root}/predictions/tydiqa/test-te.json is not available" in err[0]
    assert not (tmp_path / "score.json").exists()


@pytest.mark.parametrize("task, name, content, message", [
    ("xnli", "test-en.tsv", "entailment\nneutral\n", "2 examples predicted but the gold file has 6"),
    ("xnli", "test-en.tsv", "entailment\n\nneutral\n", "test-en.tsv:2: empty line"),
    ("xnli", "test-en.tsv", "entails\n", "test-en.tsv:1: unknown label 'entails'"),
    ("panx", "test-en.tsv", "O\n\nO\n\nO\n\nO\n", "4 sentences predicted but the gold file has 3"),
    ("panx", "test-de.tsv", "B-PER\nI-PER\nO\nO\nB-LOC\n\nO\nB-ORG\n\nB-LOC\nI-LOC\nO\nB-ORG\nO\n",
     "test-de.tsv:7: sentence 2 has 2 predicted tags but the gold sentence has 6 words"),
    ("panx", "test-en.tsv", "B-PER\tx\n", "test-en.tsv:1: expected one tag per line"),
    ("tatoeba", "test-de.tsv", "1\nseven\n", "test-de.tsv:2: 'seven' is not a sentence index"),
    ("xquad", "test-en.json", '{"a": ', "test-en.json:1: not JSON"),
    ("bucc2018", "test-fr.tsv", "fr-1 en-2\n", "test-fr.tsv:1: expected 'source id<TAB>target id'"),
    ("xcopa", "test-ht.jsonl", '{"label": 1}\n{"idx": 1}\n', "test-ht.jsonl:2: expected an object with an integer"),
])
def test_malformed_or_miscounted_predictions_are_one_line_naming_the_file(submission, tmp_path, capsys, task,
                                                                           name, content, message):
    root = tmp_path / "copy"
    shutil.copytree(submission, root)
    (root / "predictions" / task / name).write_text(content, encoding="utf-8")
    code, _, err = score_in_process(capsys, root, "xtreme-r" if task == "xcopa" else "xtreme",
                                    tmp_path / "score.json")
    last = err.strip().splitlines()[-1]
    assert code == 1 and "Traceback" not in err, err
    assert last.startswith("weam-xtreme-score: error: ") and message in last, last
    assert str(root / "predictions" / task / name) in last
    assert not (tmp_path / "score.json").exists()


def test_no_task_folder_in_common_is_an_error(submission, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = score_in_process(capsys, submission, "xtreme", tmp_path / "s.json",
                                    predictions=tmp_path / "empty")
    assert code == 1 and "no task folder of xtreme" in err


def test_lareqa_alone_is_empty_as_in_the_official_scorer(submission, tmp_path, capsys):
    root = tmp_path / "lareqa_only"
    for side in ("predictions", "labels"):
        shutil.copytree(submission / side / "lareqa", root / side / "lareqa")
        shutil.copytree(submission / side / "xcopa", root / side / "xcopa")
    code, out, _ = score_in_process(capsys, root, "xtreme-r", tmp_path / "s.json")
    result = json.loads((tmp_path / "s.json").read_text())
    assert code == 0 and result["lareqa"] == {} and "(no official language: not scored)" in out
    assert list(result) == ["multi_choice", "xcopa", "lareqa"]
