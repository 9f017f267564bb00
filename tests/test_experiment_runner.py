"""weam-experiment with cheap stand-in commands (training is not the point here): stage order, checkpoints
handed on, heads per label set, restart after a kill, dry run, bad configs, the grouped report."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fairseq_weam.cli.experiment import main
from weam_testing import tool, write_lines

# A stand-in for fairseq-train: journals its arguments, writes checkpoint_best.pt naming its own save dir,
# and (FAKE_HANG=<substring of the save dir>) hangs half-way through that stage.
FAKE_TRAIN = """
import json, os, sys, time
args = sys.argv[1:]
opt = lambda name: args[args.index(name) + 1] if name in args else None
save = opt("--save-dir")
with open(os.environ["FAKE_JOURNAL"], "a") as f:
    f.write(json.dumps({"tool": "train", "data": args[0], "save": save, "init": opt("--finetune-from-model"),
                        "head": opt("--classification-head-name"), "method": opt("--robust-method"),
                        "classes": opt("--num-classes"), "seed": opt("--seed")}) + "\\n")
os.makedirs(save, exist_ok=True)
if os.environ.get("FAKE_HANG") and os.environ["FAKE_HANG"] in save:
    open(os.path.join(save, "checkpoint_best.pt"), "w").write("half")
    open(os.environ["FAKE_JOURNAL"] + ".hanging", "w").write(save)
    time.sleep(600)
open(os.path.join(save, "checkpoint_best.pt"), "w").write("trained in " + save)
print("epoch 001 | valid on 'valid' subset | loss 0.9 | accuracy 58.5 | wps 1")
print("epoch 002 | valid on 'valid' subset | loss 0.8 | accuracy 61.5 | wps 1 | best_accuracy 61.5")
"""

# A stand-in for weam-evaluate: per-language accuracies that depend on the run (variant, seed).
FAKE_EVALUATE = """
import json, os, sys, zlib
args = sys.argv[1:]
opt = lambda name: args[args.index(name) + 1] if name in args else None
ckpt, out = opt("--checkpoint"), opt("--out-dir")
with open(os.environ["FAKE_JOURNAL"], "a") as f:
    f.write(json.dumps({"tool": "evaluate", "checkpoint": ckpt, "out": out}) + "\\n")
assert open(ckpt).read().startswith("trained"), ckpt
langs = opt("--langs").split(",")
acc = {l: float(zlib.crc32((ckpt + l).encode()) % 1000) / 10 for l in langs}
os.makedirs(out, exist_ok=True)
json.dump({"languages": langs, "standard": {"accuracy": acc, "average": sum(acc.values()) / len(acc)},
           "majority_class": {"accuracy": {l: 50.0 for l in langs}, "average": 50.0}},
          open(os.path.join(out, "results.json"), "w"))
"""

# A stand-in for weam-xtreme-prepare: the report the runner reads the training-set size from.
FAKE_PREPARE = """
import json, os, sys
args = sys.argv[1:]
dest = args[args.index("--destdir") + 1]
os.makedirs(dest)
n = sum(1 for _ in open(os.path.join(args[0], "train-en.tsv")))
json.dump({"subsets": {"train": {"examples": n}}}, open(os.path.join(dest, "prepare_report.json"), "w"))
"""

LANGS = ["de", "ru", "fi", "ja", "tr"]
VARIANTS = "{forward: {}, backward: {order: [second, first], stages: {second: {method: none}}}}"


def write_task(path, labels, n=40):
    rows = [f"sentence {i}\t{labels[i % len(labels)]}" for i in range(n)]
    write_lines(path / "train-en.tsv", rows)
    write_lines(path / "dev-en.tsv", rows[:10])
    for lang in ["en", *LANGS]:
        write_lines(path / f"test-{lang}.tsv", rows[:10])
    return path


@pytest.fixture
def setup(tmp_path):
    """(config writer, journal path, environment) for an experiment with stand-in commands."""
    for name, body in (("train", FAKE_TRAIN), ("evaluate", FAKE_EVALUATE), ("prepare", FAKE_PREPARE)):
        (tmp_path / f"fake_{name}.py").write_text(body)
    for name in ("start.pt", "dict.txt", "spm.model"):
        (tmp_path / name).write_text("x")
    write_task(tmp_path / "task_a", ["x", "y"])
    write_task(tmp_path / "task_b", ["x", "y"], n=64)
    write_task(tmp_path / "task_t", ["p", "q", "r"])
    journal = tmp_path / "journal.jsonl"

    def config(extra="", name="exp.yaml", langs=", ".join(LANGS), variants=VARIANTS):
        text = textwrap.dedent(f"""\
            out_dir: {tmp_path}/out
            start: {{checkpoint: {tmp_path}/start.pt, dict: {tmp_path}/dict.txt, spm_model: {tmp_path}/spm.model}}
            tasks:
              a: {{dir: {tmp_path}/task_a, labels: [x, y]}}
              b: {{dir: {tmp_path}/task_b, labels: [x, y]}}
              t: {{dir: {tmp_path}/task_t, labels: [p, q, r]}}
            stages:
              - {{name: first, task: a, epochs: 1}}
              - {{name: second, task: b, epochs: 2, method: adversarial, settings: {{adv_eps: "0.1"}}}}
            target: {{name: target, task: t, epochs: 1}}
            evaluation: {{langs: [{langs}]}}
            seeds: [1, 2]
            variants: {variants}
            commands:
              train: [{sys.executable}, {tmp_path}/fake_train.py]
              evaluate: [{sys.executable}, {tmp_path}/fake_evaluate.py]
              prepare: [{sys.executable}, {tmp_path}/fake_prepare.py]
            """) + textwrap.dedent(extra)
        path = tmp_path / name
        path.write_text(text)
        return path

    env = {**os.environ, "FAKE_JOURNAL": str(journal)}
    os.environ["FAKE_JOURNAL"] = str(journal)
    yield config, journal, env
    os.environ.pop("FAKE_JOURNAL", None)


def entries(journal, tool_name=None):
    if not journal.exists():
        return []
    rows = [json.loads(line) for line in journal.read_text().splitlines()]
    return [r for r in rows if tool_name is None or r["tool"] == tool_name]


def test_stages_run_in_order_each_from_the_previous_best_checkpoint_with_a_head_per_label_set(setup, capsys):
    config, journal, _ = setup
    out = Path(config().parent) / "out"
    assert main([str(config())]) == 0
    trains = entries(journal, "train")
    runs = {}
    for t in trains:
        variant, seed = Path(t["save"]).parts[-3:-1]
        runs.setdefault((variant, seed), []).append(t)
    assert sorted(runs) == [("backward", "seed1"), ("backward", "seed2"), ("forward", "seed1"), ("forward", "seed2")]
    for (variant, seed), stages in runs.items():
        order = ["first", "second", "target"] if variant == "forward" else ["second", "first", "target"]
        assert [Path(s["save"]).name for s in stages] == [f"{i}-{n}" for i, n in enumerate(order, 1)]
        assert stages[0]["init"] == str(out.parent / "start.pt")
        for previous, stage in zip(stages, stages[1:]):
            assert stage["init"] == str(Path(previous["save"]) / "checkpoint_best.pt")
        assert [s["seed"] for s in stages] == [seed[4:]] * 3
        # a and b share the label set (x, y): one head carried on; the target's labels get a fresh head
        assert stages[0]["head"] == stages[1]["head"] != stages[2]["head"]
        assert [s["classes"] for s in stages] == ["2", "2", "3"]
        second = next(s for s in stages if s["save"].endswith("second"))
        assert second["method"] == ("adversarial" if variant == "forward" else "none")
    evaluations = entries(journal, "evaluate")
    assert sorted(e["checkpoint"] for e in evaluations) == sorted(
        str(Path(s[-1]["save"]) / "checkpoint_best.pt") for s in runs.values())
    printed = capsys.readouterr().out
    assert printed.count("English dev accuracy 61.5") == 12 and "[13/16]" in printed
    assert (out / "runs/forward/seed1/run.log").read_text().count("$ ") == 4  # 3 stages + evaluation, one log

    # the grouped report, against an independent computation from the results files
    results = {v: [json.loads((out / f"runs/{v}/seed{s}/eval/results.json").read_text()) for s in (1, 2)]
               for v in ("forward", "backward")}
    groups = (out / "report/groups.md").read_text()
    import statistics
    indo = [statistics.fmean([r["standard"]["accuracy"][l] for l in ("de", "ru")]) for r in results["forward"]]
    assert f"| Indo-European (de, ru) | {statistics.fmean(indo):.1f} ± {statistics.stdev(indo):.1f} |" in groups
    uralic = [r["standard"]["accuracy"]["fi"] for r in results["backward"]]
    row = next(line for line in groups.splitlines() if line.startswith("| Uralic (fi)"))
    assert row.split(" | ")[2] == f"{statistics.fmean(uralic):.1f} ± {statistics.stdev(uralic):.1f}"
    assert "| class 5 (de, ja) |" in groups and "| class 4 (ru, fi, tr) |" in groups  # Joshi classes
    for name in ("summary.md", "comparison.png", "by_family.png", "by_joshi.png"):
        assert (out / "report" / name).is_file(), name

    # a second run finds everything finished and runs nothing
    before = len(entries(journal))
    assert main([str(config())]) == 0
    assert len(entries(journal)) == before
    assert capsys.readouterr().out.count("finished earlier, skipped") == 16


def test_a_stage_killed_mid_way_is_redone_and_finished_ones_are_not(setup, capsys):
    config, journal, env = setup
    path = config()
    proc = subprocess.Popen([tool("weam-experiment"), str(path)], env={**env, "FAKE_HANG": "forward/seed1/2-second"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    hanging = Path(str(journal) + ".hanging")
    deadline = time.time() + 120
    while not hanging.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert hanging.exists(), proc.communicate()[0]
    assert main([str(path), "--variants", "forward", "--seeds", "1"]) == 1  # a second process on the same run
    assert f"forward seed 1 ({path.parent}/out/runs/forward/seed1) is being run by weam-experiment pid " \
        in capsys.readouterr().err
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and its training child, mid-stage
    proc.wait()
    done_before = [t["save"] for t in entries(journal, "train")]
    assert [Path(s).name for s in done_before] == ["1-first", "2-second"]
    assert main([str(path)]) == 0
    again = [t["save"] for t in entries(journal, "train")][2:]
    assert done_before[0] not in again                      # the finished stage was not run again
    assert again[:2] == [done_before[1], done_before[1].replace("2-second", "3-target")]  # the killed one was
    assert Path(done_before[1], "checkpoint_best.pt").read_text().startswith("trained")


def test_dry_run_prints_the_plan_and_runs_nothing(setup, capsys):
    config, journal, _ = setup
    path = config()
    assert main([str(path), "--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert not journal.exists() and not (path.parent / "out").exists()
    lines = [line.strip() for line in plan.splitlines() if line.strip().startswith("stage ")]
    assert len(lines) == 12 and all(line.endswith("[to run]") for line in lines)
    assert lines[0].startswith("stage 1-first (task a") and lines[6].startswith("stage 1-second (task b")
    assert "method adversarial, adv_eps=0.1, 2 epochs" in lines[1]
    assert plan.count("fake_train.py") == 12 and plan.count("fake_evaluate.py") == 4
    assert "--total-num-update <updates>" in plan  # the task is not binarized yet


@pytest.mark.parametrize("change, key, where", [
    ({"extra": "epoch: 3\n"}, "epoch", "exp.yaml:18"),                                    # unknown top-level key
    ({"extra": "training: {batch_sise: 8}\n"}, "training.batch_sise", "exp.yaml:18"),    # unknown nested key
    ({"langs": "de, xx"}, "evaluation.langs", "exp.yaml:11"),                             # unknown language
    ({"variants": "{v: {order: [first, third]}}"}, "variants.v.order", "exp.yaml:13"),   # unknown stage
    ({"variants": "{v: {stages: {first: {settings: {adv_epz: '1'}}}}}"}, "variants.v.stages.first.settings.adv_epz",
     "exp.yaml:13"),                                                                      # unknown robust flag
])
def test_a_bad_config_fails_before_anything_runs_naming_the_key(setup, capsys, change, key, where):
    config, journal, _ = setup
    path = config(**change)
    assert main([str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("weam-experiment: error: ") and "\n" not in err
    assert f"{path.parent}/{where}: {key}: " in err, err
    assert not journal.exists() and not (path.parent / "out").exists()


def test_missing_task_data_and_an_unknown_stage_field_are_refused_by_key(setup, capsys):
    config, journal, _ = setup
    path = config()
    (path.parent / "task_b/train-en.tsv").unlink()
    assert main([str(path)]) == 1
    err = capsys.readouterr().err
    assert "exp.yaml:5: tasks.b.dir: " in err and "train-en.tsv not found (missing task data)" in err
    write_task(path.parent / "task_b", ["x", "y"])
    path.write_text(path.read_text().replace("epochs: 2, method", "epochz: 2, method"))
    assert main([str(path)]) == 1
    assert "epochz" in capsys.readouterr().err
    assert not journal.exists() and not (path.parent / "out").exists()


def test_part_of_an_experiment_runs_alone_and_a_rebuilt_task_reruns_its_stages(setup, capsys):
    config, journal, _ = setup
    path = config()
    out = path.parent / "out"
    assert main([str(path), "--variants", "backward", "--seeds", "2"]) == 0
    assert {Path(t["save"]).parts[-3:-1] for t in entries(journal, "train")} == {("backward", "seed2")}
    assert "no report yet: 3 run(s) of the experiment unfinished" in capsys.readouterr().out
    assert not (out / "report").exists()
    assert main([str(path), "--seeds", "3"]) == 1
    assert "--seeds: no seed 3 in the config (1, 2)" in capsys.readouterr().err
    # task b binarized again (other data): the stages on it, and everything after them, run again
    report = out / "tasks/b/bin/prepare_report.json"
    report.write_text(report.read_text().replace("64", "65"))
    before = len(entries(journal, "train"))
    assert main([str(path), "--variants", "backward", "--seeds", "2"]) == 0
    assert [Path(t["save"]).name for t in entries(journal, "train")[before:]] == ["1-second", "2-first", "3-target"]
