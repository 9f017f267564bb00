"""Evaluate an ``xtreme_tagging`` checkpoint on UD-POS / PAN-X test files, zero-shot from English.

For every test language: each sentence encoded as in training (``fairseq_weam.xtreme.tagging``: per-word
pieces, sentences longer than ``--max-len`` cut at word boundaries into chunks), the token head's argmax at
each word's first piece, chunks joined back, so every input word gets a predicted tag (a single word longer
than the piece budget keeps its first piece, which carries its tag). Predictions go to
``PRED_DIR/<task>/test-<lang>.tsv`` (one tag per word, a blank line between sentences: the submission
layout), the gold to ``OUT/labels/<task>/test-<lang>.tsv``; scores come from ``fairseq_weam.xtreme.metrics``
(seqeval, as the official scorer). A test file without tags (XTREME's public test files) gets predictions
but no score: it is listed under ``unscored``.
"""
import time
from pathlib import Path
from typing import List, Sequence

import numpy as np
import torch
from fairseq import checkpoint_utils
from fairseq.data import data_utils

import fairseq_weam  # noqa: F401  (registers the task; guarded checkpoint reads)
from fairseq_weam.evaluation.classifier import CheckpointMismatchError
from fairseq_weam.tasks.xtreme_tagging import XtremeTaggingTask
from fairseq_weam.xtreme import tagging
from fairseq_weam.xtreme.labels import finetuned_label_order, label_dictionary
from fairseq_weam.xtreme.metrics import TASK_METRICS, score_language
from fairseq_weam.xtreme.predictions import write_labels, write_predictions
from fairseq_weam.xtreme.requests import task_results


def load_tagger(checkpoint, dictionary, task_name, device="cpu"):
    """(model, task, tags in class-id order) of an ``xtreme_tagging`` checkpoint, read weights-only.

    The tags are the label dictionary of the data the model was fine-tuned on (``label/dict.txt`` of its
    data dir); when that dir is gone, the official tag set of ``task_name``, which prepare() writes.
    """
    state = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint))
    cfg = state["cfg"]
    if cfg["task"].get("_name") != "xtreme_tagging":
        raise CheckpointMismatchError(f"{checkpoint} was trained with task {cfg['task'].get('_name')!r}, not "
                                      "xtreme_tagging; pass a checkpoint fine-tuned with --task xtreme_tagging")
    source = XtremeTaggingTask.load_dictionary(str(dictionary))
    source.add_symbol("<mask>")  # as the task adds it
    rows = state["model"]["encoder.sentence_encoder.embed_tokens.weight"].shape[0]
    if rows != len(source):
        raise CheckpointMismatchError(
            f"{checkpoint} has a vocabulary of {rows} embeddings but {dictionary} gives {len(source)} "
            "(its symbols + 4 specials + <mask>): pass the dict.txt the model was trained with")
    found = finetuned_label_order(cfg["task"].get("data"))
    tags = found[0] if found else tagging.task_tags(task_name)
    head = f"classification_heads.{cfg['task'].get('classification_head_name')}.out_proj.weight"
    classes = state["model"][head].shape[0] if head in state["model"] else None
    if classes != len(tags):
        raise CheckpointMismatchError(f"{checkpoint} predicts {classes} tags but {task_name}'s tag set has "
                                      f"{len(tags)} ({', '.join(tags)}): is it a {task_name} tagger?")
    task = XtremeTaggingTask(cfg.task, source, label_dictionary(tags))
    models, _, task = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)], task=task, state=state)
    return models[0].to(device).eval(), task, tags


class Tagger:
    """One tag per word for sentences, from an ``xtreme_tagging`` model."""

    def __init__(self, model, task, tags, encoder: tagging.WordEncoder, batch_size=32, device="cpu"):
        self.model, self.task, self.tags, self.encoder = model, task, list(tags), encoder
        self.dictionary = task.source_dictionary
        self.head = task.cfg.classification_head_name
        self.batch_size, self.device = batch_size, device

    def tokens(self, chunk: tagging.Chunk) -> torch.Tensor:
        pieces = self.dictionary.encode_line(" ".join(chunk.pieces), append_eos=True, add_if_not_exist=False)
        return torch.cat([torch.tensor([self.dictionary.bos()]), pieces.long()])

    def chunk_tags(self, chunks: Sequence[tagging.Chunk]) -> List[List[str]]:
        out = []
        for start in range(0, len(chunks), self.batch_size):
            batch = chunks[start:start + self.batch_size]
            src = data_utils.collate_tokens([self.tokens(c) for c in batch], self.dictionary.pad()).to(self.device)
            with torch.no_grad():
                logits, _ = self.model(src, features_only=True, classification_head_name=self.head)
            best = logits.argmax(-1).cpu().numpy()
            for k, chunk in enumerate(batch):  # +1: the <s> before the pieces
                out.append([self.tags[i] for i in best[k, np.asarray(chunk.word_starts, dtype=np.int64) + 1]])
        return out

    def predict(self, sentences: Sequence[Sequence[str]]) -> List[List[str]]:
        """The predicted tags of each sentence (lists of words), one per word."""
        per_sentence = [self.encoder.chunks(words)[0] for words in sentences]
        flat = self.chunk_tags([c for chunks in per_sentence for c in chunks])
        out, position = [], 0
        for chunks in per_sentence:
            out.append([tag for tags in flat[position:position + len(chunks)] for tag in tags])
            position += len(chunks)
        return out


def evaluate(request, progress=print) -> dict:
    """Predict and score every test language of a tagging task dir (``request``: an ``EvaluateRequest``)."""
    started = time.time()
    tagging.task_tags(request.task)
    files = tagging.test_files(request.task_dir, request.langs)
    model, task, tags = load_tagger(request.checkpoint, request.dictionary, request.task, request.device)
    encoder = tagging.WordEncoder(request.spm_model, min(request.max_len, model.encoder.max_positions()))
    tagger = Tagger(model, task, tags, encoder, request.batch_size, request.device)
    out_dir = Path(request.out_dir)
    predictions_dir = Path(request.predictions_dir) if request.predictions_dir else out_dir / "predictions"
    scores, unscored = {}, []
    for lang, path in files.items():
        sentences = tagging.read_tagged(path, tags, require_tags=False)
        if request.limit:
            sentences = sentences[:request.limit]
        predicted = tagger.predict([s.words for s in sentences])
        written = write_predictions(predictions_dir, request.task, lang, predicted, request.version)
        if sentences and sentences[0].tags is not None:
            gold = [list(s.tags) for s in sentences]
            write_labels(out_dir / "labels", request.task, lang, gold, request.version)
            scores[lang] = score_language(request.task, gold, predicted, lang, where=str(written))
            progress(f"{request.task} {lang}: f1 {scores[lang]['f1']:.2f} ({len(sentences)} sentences)")
        else:
            unscored.append(lang)
            progress(f"{request.task} {lang}: {len(sentences)} sentences predicted (no gold tags: not scored)")
    average = {m: float(np.mean([s[m] for s in scores.values()])) for m in TASK_METRICS[request.task]} \
        if scores else {}
    settings = {"checkpoint": str(request.checkpoint), "max_len": encoder.max_len, "limit": request.limit,
                "tags": tags}
    return task_results(request.task, list(scores), scores, "f1", average, average.get("f1"),
                        predictions_dir / request.task, settings, time.time() - started,
                        extra={"unscored": unscored})
