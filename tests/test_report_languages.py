"""weam-report over runs that cover different languages, and over files that are not results."""
import json

import pytest

from weam_testing import run, tool


def results(standard, pgd=None, generalized=None):
    return {
        "languages": list(standard),
        "standard": {"accuracy": standard, "average": sum(standard.values()) / len(standard)},
        "generalized": generalized, "smoothed": None, "synonym_attack": None,
        "pgd_attack": {"accuracy": pgd, "average": sum(pgd.values()) / len(pgd)} if pgd else None,
    }


def write_runs(tmp_path, runs):
    for name, r in runs.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(r))


def report(tmp_path, specs, *extra):
    return run([tool("weam-report"), *(f"{label}={tmp_path}/{name}.json" for label, name in specs),
                "--out-dir", tmp_path / "report", *extra], check=False)


RUNS = {
    "b1": results({"en": 70.0, "fr": 30.0}, {"en": 20.0, "fr": 10.0}),
    "a1": results({"en": 80.0, "de": 60.0, "fr": 40.0}, {"en": 50.0, "de": 30.0, "fr": 20.0}),
    "a2": results({"en": 90.0, "de": 70.0, "fr": 50.0}, {"en": 60.0, "de": 40.0, "fr": 30.0}),
}
SPECS = [("tlm", "b1"), ("weam", "a1"), ("weam", "a2")]


@pytest.mark.slow
def test_different_languages_are_refused_naming_what_differs(tmp_path):
    write_runs(tmp_path, RUNS)
    proc = report(tmp_path, SPECS)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1, err
    assert f"tlm ({tmp_path}/b1.json) lacks de" in err[0] and "--intersection" in err[0]
    assert not (tmp_path / "report").exists()
    # Seeds of one system are held to the same rule.
    proc = report(tmp_path, [("weam", "a1"), ("weam", "b1")])
    assert proc.returncode == 1 and f"weam ({tmp_path}/b1.json) lacks de" in proc.stderr


def test_intersection_recomputes_every_average_and_says_so(tmp_path):
    write_runs(tmp_path, RUNS)
    proc = report(tmp_path, SPECS, "--intersection")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["languages"] == ["en", "fr"]
    assert list(summary["intersection"]["dropped"]) == ["de"]
    weam, tlm = summary["systems"]["weam"], summary["systems"]["tlm"]
    # Averages over en and fr only, computed here from the per-language numbers.
    assert weam["settings"]["standard avg"][0] == ((80 + 40) / 2 + (90 + 50) / 2) / 2
    assert weam["settings"]["PGD avg"][0] == ((50 + 20) / 2 + (60 + 30) / 2) / 2
    assert tlm["settings"]["standard avg"] == [50.0, 0.0]
    table = (tmp_path / "report" / "summary.md").read_text()
    assert "INTERSECTION ONLY" in table and "left out de" in table and "INTERSECTION ONLY" in proc.stdout
    assert "| system | seeds | standard avg | PGD avg | en | fr |" in table
    assert "| weam | 2 | 65.0 ± 7.1 | 40.0 ± 7.1 | 85.0 ± 7.1 | 45.0 ± 7.1 |" in table


def test_same_languages_in_another_order_are_the_same_set(tmp_path):
    reordered = results({"fr": 40.0, "en": 80.0, "de": 60.0})
    write_runs(tmp_path, {"a1": RUNS["a1"], "a3": reordered})
    proc = report(tmp_path, [("weam", "a1"), ("weam", "a3")])
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "report" / "summary.json").read_text())["languages"] == ["en", "de", "fr"]


@pytest.mark.slow
def test_a_file_that_is_not_results_is_one_line_and_writes_nothing(tmp_path):
    write_runs(tmp_path, {"a1": RUNS["a1"], "other": {"systems": {}, "languages": []}})
    (tmp_path / "text.json").write_text("not json\n")
    for name, message in (("other", "is not a weam-evaluate results.json"), ("text", "is not JSON")):
        proc = report(tmp_path, [("weam", "a1"), ("x", name)])
        err = proc.stderr.strip().splitlines()
        assert proc.returncode == 1 and len(err) == 1 and message in err[0] and f"{name}.json" in err[0], err
        assert not (tmp_path / "report").exists()
