"""The experiment config (YAML, read with OmegaConf against the dataclasses below) and its checks.

Everything a run needs is checked before anything runs: unknown keys, missing files and task data, unknown
languages, methods and robust settings; each mistake is one line naming the key (and ``file:line`` where
the key is in the file).
"""
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, List, Optional

from omegaconf import MISSING, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from fairseq_weam.corpus.gettext_catalogs import catalog_paths
from fairseq_weam.errors import WeamError
from fairseq_weam.experiments.catalog_tasks import CatalogTaskSettings
from fairseq_weam.xtreme.languages import lookup

METHODS = ("none", "adversarial", "noise")


class ExperimentConfigError(WeamError, ValueError):
    """A config that cannot be run."""


@dataclass
class StartConfig:
    checkpoint: Optional[str] = field(default=None, metadata={"help": "starting checkpoint (null: from scratch)"})
    dict: str = field(default=MISSING, metadata={"help": "fairseq dict.txt of the model"})
    spm_model: str = field(default=MISSING, metadata={"help": "sentencepiece model of the model"})
    arch: List[str] = field(default_factory=lambda: ["--arch", "roberta_base"],
                            metadata={"help": "fairseq-train architecture flags"})


@dataclass
class TaskConfig:
    dir: Optional[str] = field(default=None, metadata={"help": "an XTREME-layout task dir (train-en, dev-en, test-*)"})
    labels: Optional[List[str]] = field(default=None, metadata={"help": "label set, in class-id order (with dir)"})
    catalog: Optional[CatalogTaskSettings] = field(default=None, metadata={"help": "build the task from the catalogs"})


@dataclass
class StageConfig:
    name: str = field(default=MISSING, metadata={"help": "stage name (unique; variants order stages by it)"})
    task: str = field(default=MISSING, metadata={"help": "a key of tasks"})
    method: str = field(default="none", metadata={"help": "robust method: none, adversarial or noise"})
    settings: Dict[str, str] = field(default_factory=dict,
                                     metadata={"help": "robust criterion flags, e.g. adv_eps: 0.05"})
    epochs: int = field(default=1, metadata={"help": "training epochs"})
    lr: float = field(default=1e-4, metadata={"help": "peak learning rate (linear decay to 0)"})


@dataclass
class TrainingConfig:
    batch_size: int = field(default=32, metadata={"help": "sentences per update"})
    max_len: int = field(default=128, metadata={"help": "max pieces per input"})
    extra_args: List[str] = field(default_factory=list, metadata={"help": "more fairseq-train flags (e.g. --cpu)"})


@dataclass
class EvaluationConfig:
    langs: List[str] = field(default_factory=list, metadata={"help": "test languages (default: every test file)"})
    extra_args: List[str] = field(default_factory=list, metadata={"help": "more weam-evaluate flags"})


@dataclass
class VariantConfig:
    order: Optional[List[str]] = field(default=None, metadata={"help": "stage names in training order "
                                                                        "(default: stages as listed)"})
    stages: Dict[str, Dict[str, Any]] = field(default_factory=dict,
                                              metadata={"help": "per stage name: fields to override"})


@dataclass
class CommandsConfig:
    train: List[str] = field(default_factory=lambda: ["fairseq-train"], metadata={"help": "training command"})
    evaluate: List[str] = field(default_factory=lambda: ["weam-evaluate"], metadata={"help": "evaluation command"})
    prepare: List[str] = field(default_factory=lambda: ["weam-xtreme-prepare"], metadata={"help": "binarizer"})


@dataclass
class ReportConfig:
    measured_bins: List[int] = field(default_factory=lambda: [2000, 20000],
                                     metadata={"help": "translated-message counts splitting low/mid/high"})
    locale_dir: Optional[str] = field(default=None, metadata={"help": "catalogs to measure resource levels on "
                                                                     "(default: the first catalog task's)"})


@dataclass
class ExperimentConfig:
    include: List[str] = field(default_factory=list,
                               metadata={"help": "YAML files (relative to this one) merged in first, in order"})
    out_dir: str = field(default=MISSING, metadata={"help": "where tasks, runs, logs and the report go"})
    tasks_dir: Optional[str] = field(default=None, metadata={"help": "where the tasks are built and binarized "
                                                                     "(default: OUT_DIR/tasks; share it between "
                                                                     "experiments on the same tasks)"})
    start: StartConfig = field(default_factory=StartConfig)
    tasks: Dict[str, TaskConfig] = field(default_factory=dict)
    stages: List[StageConfig] = field(default_factory=list, metadata={"help": "intermediate stages"})
    target: StageConfig = field(default_factory=StageConfig, metadata={"help": "the target-task stage"})
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    seeds: List[int] = field(default_factory=lambda: [1])
    variants: Dict[str, VariantConfig] = field(default_factory=dict,
                                               metadata={"help": "systems to compare "
                                                                 "(default: one, the stages as listed)"})
    commands: CommandsConfig = field(default_factory=CommandsConfig)
    report: ReportConfig = field(default_factory=ReportConfig)


def _where(path, text, key):
    """``file:line`` of a dotted key in the YAML text(s): each component searched from its parent's line on
    (block or flow style); the deepest match wins. ``text``: the file's text, or ``[(file, text), ...]`` (the
    config, then what it includes). Just ``file`` when the key is not written there."""
    parts = [k for k in re.split(r"[.\[\]]", key) if k and not k.isdigit()]
    sources = [(path, text)] if isinstance(text, str) else (text or [])
    best = (0, str(path))
    for source, body in sources:
        lines, start, depth, found = body.splitlines(), 0, 0, None
        for part in parts:
            pattern = re.compile(rf"(^|[\s{{,])(- )?{re.escape(part)}\s*:")
            hit = next((i for i in range(start, len(lines))
                        if not lines[i].lstrip().startswith("#") and pattern.search(lines[i])), None)
            if hit is None:
                break
            start, depth, found = hit, depth + 1, hit
        if found is not None and depth > best[0]:
            best = (depth, f"{source}:{found + 1}")
    return best[1]


def _fail(path, text, key, message):
    raise ExperimentConfigError(f"{_where(path, text, key)}: {key}: {message}")


def load_config(path) -> ExperimentConfig:
    """The checked config of ``path`` (relative paths in it are relative to the working directory)."""
    path = Path(path)
    if not path.is_file():
        raise ExperimentConfigError(f"{path}: no such config file")
    text = [(path, path.read_text(encoding="utf-8"))]
    try:
        raw = OmegaConf.create(text[0][1])
        layers = []
        for name in raw.get("include", None) or []:
            included = path.parent / name
            if not included.is_file():
                _fail(path, text, "include", f"{included} not found")
            text.append((included, included.read_text(encoding="utf-8")))
            layers.append(OmegaConf.create(text[-1][1]))
        cfg = OmegaConf.merge(OmegaConf.structured(ExperimentConfig), *layers, raw)
        OmegaConf.resolve(cfg)
        missing = sorted(OmegaConf.missing_keys(cfg))
        if missing:
            _fail(path, text, missing[0], "required: give it a value")
        config = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or ""
        first = str(err).splitlines()[0]
        unknown = re.match(r"Key '[^']*' not in '(\w+)'", first)
        if unknown:
            known = globals().get(unknown.group(1))
            choices = f": expected one of {', '.join(f.name for f in fields(known))}" if known else ""
            first = f"unknown key{choices}"
        raise ExperimentConfigError(f"{_where(path, text, key) if key else path}: {key or 'config'}: {first}") from None
    check_config(config, path, text)
    return config


def _crit_fields():
    from fairseq_weam.criterions.robust_sentence_prediction import RobustSentencePredictionConfig
    return {f.name for f in fields(RobustSentencePredictionConfig)}


def check_config(c: ExperimentConfig, path="config", text=None):
    """Every check that needs no training: keys, files, languages, stage references."""
    def fail(key, message):
        _fail(path, text, key, message)

    for key, value in (("start.checkpoint", c.start.checkpoint), ("start.dict", c.start.dict),
                       ("start.spm_model", c.start.spm_model)):
        if value is not None and not Path(value).is_file():
            fail(key, f"{value} not found")
    if not c.tasks:
        fail("tasks", "no tasks: declare the intermediate and target tasks")
    for name, task in c.tasks.items():
        key = f"tasks.{name}"
        if (task.dir is None) == (task.catalog is None):
            fail(key, "give exactly one of dir (a task dir) and catalog (built from the catalogs)")
        if task.dir is not None:
            if not task.labels:
                fail(f"{key}.labels", "a task dir needs its label set (labels: [a, b, ...])")
            for needed in ("train-en.tsv", "dev-en.tsv"):
                if not (Path(task.dir) / needed).is_file():
                    fail(f"{key}.dir", f"{Path(task.dir) / needed} not found (missing task data)")
        else:
            cat = task.catalog
            if len(cat.classes) < 2:
                fail(f"{key}.catalog.classes", "at least two classes (label: [gettext domains])")
            for label, domains in cat.classes.items():
                for domain in domains:
                    if not list(Path(cat.locale_dir).glob(f"*/LC_MESSAGES/{domain}.mo")):
                        fail(f"{key}.catalog.classes.{label}", f"no catalog {domain}.mo under {cat.locale_dir}")
            for i, lang in enumerate(list(cat.test_langs) + list(cat.pool_langs)):
                list_key = "test_langs" if i < len(cat.test_langs) else "pool_langs"
                if lookup(lang) is None:
                    fail(f"{key}.catalog.{list_key}", f"unknown language {lang!r} (not in the languages table)")
                if not catalog_paths(lang, cat.locale_dir):
                    fail(f"{key}.catalog.{list_key}", f"no catalogs for {lang!r} under {cat.locale_dir}")
    for lang in c.evaluation.langs:
        if lookup(lang) is None:
            fail("evaluation.langs", f"unknown language {lang!r} (not in fairseq_weam/xtreme/languages.tsv)")
    crit = _crit_fields()
    names = [s.name for s in c.stages]
    if len(set(names)) != len(names) or c.target.name in names:
        fail("stages", f"stage names must be unique (and differ from the target's): {', '.join(names)}")
    for i, stage in enumerate(c.stages + [c.target]):
        _check_stage(stage, "target" if i == len(c.stages) else f"stages[{i}]", c, crit, fail)
    if c.target.task in c.tasks:
        task = c.tasks[c.target.task]
        if task.dir is not None:
            for lang in c.evaluation.langs:
                if not (Path(task.dir) / f"test-{lang}.tsv").is_file():
                    fail("evaluation.langs", f"{Path(task.dir) / f'test-{lang}.tsv'} not found (missing test data)")
        elif c.evaluation.langs:
            absent = [lang for lang in c.evaluation.langs if lang != "en" and lang not in task.catalog.test_langs]
            if absent:
                fail("evaluation.langs", f"{', '.join(absent)}: not among the target task's catalog.test_langs")
    if not c.seeds:
        fail("seeds", "at least one seed")
    if not c.variants:
        c.variants = {"default": VariantConfig()}
    stage_fields = {f.name for f in fields(StageConfig)} - {"name"}
    for vname, variant in c.variants.items():
        if variant.order is not None:
            for name in variant.order:
                if name not in names:
                    fail(f"variants.{vname}.order", f"no stage named {name!r} (stages: {', '.join(names) or 'none'})")
        for sname, overrides in variant.stages.items():
            if sname not in names + [c.target.name]:
                fail(f"variants.{vname}.stages.{sname}", f"no stage named {sname!r}")
            for k in overrides:
                if k not in stage_fields:
                    fail(f"variants.{vname}.stages.{sname}.{k}",
                         f"unknown stage field (fields: {', '.join(sorted(stage_fields))})")
            _check_stage(apply_overrides(_stage_by_name(c, sname), overrides), f"variants.{vname}.stages.{sname}",
                         c, crit, fail)


def _stage_by_name(c, name):
    return c.target if name == c.target.name else next(s for s in c.stages if s.name == name)


def apply_overrides(stage: StageConfig, overrides) -> StageConfig:
    merged = OmegaConf.merge(OmegaConf.structured(stage), OmegaConf.create(dict(overrides)))
    return OmegaConf.to_object(merged)


def _check_stage(stage, key, c, crit, fail):
    if stage.task not in c.tasks:
        fail(f"{key}.task", f"no task named {stage.task!r} (tasks: {', '.join(c.tasks)})")
    if stage.method not in METHODS:
        fail(f"{key}.method", f"{stage.method!r}: expected one of {', '.join(METHODS)}")
    for setting in stage.settings:
        if setting not in crit:
            fail(f"{key}.settings.{setting}", "not a flag of --criterion robust_sentence_prediction")
    if stage.epochs < 1:
        fail(f"{key}.epochs", "at least 1")


def task_labels(task: TaskConfig) -> List[str]:
    return list(task.labels) if task.dir is not None else list(task.catalog.classes)
