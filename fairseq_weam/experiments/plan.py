"""The plan of an experiment: which tasks are built and binarized, and for every variant x seed the ordered
stages (each fine-tuned from the previous stage's best checkpoint) and the evaluation, as commands.

Layout under ``out_dir``: ``tasks/<task>/data`` (a catalog task's files) and ``tasks/<task>/bin``
(binarized; ``tasks_dir`` puts them elsewhere); ``runs/<variant>/seed<k>/<i>-<stage>/`` (checkpoints,
``stage.json`` once finished), ``runs/<variant>/seed<k>/eval/`` and ``runs/<variant>/seed<k>/run.log``;
``report/``.

A stage's classification head is named after its label set (``head_<hash>``): a stage whose label set
differs from the previous one's gets a fresh head (fairseq drops a checkpoint's heads the model does not
have), one with the same labels keeps training the head it inherits.
"""
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from fairseq_weam.experiments.config import ExperimentConfig, StageConfig, apply_overrides, task_labels

USER_DIR = Path(__file__).resolve().parents[1]
UPDATES = "<updates>"  # in a dry run, before the task is binarized


@dataclass
class TaskStep:
    name: str
    data_dir: Path            # raw XTREME-layout dir (built first for a catalog task)
    bin_dir: Path
    labels: List[str]
    build: bool               # a catalog task to build into data_dir
    prepare: List[str] = field(default_factory=list)


@dataclass
class StageStep:
    index: int
    stage: StageConfig
    task: TaskStep
    save_dir: Path
    init: Optional[Path]      # checkpoint it starts from (None: from scratch)
    seed: int

    @property
    def checkpoint(self) -> Path:
        return self.save_dir / "checkpoint_best.pt"


@dataclass
class RunPlan:
    variant: str
    seed: int
    run_dir: Path
    stages: List[StageStep]
    eval_dir: Path

    @property
    def log(self) -> Path:
        return self.run_dir / "run.log"

    @property
    def results(self) -> Path:
        return self.eval_dir / "results.json"


def resolve(command: List[str]) -> List[str]:
    """A bare program name found beside this Python (the venv's bin) is called by that path."""
    beside = Path(sys.executable).parent / command[0]
    return [str(beside), *command[1:]] if "/" not in command[0] and beside.is_file() else list(command)


def head_name(labels) -> str:
    return "head_" + hashlib.sha1(",".join(labels).encode("utf-8")).hexdigest()[:8]


def task_steps(c: ExperimentConfig) -> dict:
    root = Path(c.tasks_dir) if c.tasks_dir else Path(c.out_dir) / "tasks"
    steps = {}
    for name, task in c.tasks.items():
        build = task.catalog is not None
        data_dir = Path(task.dir) if not build else root / name / "data"
        bin_dir = root / name / "bin"
        labels = task_labels(task)
        prepare = [*resolve(c.commands.prepare), str(data_dir), "--destdir", str(bin_dir), "--labels", ",".join(labels),
                   "--spm-model", c.start.spm_model, "--dict", c.start.dict, "--max-len", str(c.training.max_len),
                   "--no-generalized", "--workers", "1"]
        steps[name] = TaskStep(name, data_dir, bin_dir, labels, build, prepare)
    return steps


def stage_order(c: ExperimentConfig, variant: str) -> List[StageConfig]:
    v = c.variants[variant]
    by_name = {s.name: s for s in c.stages}
    order = [by_name[n] for n in v.order] if v.order is not None else list(c.stages)
    stages = order + [c.target]
    return [apply_overrides(s, v.stages[s.name]) if s.name in v.stages else s for s in stages]


def plan_runs(c: ExperimentConfig) -> List[RunPlan]:
    tasks = task_steps(c)
    runs = []
    for variant in c.variants:
        for seed in c.seeds:
            run_dir = Path(c.out_dir) / "runs" / variant / f"seed{seed}"
            steps, init = [], Path(c.start.checkpoint) if c.start.checkpoint else None
            for i, stage in enumerate(stage_order(c, variant), 1):
                step = StageStep(i, stage, tasks[stage.task], run_dir / f"{i}-{stage.name}", init, seed)
                steps.append(step)
                init = step.checkpoint
            runs.append(RunPlan(variant, seed, run_dir, steps, run_dir / "eval"))
    return runs


def train_size(task: TaskStep) -> Optional[int]:
    report = task.bin_dir / "prepare_report.json"
    if not report.is_file():
        return None
    return json.loads(report.read_text(encoding="utf-8"))["subsets"]["train"]["examples"]


def train_command(c: ExperimentConfig, step: StageStep) -> List[str]:
    s, size = step.stage, train_size(step.task)
    updates = str(-(-size // c.training.batch_size) * s.epochs) if size is not None else UPDATES
    settings = []
    for key, value in s.settings.items():
        settings += [f"--{key.replace('_', '-')}", str(value)]
    init = ["--finetune-from-model", str(step.init)] if step.init is not None else []
    return [
        *resolve(c.commands.train), str(step.task.bin_dir), "--user-dir", str(USER_DIR),
        "--task", "sentence_prediction", "--num-classes", str(len(step.task.labels)),
        "--init-token", "0", "--separator-token", "2",
        *c.start.arch, *init,
        "--criterion", "robust_sentence_prediction", "--robust-method", s.method,
        "--classification-head-name", head_name(step.task.labels), *settings,
        "--optimizer", "adam", "--adam-betas", "(0.9,0.999)", "--adam-eps", "1e-8", "--weight-decay", "0.0",
        "--clip-norm", "1.0", "--lr-scheduler", "polynomial_decay", "--lr", str(s.lr), "--warmup-updates", "0",
        "--total-num-update", updates, "--max-epoch", str(s.epochs), "--batch-size", str(c.training.batch_size),
        "--seed", str(step.seed), "--valid-subset", "valid", "--best-checkpoint-metric", "accuracy",
        "--maximize-best-checkpoint-metric", "--no-epoch-checkpoints", "--save-dir", str(step.save_dir),
        "--log-format", "simple", "--log-interval", "50", *c.training.extra_args,
    ]


def evaluate_command(c: ExperimentConfig, run: RunPlan) -> List[str]:
    last = run.stages[-1]
    langs = list(dict.fromkeys(["en", *c.evaluation.langs])) if c.evaluation.langs else []
    return [*resolve(c.commands.evaluate), "--checkpoint", str(last.checkpoint), "--task-dir", str(last.task.data_dir),
            "--spm-model", c.start.spm_model, "--dict", c.start.dict, "--out-dir", str(run.eval_dir),
            "--seed", str(run.seed), "--max-len", str(c.training.max_len),
            *(["--langs", ",".join(langs)] if langs else []), *c.evaluation.extra_args]


def describe(step: StageStep) -> str:
    s = step.stage
    extra = "".join(f", {k}={v}" for k, v in s.settings.items())
    return (f"{step.index}-{s.name} (task {s.task}, {len(step.task.labels)} labels, method {s.method}{extra}, "
            f"{s.epochs} epoch{'s' if s.epochs != 1 else ''}, lr {s.lr})")
