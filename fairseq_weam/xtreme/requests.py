"""What ``weam-xtreme-prepare`` and ``weam-evaluate`` ask of a task family, in one shape for every family.

The CLIs build a request from their flags and hand it to the family's module (:data:`PREPARERS`,
:data:`EVALUATORS`), whose ``prepare(request, progress)`` / ``evaluate(request, progress)`` does the work.
A family's evaluation returns one results dict of the shape :func:`task_results` documents and writes its
test predictions in the XTREME submission layout (``fairseq_weam.xtreme.predictions``).
"""
import importlib
from dataclasses import dataclass
from typing import List, Optional

from fairseq_weam.xtreme.benchmark import family

#: family -> module with ``prepare(request: PrepareRequest, progress) -> report dict``
PREPARERS = {
    "tagging": "fairseq_weam.xtreme.tagging",
    "qa": "fairseq_weam.xtreme.qa",
    "multiple_choice": "fairseq_weam.xtreme.xcopa",
}

#: family -> module with ``evaluate(request: EvaluateRequest, progress) -> results dict``
EVALUATORS = {
    "tagging": "fairseq_weam.evaluation.tagging",
    "qa": "fairseq_weam.evaluation.qa",
    "multiple_choice": "fairseq_weam.evaluation.multiple_choice",
    "retrieval": "fairseq_weam.evaluation.retrieval_tasks",
}


@dataclass
class PrepareRequest:
    task: str                      # an XTREME task name (fairseq_weam.xtreme.benchmark.TASK_FAMILY)
    task_dir: str                  # the task's folder as XTREME's download scripts lay it out
    dest: str                      # output dir (must not exist or be empty); appears atomically
    spm_model: str
    dictionary: str
    langs: Optional[List[str]] = None   # test languages (default: every one found)
    max_len: int = 128             # max pieces per model input, special tokens included (QA: 384)
    workers: int = 1
    doc_stride: int = 128          # QA: overlap step of the windows over a long context
    max_query_len: int = 64        # QA: max pieces of the question
    generalized: bool = True       # QA: also the question-language x context-language subsets (MLQA G-XLT)
    train_file: Optional[str] = None    # QA: the English training file (default: the family's usual name)


@dataclass
class EvaluateRequest:
    task: str
    checkpoint: str
    task_dir: str
    spm_model: str
    dictionary: str
    out_dir: str
    predictions_dir: Optional[str] = None  # default: OUT_DIR/predictions (files go to <dir>/<task>/)
    langs: Optional[List[str]] = None
    limit: int = 0                 # first N examples per test language (0: all)
    max_len: int = 128
    batch_size: int = 32
    device: str = "cpu"
    seed: int = 1
    generalized: bool = True       # QA (MLQA G-XLT): question in one language, context in another
    doc_stride: int = 128          # QA
    max_query_len: int = 64        # QA
    max_answer_len: int = 30       # QA: max pieces of a predicted answer
    n_best: int = 20               # QA: start/end candidates kept per window
    layer: int = -1                # retrieval: encoder layer whose mean-pooled states are compared (-1: last)
    version: str = "xtreme-r"      # which benchmark's language list decides the default languages


def preparer(task: str):
    return importlib.import_module(PREPARERS[family(task)])


def evaluator(task: str):
    return importlib.import_module(EVALUATORS[family(task)])


def task_results(task, languages, scores, main_metric, average, avg_metric, predictions, settings, seconds,
                 generalized=None, extra=None) -> dict:
    """The results dict every non-classification family returns (written to results.json as is).

    ``scores``: ``{lang: {metric: value}}`` computed by ``fairseq_weam.xtreme.metrics`` (the official scorer's
    names: accuracy, f1, precision, recall, exact_match, map@20); ``average``: ``{metric: mean over
    languages}``; ``avg_metric``: the official scorer's task figure (QA: mean of EM and F1); ``predictions``:
    the folder ``predictions/<task>`` written; ``generalized``: family-specific (MLQA G-XLT matrix) or None.
    """
    return {"task": task, "family": family(task), "languages": list(languages), "metric": main_metric,
            "scores": scores, "average": average, "avg_metric": avg_metric, "predictions": str(predictions),
            "generalized": generalized, "settings": settings, "seconds": seconds, **(extra or {})}
