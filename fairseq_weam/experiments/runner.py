"""Run a plan: build and binarize the tasks, then for every variant x seed the stages in order and the
evaluation, then the report. Restartable: a finished step is skipped when its outputs say so (a stage's
``stage.json`` records its command, its binarized task's fingerprint and the size of its
``checkpoint_best.pt``; the evaluation's ``evaluate.json`` its command, beside ``results.json``). A step
without them (killed mid-way, or planned differently) is done again from scratch, and so is every later step
of its run.
"""
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, List

from fairseq_weam.atomic import write_text_atomic
from fairseq_weam.errors import WeamError
from fairseq_weam.experiments.catalog_tasks import REPORT as CATALOG_REPORT, build_catalog_task
from fairseq_weam.experiments.config import ExperimentConfig
from fairseq_weam.experiments.plan import (RunPlan, StageStep, describe, evaluate_command, plan_runs,
                                           task_steps, train_command)

STAGE_RECORD = "stage.json"
EVAL_RECORD = "evaluate.json"
_VALID_ACCURACY = re.compile(r"valid on '[^']*' subset .*?\| accuracy ([0-9.]+)")


class StepFailedError(WeamError, RuntimeError):
    """A training, evaluation or preparation command that exited non-zero."""


class RunInUseError(WeamError, RuntimeError):
    """A run another weam-experiment process is running."""


class ExperimentSelectionError(WeamError, ValueError):
    """--variants / --seeds naming what the config does not have."""


def _quote(command: List[str]) -> str:
    return " ".join(a if re.fullmatch(r"[\w@%+=:,./<>-]+", a) else "'" + a.replace("'", "'\\''") + "'"
                    for a in command)


@contextlib.contextmanager
def run_lock(run: RunPlan):
    """One process per run (variant x seed): an exclusive flock on its ``.lock``, which names the holder."""
    run.run_dir.mkdir(parents=True, exist_ok=True)
    with open(run.run_dir / ".lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise RunInUseError(f"{run.variant} seed {run.seed} ({run.run_dir}) is being run by {holder}; wait for "
                                "it, or run other --variants / --seeds") from None
        f.truncate(0)
        f.write(f"weam-experiment pid {os.getpid()} on {socket.gethostname()}\n")
        f.flush()
        yield


def _read_json(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def data_fingerprint(step: StageStep) -> str:
    """Of the stage's binarized task (its prepare report): a rebuilt task makes the stage run again."""
    report = step.task.bin_dir / "prepare_report.json"
    return hashlib.sha1(report.read_bytes()).hexdigest() if report.is_file() else ""


def stage_finished(step: StageStep, command: List[str]) -> bool:
    record = _read_json(step.save_dir / STAGE_RECORD)
    return (record is not None and record.get("command") == command and step.checkpoint.is_file()
            and step.checkpoint.stat().st_size == record.get("checkpoint_bytes")
            and record.get("data") == data_fingerprint(step))


def evaluation_finished(run: RunPlan, command: List[str]) -> bool:
    record = _read_json(run.eval_dir / EVAL_RECORD)
    return record is not None and record.get("command") == command and _read_json(run.results) is not None


def _run_logged(command, log: Path, what: str) -> str:
    """Run ``command`` appending its output to ``log``; return that output; a one-line error if it fails."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"\n==== [{time.strftime('%Y-%m-%d %H:%M:%S')}] {what}\n$ {_quote(command)}\n")
        f.flush()
        start = f.tell()
        try:
            code = subprocess.run(command, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
        except FileNotFoundError:
            raise StepFailedError(f"{what}: command {command[0]!r} not found (is the venv's bin on PATH?)") from None
    with open(log, encoding="utf-8", errors="replace") as f:
        f.seek(start)
        output = f.read()
    if code != 0:
        last = [line for line in output.splitlines() if line.strip()][-1:] or ["(no output)"]
        raise StepFailedError(f"{what} failed (exit {code}): {last[0][-300:]} (full output: {log})")
    return output


class ExperimentRunner:
    def __init__(self, config: ExperimentConfig, progress: Callable[[str], None] = None):
        self.c = config
        self.out = Path(config.out_dir)
        self.tasks = task_steps(config)
        self.runs = plan_runs(config)
        self.selected = self.runs
        self.progress = progress or (lambda line: print(line, flush=True))

    # -- the plan, as text -------------------------------------------------------------------------------
    def plan_text(self) -> str:
        lines = [f"experiment in {self.out}: {len(self.c.variants)} variant(s) x {len(self.c.seeds)} seed(s) = "
                 f"{len(self.runs)} runs" + (f", {len(self.selected)} selected" if self.selected != self.runs else "")]
        for task in self.tasks.values():
            state = "binarized" if (task.bin_dir / "prepare_report.json").is_file() else "to binarize"
            source = f"built from the catalogs into {task.data_dir}" if task.build else f"from {task.data_dir}"
            lines.append(f"task {task.name}: labels {','.join(task.labels)}; {source}; {state} into {task.bin_dir}")
            lines.append(f"  $ {_quote(task.prepare)}")
        for run in self.selected:
            lines.append(f"run {run.variant} seed {run.seed} (log {run.log}):")
            for step in run.stages:
                command = train_command(self.c, step)
                state = "finished" if stage_finished(step, command) else "to run"
                lines.append(f"  stage {describe(step)} from {step.init or 'scratch'} [{state}]")
                lines.append(f"    $ {_quote(command)}")
            command = evaluate_command(self.c, run)
            state = "finished" if evaluation_finished(run, command) else "to run"
            lines.append(f"  evaluate [{state}]\n    $ {_quote(command)}")
        lines.append(f"report: {self.out / 'report'} (summary.md, groups.md, by_family.png, by_joshi.png, "
                     "by_catalog.png)")
        return "\n".join(lines)

    # -- running -----------------------------------------------------------------------------------------
    def prepare_tasks(self):
        needed = {step.task.name for run in self.selected for step in run.stages}
        for name in sorted(needed):
            task = self.tasks[name]
            task.bin_dir.parent.mkdir(parents=True, exist_ok=True)
            with open(task.bin_dir.parent / ".lock", "w") as lock:  # experiments sharing tasks_dir take turns
                fcntl.flock(lock, fcntl.LOCK_EX)
                self._prepare_task(name, task)

    def _prepare_task(self, name, task):
        log = task.bin_dir.parent / "prepare.log"
        if task.build and not (task.data_dir / CATALOG_REPORT).is_file():
            self.progress(f"weam-experiment: task {name}: building from the catalogs")
            if task.data_dir.exists():
                shutil.rmtree(task.data_dir)
            build_catalog_task(task.data_dir, self.c.tasks[name].catalog)
        if not (task.bin_dir / "prepare_report.json").is_file():
            self.progress(f"weam-experiment: task {name}: binarizing (log {log})")
            if task.bin_dir.exists():
                shutil.rmtree(task.bin_dir)
            _run_logged(task.prepare, log, f"binarize task {name}")

    def run_stage(self, run: RunPlan, step: StageStep, redo: bool, counter: str) -> bool:
        """Run one stage unless finished; return whether it ran (later stages must then run too)."""
        command = train_command(self.c, step)
        head = f"weam-experiment: [{counter}] {run.variant} seed {run.seed}: stage {describe(step)}"
        if not redo and stage_finished(step, command):
            self.progress(f"{head}: finished earlier, skipped")
            return False
        if step.save_dir.exists():
            shutil.rmtree(step.save_dir)
        step.save_dir.mkdir(parents=True)
        start = time.time()
        output = _run_logged(command, run.log, f"stage {describe(step)}")
        if not step.checkpoint.is_file():
            raise StepFailedError(f"stage {step.stage.name} of {run.variant} seed {run.seed}: training ended without "
                                  f"{step.checkpoint} (see {run.log})")
        best = [float(x) for x in _VALID_ACCURACY.findall(output)]
        record = {"command": command, "data": data_fingerprint(step),
                  "checkpoint_bytes": step.checkpoint.stat().st_size,
                  "best_dev_accuracy": max(best) if best else None, "seconds": round(time.time() - start, 1)}
        write_text_atomic(step.save_dir / STAGE_RECORD, json.dumps(record, indent=1) + "\n")
        dev = f", English dev accuracy {record['best_dev_accuracy']:.1f}" if best else ""
        self.progress(f"{head}: done in {record['seconds']:.0f} s{dev}")
        return True

    def run_evaluation(self, run: RunPlan, redo: bool, counter: str):
        command = evaluate_command(self.c, run)
        head = f"weam-experiment: [{counter}] {run.variant} seed {run.seed}: evaluate"
        if not redo and evaluation_finished(run, command):
            self.progress(f"{head}: finished earlier, skipped")
            return
        if run.eval_dir.exists():
            shutil.rmtree(run.eval_dir)
        start = time.time()
        _run_logged(command, run.log, "evaluate")
        results = _read_json(run.results)
        if results is None:
            raise StepFailedError(f"evaluation of {run.variant} seed {run.seed} wrote no {run.results} (see {run.log})")
        write_text_atomic(run.eval_dir / EVAL_RECORD, json.dumps({"command": command}, indent=1) + "\n")
        average = (results.get("standard") or {}).get("average")
        self.progress(f"{head}: done in {time.time() - start:.0f} s"
                      + (f", average accuracy {average:.1f}" if average is not None else ""))

    def select(self, variants=None, seeds=None):
        """Keep only these variants / seeds (to share an experiment between machines); unknown ones refused."""
        for what, asked, known in (("variant", variants, list(self.c.variants)), ("seed", seeds, list(self.c.seeds))):
            unknown = [x for x in asked or () if x not in known]
            if unknown:
                raise ExperimentSelectionError(f"--{what}s: no {what} {', '.join(map(str, unknown))} in the config "
                                               f"({', '.join(map(str, known))})")
        self.selected = [r for r in self.runs if (not variants or r.variant in variants)
                         and (not seeds or r.seed in seeds)]

    def run(self):
        """Run the selected runs; the report once every run of the experiment has its results (else None)."""
        runs = self.selected
        self.prepare_tasks()
        total = sum(len(r.stages) + 1 for r in runs)
        done = 0
        for run in runs:
            with run_lock(run):
                redo = False
                for step in run.stages:
                    done += 1
                    redo = self.run_stage(run, step, redo, f"{done}/{total}") or redo
                done += 1
                self.run_evaluation(run, redo, f"{done}/{total}")
        waiting = [r for r in self.runs if not evaluation_finished(r, evaluate_command(self.c, r))]
        if waiting:
            self.progress(f"weam-experiment: no report yet: {len(waiting)} run(s) of the experiment unfinished "
                          f"({', '.join(f'{r.variant} seed {r.seed}' for r in waiting[:4])}"
                          f"{', ...' if len(waiting) > 4 else ''}); the last one to finish writes it")
            return None
        from fairseq_weam.experiments.grouped_report import write_report  # matplotlib only when reporting
        return write_report(self.c, self.runs, self.out / "report")

