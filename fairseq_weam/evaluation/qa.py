"""Evaluate an ``xtreme_qa`` checkpoint on XQuAD / MLQA / TyDiQA-GoldP test files, zero-shot from English.

For every test language: the windows of each question (``fairseq_weam.xtreme.qa``, the same encoding as
training), start/end logits from the span head, n-best decoding back to a character span of the context,
predictions written as ``PRED_DIR/<task>/test-<lang>.json`` (``{id: answer text}``, the submission layout)
and the gold as ``OUT/labels/<task>/test-<lang>.json``, scored by ``fairseq_weam.xtreme.metrics`` (SQuAD
normalization; MLQA's language-specific one). Test files whose answers XTREME removed (every answer text
empty) get predictions but no score (listed under ``unscored``). MLQA G-XLT (``request.generalized``, files
``test-context-<c>-question-<q>.json``): EM/F1 of every question-language x context-language pair found,
scored with the context language's normalization; their predictions go to ``OUT/generalized/mlqa/``.
"""
import time
from pathlib import Path
from typing import Dict, List, Sequence

import torch
from fairseq import checkpoint_utils
from fairseq.data import data_utils

import fairseq_weam  # noqa: F401  (registers the task and criterion; guarded checkpoint reads)
from fairseq_weam.atomic import write_text_atomic
from fairseq_weam.criterions.xtreme_qa import span_logits
from fairseq_weam.evaluation.classifier import CheckpointMismatchError
from fairseq_weam.tasks.xtreme_qa import XtremeQATask
from fairseq_weam.xtreme import qa
from fairseq_weam.xtreme.metrics import score_language
from fairseq_weam.xtreme.predictions import format_file, write_labels, write_predictions
from fairseq_weam.xtreme.requests import task_results

METRICS = ("exact_match", "f1")


def load_qa_model(checkpoint, dictionary, device="cpu"):
    """(model, task) of an ``xtreme_qa`` checkpoint, read weights-only, with the given ``dict.txt``."""
    state = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint))
    cfg = state["cfg"]
    name = cfg["task"].get("_name")
    if name != "xtreme_qa":
        raise CheckpointMismatchError(f"{checkpoint} was trained with task {name!r}, not xtreme_qa; pass a "
                                      "checkpoint fine-tuned with fairseq-train --task xtreme_qa")
    data_dict = XtremeQATask.load_dictionary(str(dictionary))
    rows = state["model"]["encoder.sentence_encoder.embed_tokens.weight"].shape[0]
    if rows != len(data_dict):
        raise CheckpointMismatchError(
            f"{checkpoint} has a vocabulary of {rows} embeddings but {dictionary} gives {len(data_dict)} "
            "(its symbols + 4 specials + <mask>): pass the dict.txt the model was trained with")
    task = XtremeQATask(cfg.task, data_dict)
    models, _, task = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)], task=task, state=state)
    return models[0].to(device).eval(), task


class SpanPredictor:
    """Answers for SQuAD-format examples from an ``xtreme_qa`` model."""

    def __init__(self, model, task, encoder: qa.QAEncoder, batch_size=32, device="cpu", n_best=20,
                 max_answer_len=30):
        self.model, self.task, self.encoder = model, task, encoder
        self.dictionary = task.source_dictionary
        self.batch_size, self.device = batch_size, device
        self.n_best, self.max_answer_len = n_best, max_answer_len

    def tokens(self, window: qa.Window) -> torch.Tensor:
        return self.dictionary.encode_line(window.line(), append_eos=True, add_if_not_exist=False).long()

    def window_logits(self, windows: Sequence[qa.Window]) -> List:
        """T x 2 numpy logits of each window (its own length)."""
        out = []
        for start in range(0, len(windows), self.batch_size):
            tokens = [self.tokens(w) for w in windows[start:start + self.batch_size]]
            src = data_utils.collate_tokens(tokens, self.dictionary.pad()).to(self.device)
            with torch.no_grad():
                logits = span_logits(self.model, self.task.cfg.span_head_name, src).cpu().numpy()
            out.extend(logits[k, :len(t)] for k, t in enumerate(tokens))
        return out

    def predict(self, examples: Sequence[qa.QAExample]) -> Dict[str, str]:
        per_example = [self.encoder.windows(ex) for ex in examples]
        flat = [w for windows in per_example for w in windows]
        logits = self.window_logits(flat)
        answers, position = {}, 0
        for ex, windows in zip(examples, per_example):
            answers[ex.qid] = qa.decode(ex, windows, logits[position:position + len(windows)], self.n_best,
                                        self.max_answer_len)
            position += len(windows)
        return answers


def _labelled(data) -> bool:
    return any(a["text"] for article in data for paragraph in article["paragraphs"]
               for question in paragraph["qas"] for a in question["answers"])


def _read(path, limit):
    examples, data = qa.read_squad(path)
    if limit:
        examples = examples[:limit]
        data = qa.select_data(data, [ex.qid for ex in examples])
    return examples, data


def evaluate(request, progress=print) -> dict:
    """Predict, write and score every test language of a QA task (``request``: ``EvaluateRequest``)."""
    began = time.time()
    out_dir = Path(request.out_dir)
    predictions_dir = Path(request.predictions_dir) if request.predictions_dir else out_dir / "predictions"
    tests = qa.test_files(request.task, request.task_dir, request.langs)
    model, task = load_qa_model(request.checkpoint, request.dictionary, request.device)
    max_len = min(request.max_len, model.encoder.max_positions())
    encoder = qa.QAEncoder(request.spm_model, max_len, request.doc_stride, request.max_query_len)
    predictor = SpanPredictor(model, task, encoder, request.batch_size, request.device, request.n_best,
                              request.max_answer_len)
    scores, unscored, mismatched = {}, [], {}
    for lang, path in tests.items():
        examples, data = _read(path, request.limit)
        answers = predictor.predict(examples)
        written = write_predictions(predictions_dir, request.task, lang, answers, request.version)
        if sum(len(ex.mismatched) for ex in examples):
            mismatched[str(path)] = [ex.qid for ex in examples if ex.mismatched]
        if not _labelled(data):
            unscored.append(lang)
            progress(f"{request.task} {lang}: {path} has no answers (XTREME removed them); predictions only")
            continue
        write_labels(out_dir / "labels", request.task, lang, data, request.version)
        scores[lang] = score_language(request.task, data, answers, lang, where=str(written))
        progress(f"{request.task} {lang}: EM {scores[lang]['exact_match']:.2f} F1 {scores[lang]['f1']:.2f} "
                 f"({len(examples)} questions)")
    generalized = None
    if request.generalized:
        generalized = _generalized(request, predictor, scores, out_dir, progress)
    average = {m: sum(s[m] for s in scores.values()) / len(scores) for m in METRICS} if scores else {}
    avg_metric = (average["exact_match"] + average["f1"]) / 2 if scores else None
    settings = {"max_len": max_len, "doc_stride": request.doc_stride, "max_query_len": request.max_query_len,
                "n_best": request.n_best, "max_answer_len": request.max_answer_len, "limit": request.limit,
                "checkpoint": str(request.checkpoint), "version": request.version}
    return task_results(request.task, list(tests), scores, "f1", average, avg_metric,
                        predictions_dir / request.task, settings, round(time.time() - began, 2),
                        generalized=generalized,
                        extra={"unscored": unscored, "mismatched_answers": mismatched})


def _generalized(request, predictor, scores, out_dir, progress):
    """MLQA G-XLT: ``{metric: {question lang: {context lang: value}}}`` (None when no pair file exists)."""
    langs = list(scores)
    pairs = qa.generalized_files(request.task, request.task_dir, langs)
    if not pairs:
        return None
    matrix = {m: {q: {} for q in langs} for m in METRICS}
    for q in langs:
        for m in METRICS:
            matrix[m][q][q] = scores[q][m]
    for (q, c), path in pairs.items():
        examples, data = _read(path, request.limit)
        if not _labelled(data):
            continue
        answers = predictor.predict(examples)
        target = out_dir / "generalized" / request.task / path.name
        write_text_atomic(target, format_file(request.task, answers))
        figures = score_language(request.task, data, answers, c, where=str(target))
        for m in METRICS:
            matrix[m][q][c] = figures[m]
    progress(f"{request.task} G-XLT: {len(pairs)} question x context language pairs")
    return {"rows": "question language", "columns": "context language", **matrix}
