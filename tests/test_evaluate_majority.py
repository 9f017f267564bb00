"""The majority-class line: weam-evaluate records it per language, weam-report shows and draws it."""
import json
import shutil
import sys
from collections import Counter

import matplotlib.pyplot as plt
import pytest

from fairseq_weam.evaluation import plots
from weam_testing import run, tool, write_lines
from xtreme_testing import tiny_finetuned


def skewed_task(task_dir, dest, keep_negative):
    """Test files of the tiny task with all but ``keep_negative[lang]`` label-0 rows removed."""
    for lang, keep in keep_negative.items():
        rows = (task_dir / f"test-{lang}.tsv").read_text().splitlines()
        negative = [r for r in rows if r.endswith("\t0")][:keep]
        write_lines(dest / f"test-{lang}.tsv", [r for r in rows if r.endswith("\t1")] + negative)
    return dest


def gold_majority(path):
    labels = [line.split("\t")[2] for line in path.read_text().splitlines()]
    return 100.0 * Counter(labels).most_common(1)[0][1] / len(labels)


def drawn_majority(monkeypatch, draw):
    """The y values of the dashed 'majority class' segments ``draw()`` puts on its figure."""
    figures = []
    monkeypatch.setattr(plots.plt, "close", figures.append)
    draw()
    (ax,) = figures[-1].axes
    (lines,) = [c for c in ax.collections if c.get_label() == "majority class"]
    assert lines.get_linestyle()[0][1] is not None, "dashed"
    values = [segment[0][1] for segment in lines.get_segments()]
    plt.close(figures[-1])
    return values


@pytest.mark.slow
def test_evaluate_and_report_show_the_majority_class(tmp_path_factory, tmp_path, monkeypatch):
    (task_dir, spm_model, dictionary, _), ckpt = tiny_finetuned(tmp_path_factory.getbasetemp() / "xtreme")
    task = skewed_task(task_dir, tmp_path / "task", {"en": 4, "de": 0})
    expected = {lang: gold_majority(task / f"test-{lang}.tsv") for lang in ("en", "de")}
    assert expected["de"] == 100.0 and 50.0 < expected["en"] < 100.0
    outs = []
    for seed in (1, 2):
        outs.append(tmp_path / f"eval{seed}")
        proc = run([tool("weam-evaluate"), "--checkpoint", ckpt, "--task-dir", task, "--spm-model", spm_model,
                    "--dict", dictionary, "--out-dir", outs[-1], "--seed", seed, "--no-generalized"])
        assert not [line for line in proc.stderr.splitlines() if "DEBUG" in line and "matplotlib" in line]
    results = json.loads((outs[0] / "results.json").read_text())
    assert results["majority_class"]["accuracy"] == pytest.approx(expected)
    assert results["majority_class"]["average"] == pytest.approx(sum(expected.values()) / 2)
    assert set(results) >= {"standard", "generalized", "smoothed", "synonym_attack", "pgd_attack"}
    md = (outs[0] / "results.md").read_text()
    assert "| language | clean | majority class |" in md and f"| {expected['en']:.1f} |" in md
    assert drawn_majority(monkeypatch, lambda: plots.accuracy_bars(results, tmp_path / "a.png")) == \
        pytest.approx([expected["en"], expected["de"]])

    run([tool("weam-report"), f"tiny={outs[0]}/results.json", f"tiny={outs[1]}/results.json",
         "--out-dir", tmp_path / "report"])
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["majority_class"]["per_language"]["en"] == pytest.approx([expected["en"], 0.0])
    table = (tmp_path / "report" / "summary.md").read_text()
    avg = sum(expected.values()) / 2
    assert f"| majority | – | {avg:.1f} ± 0.0 | {expected['en']:.1f} ± 0.0 | 100.0 ± 0.0 |" in table
    assert drawn_majority(monkeypatch, lambda: plots.comparison_bars(summary, tmp_path / "c.png")) == \
        pytest.approx([expected["en"], expected["de"]])
    assert (tmp_path / "report" / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    shutil.rmtree(tmp_path / "report")


def test_importing_the_evaluation_cli_logs_no_matplotlib_debug_lines():
    proc = run([sys.executable, "-c",
                "import fairseq_weam.cli.evaluate, fairseq_weam.cli.report"])
    assert not [line for line in proc.stderr.splitlines() if "DEBUG" in line and "matplotlib" in line], proc.stderr
