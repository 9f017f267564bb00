"""The full zero-shot evaluation of one fine-tuned checkpoint, as one results dict.

Accuracies are percentages. Sections switched off by their settings are ``None`` in the results, so the
JSON always has the same keys. ``majority_class`` is computed from the gold labels alone. A single-sentence
task has no generalized setting (one text column, nothing to mix across languages): ``generalized`` is
``None`` and ``generalized_skipped`` says why. Test files without labels are predicted (submission layout)
and listed under ``unscored``; when no file has labels, ``standard`` is ``None`` and nothing is scored.
"""
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import List, Optional

import torch

from fairseq_weam.evaluation import zero_shot
from fairseq_weam.evaluation.attacks import pgd_attack_accuracy, synonym_attack_accuracy
from fairseq_weam.evaluation.classifier import PairClassifier
from fairseq_weam.evaluation.smoothing import smoothed_accuracy
from fairseq_weam.xtreme.io import XtremeDataError, check_parallel, is_labelled, is_single_sentence, read_test_sets
from fairseq_weam.xtreme.predictions import write_labels, write_predictions
from fairseq_weam.robust.embedding_attack import PGDSettings
from fairseq_weam.robust.synonym_substitution import SynonymSubstituter, load_neighbours


@dataclass
class EvaluationSettings:
    checkpoint: str
    task_dir: str
    spm_model: str
    dictionary: str
    labels: Optional[List[str]] = None  # class-id order; None: the order the checkpoint was fine-tuned with
    langs: Optional[List[str]] = None
    generalized: bool = True
    limit: int = 0                 # first N rows of every test set (0: all)
    max_len: int = 128
    batch_size: int = 32
    device: str = "cpu"
    seed: int = 1
    smooth_copies: int = 0         # 0: no smoothed prediction
    smooth_sigma: float = 0.1
    neighbours: Optional[str] = None  # None: no synonym attack
    attack_budget: int = 2
    attack_limit: int = 0          # first N rows attacked per language (0: all)
    pgd_eps: float = 0.0           # 0: no PGD attack
    pgd_norm: str = "l2"
    pgd_steps: int = 5
    pgd_step_size: float = 0.0     # 0: 2.5 * eps / steps (Madry et al.)
    label_dict: Optional[str] = None  # None: label/dict.txt of the fine-tuning data dir named in the checkpoint
    task: Optional[str] = None     # XTREME task name (xnli, pawsx): names the predictions folder
    out_dir: Optional[str] = None  # gold labels go to OUT_DIR/labels/<task>/ (None: not written)
    predictions_dir: Optional[str] = None  # default OUT_DIR/predictions; predictions go to <dir>/<task>/
    version: str = "xtreme-r"


def _per_language(test_sets, score):
    accuracy = {lang: score(examples) for lang, examples in test_sets.items()}
    return {"accuracy": accuracy, "average": zero_shot.mean(accuracy.values())}


def _write_submission(s: EvaluationSettings, test_sets, predictions) -> Optional[str]:
    """Predictions (and gold labels) in the XTREME submission layout; the folder, or None without a task name
    or an output dir."""
    if not s.task or not (s.out_dir or s.predictions_dir):
        return None
    folder = Path(s.predictions_dir or Path(s.out_dir) / "predictions")
    for lang, examples in test_sets.items():
        write_predictions(folder, s.task, lang, predictions[lang], s.version)
        if s.out_dir and is_labelled(examples):
            write_labels(Path(s.out_dir) / "labels", s.task, lang, [ex.label for ex in examples], s.version)
    return str(folder / s.task)


def _predict_only(s: EvaluationSettings, classifier, all_sets, unscored, started) -> dict:
    """No test file has labels: predictions in the submission layout, nothing scored."""
    if not s.task:
        raise XtremeDataError(f"{s.task_dir}: no test file has labels, and without --task there is no "
                              "submission layout to predict into; give --task xnli|pawsx or labelled test files")
    predictions = {lang: [classifier.labels[i] for i in classifier.predict(ex).tolist()]
                   for lang, ex in all_sets.items()}
    return {"settings": asdict(s), "languages": [], "unscored": unscored, "standard": None,
            "predictions": _write_submission(s, all_sets, predictions), "seconds": round(time.time() - started, 2)}


def run_evaluation(s: EvaluationSettings, progress=print) -> dict:
    torch.manual_seed(s.seed)
    started = time.time()
    classifier = PairClassifier.from_checkpoint(s.checkpoint, s.spm_model, s.dictionary, s.labels, s.max_len,
                                                s.batch_size, s.device, s.label_dict)
    s = replace(s, labels=classifier.labels)
    all_sets = read_test_sets(s.task_dir, s.labels, s.langs, allow_unlabelled=True)
    if s.limit:
        all_sets = {lang: ex[:s.limit] for lang, ex in all_sets.items()}
    # test files without labels (XTREME strips them) are predicted for the submission layout, never scored
    test_sets = {lang: ex for lang, ex in all_sets.items() if is_labelled(ex)}
    unscored = [lang for lang in all_sets if lang not in test_sets]
    if unscored:
        progress(f"no labels in test-{{{','.join(unscored)}}}.tsv: predicted for the submission layout, not scored")
    if not test_sets:
        return _predict_only(s, classifier, all_sets, unscored, started)
    single = is_single_sentence(next(iter(test_sets.values())))
    if s.generalized and len(test_sets) > 1 and not single:
        check_parallel(s.task_dir, test_sets)
    results = {"settings": asdict(s), "languages": list(test_sets), "unscored": unscored,
               "task_kind": "single_sentence" if single else "sentence_pair"}
    progress("standard setting")
    predictions = {}
    results["standard"] = zero_shot.standard_accuracy(classifier, test_sets, predictions)
    for lang in unscored:
        predictions[lang] = [classifier.labels[i] for i in classifier.predict(all_sets[lang]).tolist()]
    results["predictions"] = _write_submission(s, all_sets, predictions)
    results["majority_class"] = zero_shot.majority_class_accuracy(test_sets)
    results["generalized"] = None
    results["generalized_skipped"] = "single-sentence task: no l1 x l2 matrix" if single else None
    if s.generalized and len(test_sets) > 1 and not single:
        progress("generalized setting")
        results["generalized"] = zero_shot.generalized_accuracy(classifier, test_sets, results["standard"])
    results["smoothed"] = None
    if s.smooth_copies:
        progress(f"smoothed prediction ({s.smooth_copies} copies, sigma {s.smooth_sigma})")
        results["smoothed"] = {"copies": s.smooth_copies, "sigma": s.smooth_sigma, **_per_language(
            test_sets, lambda ex: smoothed_accuracy(classifier, ex, s.smooth_copies, s.smooth_sigma, s.seed))}
    results["synonym_attack"] = None
    if s.neighbours:
        progress(f"synonym-substitution attack (budget {s.attack_budget})")
        substituter = SynonymSubstituter(load_neighbours(s.neighbours))
        attacked = {lang: ex[:s.attack_limit] if s.attack_limit else ex for lang, ex in test_sets.items()}
        details = {lang: synonym_attack_accuracy(classifier, ex, substituter, s.attack_budget)
                   for lang, ex in attacked.items()}
        clean = {lang: classifier.accuracy(ex) for lang, ex in attacked.items()}
        results["synonym_attack"] = {
            "budget": s.attack_budget, "examples": {lang: len(ex) for lang, ex in attacked.items()},
            "clean_accuracy": clean,
            "accuracy": {lang: d["accuracy"] for lang, d in details.items()},
            "average": zero_shot.mean(d["accuracy"] for d in details.values()),
            "mean_words_changed": {lang: d["mean_words_changed"] for lang, d in details.items()},
            "attackable_share": {lang: d["attackable_share"] for lang, d in details.items()},
        }
    results["pgd_attack"] = None
    if s.pgd_eps > 0:
        step = s.pgd_step_size or 2.5 * s.pgd_eps / max(s.pgd_steps, 1)
        settings = PGDSettings(eps=s.pgd_eps, step_size=step, steps=s.pgd_steps, norm=s.pgd_norm, random_init=True)
        progress(f"embedding PGD attack ({s.pgd_norm}, eps {s.pgd_eps}, {s.pgd_steps} steps)")
        results["pgd_attack"] = {"eps": s.pgd_eps, "norm": s.pgd_norm, "steps": s.pgd_steps, "step_size": step,
                                 **_per_language(test_sets, lambda ex: pgd_attack_accuracy(classifier, ex, settings,
                                                                                           s.seed))}
    results["seconds"] = round(time.time() - started, 2)
    return results
