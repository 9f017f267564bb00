"""XTREME-R retrieval (Tatoeba, LAReQA, Mewsli-X) with the encoder of any RoBERTa/XLM-R checkpoint.

A text's vector is the mean of its piece states at ``request.layer`` (0: embeddings, i: layer i, -1: last),
``<s>`` and ``</s>`` left out (``fairseq_weam.evaluation.retrieval.encode``); vectors are L2-normalized and
searched exactly by inner product (faiss ``IndexFlatIP``), i.e. by cosine. Heads of a fine-tuned checkpoint
are ignored, so a pre-trained (weam / masked_lm) or a fine-tuned checkpoint both serve.

Which model XTREME-R prescribes (its ``scripts/``): Tatoeba with the model fine-tuned on SQuAD v1.1
(``run_tatoeba.sh``), mean pooling, a middle layer (7 of 12; 13 of 24 for XLM-R large); LAReQA with a dual
encoder fine-tuned on SQuAD retrieval pairs (``train_lareqa.sh``) and Mewsli-X with one fine-tuned on
Wikipedia mention-entity pairs (``train_mewslix.sh``), both pooling the first token. Here: pass the QA
fine-tuned checkpoint (``--task squad`` of this plugin) for Tatoeba with ``--layer`` in the middle; LAReQA and
Mewsli-X use the same mean pooling (this plugin has no dual-encoder fine-tuning), so their figures are those
of the given encoder, not of XTREME-R's fine-tuned baselines.

Outputs: ``predictions/<task>/test-<lang>.*`` (Tatoeba: the retrieved source index per English line;
Mewsli-X / LAReQA: the 20 best ids per query), ``labels/<task>/...`` where gold exists, scores via
``fairseq_weam.xtreme.metrics``. A language without gold (Tatoeba without LASER's unsorted English file,
Mewsli-X test ids emptied by XTREME's download) gets predictions and is listed under ``unscored``.
"""
import time
from pathlib import Path

import faiss
import numpy as np
import torch
from fairseq.data import Dictionary

import fairseq_weam  # noqa: F401  (registers the plugin; makes checkpoints loadable under torch >= 2.6)
from fairseq_weam.errors import WeamError
from fairseq_weam.evaluation.retrieval import encode, load_encoder
from fairseq_weam.xtreme import retrieval_data
from fairseq_weam.xtreme.benchmark import official_languages
from fairseq_weam.xtreme.encoding import load_sentencepiece
from fairseq_weam.xtreme.metrics import score_language
from fairseq_weam.xtreme.predictions import write_labels, write_predictions
from fairseq_weam.xtreme.requests import task_results

TOP_K = 20  # mAP@20 of LAReQA and Mewsli-X
TASKS = ("tatoeba", "lareqa", "mewslix")


class RetrievalTaskError(WeamError, ValueError):
    """A retrieval task this module does not evaluate."""


class Embedder:
    """Texts -> L2-normalized float32 mean-pooled states of one layer."""

    def __init__(self, request):
        self.dictionary = Dictionary.load(str(request.dictionary))
        self.dictionary.add_symbol("<mask>")
        self.model, max_pieces = load_encoder(str(request.checkpoint), self.dictionary,
                                              str(Path(request.dictionary).parent), encoder_only=True)
        self.model.to(request.device)
        self.spm = load_sentencepiece(request.spm_model)
        self.max_pieces = min(max_pieces, request.max_len - 2)
        self.layer, self.batch_size, self.device = request.layer, request.batch_size, request.device

    def ids(self, text):
        pieces = self.spm.encode(text, out_type=str)[:self.max_pieces]
        return self.dictionary.encode_line(" ".join(pieces), append_eos=False, add_if_not_exist=False).long()

    def __call__(self, texts) -> np.ndarray:
        rows = [self.ids(t) for t in texts]
        states = encode(self.model, self.dictionary, rows, self.layer, self.batch_size)
        vectors = torch.stack([h.mean(0) for h in states]).cpu().numpy().astype(np.float32)
        faiss.normalize_L2(vectors)
        return vectors


def search(queries: np.ndarray, pool: np.ndarray, k: int) -> np.ndarray:
    """Indices into ``pool`` of the ``k`` best (cosine) per query, best first."""
    index = faiss.IndexFlatIP(pool.shape[1])
    index.add(pool)
    return index.search(queries, min(k, len(pool)))[1]


def _languages(request, found):
    if request.langs:
        return list(request.langs)
    official = [lang for lang in official_languages(request.task, request.version) if lang in found]
    return official or list(found)


def _tatoeba(request, embed, out, predictions_dir, progress):
    found = retrieval_data.tatoeba_languages(request.task_dir)
    scores, unscored = {}, []
    for lang in _languages(request, found):
        data = retrieval_data.read_tatoeba(request.task_dir, lang)
        n = min(len(data.english), request.limit) if request.limit else len(data.english)
        # the official direction: each English line (queries) retrieves its source sentence (the pool)
        predicted = search(embed(data.english[:n]), embed(data.sources), 1)[:, 0].tolist()
        write_predictions(predictions_dir, "tatoeba", lang, predicted, request.version)
        if data.gold is None:
            unscored.append(lang)
            progress(f"tatoeba {lang}: predictions written; no gold (LASER's tatoeba."
                     f"{retrieval_data.TATOEBA_LANG3.get(lang, lang)}-eng.eng is not in the task dir)")
            continue
        gold = [str(g) for g in data.gold[:n]]
        write_labels(out / "labels", "tatoeba", lang, gold, request.version)
        scores[lang] = score_language("tatoeba", gold, [str(p) for p in predicted], lang)
        progress(f"tatoeba {lang}: accuracy {scores[lang]['accuracy']:.2f} ({n} sentences)")
    return scores, unscored, {}


def _lareqa(request, embed, out, predictions_dir, progress):
    langs = request.langs or list(retrieval_data.lareqa_files(request.task_dir))
    data = retrieval_data.read_lareqa(request.task_dir, langs)
    pool = embed([f"{c.sentence} {c.context}" for c in data.candidates])
    ranked = search(embed([q.text for q in data.questions]), pool, TOP_K)
    by_uid = {q.uid: [data.candidates[i].uid for i in row] for q, row in zip(data.questions, ranked)}
    scores = {}
    for lang in langs:
        uids = [q.uid for q in data.questions if q.lang == lang]
        if request.limit:
            uids = uids[:request.limit]
        predicted = {u: by_uid[u] for u in uids}
        gold = {u: data.gold[u] for u in uids}
        write_predictions(predictions_dir, "lareqa", lang, predicted, request.version)
        write_labels(out / "labels", "lareqa", lang, gold, request.version)
        scores[lang] = score_language("lareqa", gold, predicted, lang)
        progress(f"lareqa {lang}: mAP@20 {scores[lang]['map@20']:.2f} ({len(uids)} questions)")
    return scores, [], {"candidates": len(data.candidates), "skipped_questions": data.skipped}


def _mewslix(request, embed, out, predictions_dir, progress):
    entities = retrieval_data.read_mewslix_entities(request.task_dir)
    pool = embed([text for _, text in entities])
    scores, unscored = {}, []
    for lang in _languages(request, retrieval_data.mewslix_languages(request.task_dir)):
        mentions = retrieval_data.read_mewslix_mentions(request.task_dir, lang)
        if request.limit:
            mentions = mentions[:request.limit]
        ranked = search(embed([m.query for m in mentions]), pool, TOP_K)
        predicted = {m.example_id: [entities[i][0] for i in row] for m, row in zip(mentions, ranked)}
        write_predictions(predictions_dir, "mewslix", lang, predicted, request.version)
        if not all(m.entity_id for m in mentions):
            unscored.append(lang)
            progress(f"mewslix {lang}: predictions written; no gold (empty entity ids: XTREME's download "
                     "removes the test labels)")
            continue
        gold = {m.example_id: [m.entity_id] for m in mentions}
        write_labels(out / "labels", "mewslix", lang, gold, request.version)
        scores[lang] = score_language("mewslix", gold, predicted, lang)
        progress(f"mewslix {lang}: mAP@20 {scores[lang]['map@20']:.2f} ({len(mentions)} mentions)")
    return scores, unscored, {"candidates": len(entities)}


RUNNERS = {"tatoeba": _tatoeba, "lareqa": _lareqa, "mewslix": _mewslix}
METRIC = {"tatoeba": "accuracy", "lareqa": "map@20", "mewslix": "map@20"}


def evaluate(request, progress=print) -> dict:
    """Retrieve, write and score every test language of ``request.task_dir``; the task results dict."""
    if request.task not in RUNNERS:
        raise RetrievalTaskError(f"--task {request.task}: retrieval evaluation covers {', '.join(TASKS)} "
                                 "(bucc2018 is not implemented)")
    started = time.time()
    embed = Embedder(request)
    out = Path(request.out_dir)
    predictions_dir = Path(request.predictions_dir) if request.predictions_dir else out / "predictions"
    scores, unscored, extra = RUNNERS[request.task](request, embed, out, predictions_dir, progress)
    metric = METRIC[request.task]
    average = {metric: float(np.mean([s[metric] for s in scores.values()]))} if scores else {}
    settings = {"checkpoint": str(request.checkpoint), "layer": request.layer, "pooling": "mean",
                "max_len": request.max_len, "limit": request.limit, "top_k": TOP_K}
    return task_results(request.task, list(scores), scores, metric, average, average.get(metric),
                        predictions_dir / request.task, settings, time.time() - started,
                        extra={"unscored": unscored, **extra})
