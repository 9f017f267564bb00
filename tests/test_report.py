"""weam-report: mean ± std over seeds from weam-evaluate results files."""
import json

from weam_testing import run, tool


def results(standard, generalized=None, pgd=None):
    langs = list(standard)
    return {
        "languages": langs,
        "standard": {"accuracy": standard, "average": sum(standard.values()) / len(standard)},
        "generalized": generalized,
        "smoothed": None,
        "synonym_attack": None,
        "pgd_attack": pgd,
    }


def test_report_groups_seeds_and_writes_table_json_and_plot(tmp_path):
    runs = {
        "a1": results({"en": 80.0, "de": 60.0}, {"average": 65.0, "cross_language_average": 55.0}, {"average": 40.0}),
        "a2": results({"en": 90.0, "de": 70.0}, {"average": 75.0, "cross_language_average": 65.0}, {"average": 50.0}),
        "b1": results({"en": 70.0, "de": 50.0}, {"average": 55.0, "cross_language_average": 45.0}, {"average": 30.0}),
    }
    for name, r in runs.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(r))
    out = tmp_path / "report"
    proc = run([tool("weam-report"), f"weam+none={tmp_path}/a1.json", f"weam+none={tmp_path}/a2.json",
                f"tlm+none={tmp_path}/b1.json", "--out-dir", out])

    summary = json.loads((out / "summary.json").read_text())
    weam = summary["systems"]["weam+none"]
    assert len(weam["runs"]) == 2
    assert weam["settings"]["standard avg"] == [75.0, 7.0710678118654755]
    assert weam["per_language"]["de"] == [65.0, 7.0710678118654755]
    assert summary["systems"]["tlm+none"]["settings"]["PGD avg"] == [30.0, 0.0]
    table = (out / "summary.md").read_text()
    assert "| weam+none | 2 | 75.0 ± 7.1 | 70.0 ± 7.1 | 60.0 ± 7.1 | 45.0 ± 7.1 | 85.0 ± 7.1 | 65.0 ± 7.1 |" in table
    assert "smoothed" not in table  # no run has it: no column
    assert (out / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "weam+none" in proc.stdout


def test_report_rejects_bad_specs(tmp_path):
    proc = run([tool("weam-report"), "no-equals-sign", "--out-dir", tmp_path / "r"], check=False)
    assert proc.returncode != 0 and "LABEL=path/to/results.json" in proc.stderr
    proc = run([tool("weam-report"), f"x={tmp_path}/missing.json", "--out-dir", tmp_path / "r"], check=False)
    assert proc.returncode != 0 and "missing.json not found" in proc.stderr
