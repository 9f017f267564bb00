"""The official per-language figures of every XTREME / XTREME-R task (percent), from in-memory gold and
predictions (the forms ``fairseq_weam.xtreme.predictions`` reads and writes).

The formulas are those of google-research/xtreme's ``evaluate.py`` and the scripts it calls
(``third_party/evaluate_squad.py``, ``evaluate_mlqa.py``, ``utils_mewslix.py``, ``utils_lareqa.py``):

- accuracy (xnli, pawsx, xcopa, tatoeba): share of positions where prediction and gold are equal.
- udpos, panx: ``seqeval``'s default ``f1_score`` / ``precision_score`` / ``recall_score`` over the tag
  sequences (conlleval-style chunks; for POS tags this is the same call the official scorer makes).
- bucc2018: F1 of the set of predicted ``src\\ttgt`` pairs against the gold set.
- xquad, tydiqa: SQuAD v1.1 exact match and token F1 after lower-casing, removing ASCII punctuation and the
  articles a/an/the, and collapsing whitespace; the best over the gold answers; an unanswered question
  scores 0 (as the official scorer, which prints a line for it: :func:`unanswered` lists them).
- mlqa: the same with MLQA's normalization for the answer language: every Unicode punctuation character
  removed, the language's articles removed, Chinese split into single characters.
- mewslix: mean reciprocal rank of the gold entity within the first 20 predicted (reported as ``map@20``).
- lareqa: mean over questions of average precision at 20 (divisor ``min(#correct, 20)``).

Count mismatches the official scorer asserts on (every task but QA, Mewsli-X, LAReQA and BUCC) are errors
naming ``where`` (the predictions file).
"""
import re
import string
import unicodedata
import warnings
from collections import Counter
from typing import Dict, List, Optional, Sequence

from fairseq_weam.errors import WeamError
from fairseq_weam.xtreme.benchmark import family

TOP_K = 20

#: the metric names each task reports, in the official scorer's order.
TASK_METRICS = {
    "xnli": ("accuracy",), "pawsx": ("accuracy",), "xcopa": ("accuracy",), "tatoeba": ("accuracy",),
    "udpos": ("f1", "precision", "recall"), "panx": ("f1", "precision", "recall"),
    "bucc2018": ("f1", "precision", "recall"),
    "xquad": ("exact_match", "f1"), "mlqa": ("exact_match", "f1"), "tydiqa": ("exact_match", "f1"),
    "mewslix": ("map@20",), "lareqa": ("map@20",),
}

#: MLQA's article patterns per answer language (None: the language has no articles to remove).
MLQA_ARTICLES = {
    "en": r"\b(a|an|the)\b",
    "es": r"\b(un|una|unos|unas|el|la|los|las)\b",
    "de": r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b",
    "vi": r"\b(của|là|cái|chiếc|những)\b",
    # MLQA's Arabic pattern replaces every occurrence of the prefix "ال" (its other alternative cannot match)
    "ar": "ال",
    "hi": None,
    "zh": None,
}
_MIXED_SEGMENTATION = ("zh",)
_CJK = re.compile("[\u4e00-\u9fa5]")
_ASCII_PUNCTUATION = frozenset(string.punctuation)
_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b")


class MetricsError(WeamError, ValueError):
    """Gold and predictions that cannot be scored together."""


# ----------------------------------------------------------------------------------------------- helpers

def _where(where):
    return f"{where}: " if where else ""


def _check_counts(task, gold, predictions, where):
    if len(gold) != len(predictions):
        unit = "sentences" if family(task) == "tagging" else "examples"
        raise MetricsError(f"{_where(where)}{len(predictions)} {unit} predicted but the gold file has "
                           f"{len(gold)}; write one prediction per test example, in order")
    if not gold:
        raise MetricsError(f"{_where(where)}no test examples to score")


def _accuracy(gold, predictions):
    correct = sum(p == g or str(p) == str(g) for p, g in zip(predictions, gold))
    return {"accuracy": 100.0 * correct / len(predictions)}


def _sentence_line(sentences, index):
    """The line where sentence ``index`` starts in a file written one tag per line, one blank between."""
    return 1 + sum(len(s) + 1 for s in sentences[:index])


def _seqeval(task, gold, predictions, where):
    for index, (g, p) in enumerate(zip(gold, predictions)):
        if len(g) != len(p):
            place = f"{where}:{_sentence_line(predictions, index)}: " if where else ""
            raise MetricsError(f"{place}sentence {index + 1} has {len(p)} "
                               f"predicted tags but the gold sentence has {len(g)} words; "
                               "write one tag per word")
    from seqeval.metrics import f1_score, precision_score, recall_score
    with warnings.catch_warnings():  # seqeval warns for every tag without a B-/I- prefix (all POS tags)
        warnings.simplefilter("ignore")
        gold, predictions = [list(s) for s in gold], [list(s) for s in predictions]
        return {"f1": 100.0 * f1_score(gold, predictions),
                "precision": 100.0 * precision_score(gold, predictions),
                "recall": 100.0 * recall_score(gold, predictions)}


def _bucc(gold, predictions):
    def pairs(items):
        return {tuple(item.split("\t")) if isinstance(item, str) else tuple(item) for item in items}
    gold, predictions = pairs(gold), pairs(predictions)
    correct = len(gold & predictions)
    if not correct:
        return {"f1": 0.0, "precision": 0.0, "recall": 0.0}
    precision, recall = correct / len(predictions), correct / len(gold)
    f1 = 2 * precision * recall / (precision + recall)
    return {"f1": 100.0 * f1, "precision": 100.0 * precision, "recall": 100.0 * recall}


# ----------------------------------------------------------------------------------------------- QA

def squad_normalize(text: str) -> str:
    """SQuAD v1.1's answer normalization."""
    text = "".join(ch for ch in text.lower() if ch not in _ASCII_PUNCTUATION)
    return " ".join(_SQUAD_ARTICLES.sub(" ", text).split())


def _is_punctuation(ch: str) -> bool:
    return ch in _ASCII_PUNCTUATION or unicodedata.category(ch).startswith("P")


def _mixed_segments(text: str) -> List[str]:
    """Whitespace tokens, except that every CJK ideograph (and punctuation mark) is a token of its own."""
    tokens, run = [], []
    for ch in text:
        if _CJK.match(ch) or _is_punctuation(ch):
            tokens.extend("".join(run).split())
            run = []
            tokens.append(ch)
        else:
            run.append(ch)
    tokens.extend("".join(run).split())
    return tokens


def mlqa_normalize(text: str, lang: str) -> str:
    """MLQA's answer normalization for answer language ``lang``."""
    if lang not in MLQA_ARTICLES:
        raise MetricsError(f"MLQA has no normalization for language {lang!r}: use one of "
                           f"{', '.join(MLQA_ARTICLES)}")
    text = "".join(ch for ch in text.lower() if not _is_punctuation(ch))
    if MLQA_ARTICLES[lang]:
        text = re.sub(MLQA_ARTICLES[lang], " ", text)
    tokens = _mixed_segments(text) if lang in _MIXED_SEGMENTATION else text.split()
    return " ".join(t for t in tokens if t.strip())


def _token_f1(prediction: str, truth: str) -> float:
    predicted, expected = prediction.split(), truth.split()
    same = sum((Counter(predicted) & Counter(expected)).values())
    if not same:
        return 0.0
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


def _squad_data(data):
    """The ``data`` list of a SQuAD file, given either the list or the whole JSON object."""
    return data["data"] if isinstance(data, dict) and "data" in data else data


def _questions(data) -> List[tuple]:
    """(question id, [answer texts]) of every question, in file order (a repeated id counts each time, as in
    the official scorer)."""
    return [(qa["id"], [a["text"] for a in qa["answers"]])
            for article in _squad_data(data) for paragraph in article["paragraphs"] for qa in paragraph["qas"]]


def gold_answers(data) -> Dict[str, List[str]]:
    """``{question id: [answer texts]}`` of a SQuAD ``data`` list."""
    return dict(_questions(data))


def unanswered(gold_data, predictions) -> List[str]:
    """The gold question ids without a prediction (the official scorer gives each 0 and prints a line)."""
    return [qid for qid in gold_answers(gold_data) if qid not in predictions]


def _qa(task, data, predictions, lang, where):
    if task == "mlqa":
        def normalize(text):
            return mlqa_normalize(text, lang)
    else:
        normalize = squad_normalize
    questions = _questions(data)
    if not questions:
        raise MetricsError(f"{_where(where)}no test questions to score")
    exact = f1 = 0.0
    for qid, truths in questions:
        if qid not in predictions:
            continue
        answer = normalize(predictions[qid])
        normalized = [normalize(t) for t in truths]
        exact += max(float(answer == t) for t in normalized)
        f1 += max(_token_f1(answer, t) for t in normalized)
    return {"exact_match": 100.0 * exact / len(questions), "f1": 100.0 * f1 / len(questions)}


# ----------------------------------------------------------------------------------------------- ranking

def _reciprocal_rank_at_k(gold, predictions, where):
    if not gold:
        raise MetricsError(f"{_where(where)}no test mentions to score")
    total = 0.0
    for key, entities in gold.items():
        target = (entities[0] if isinstance(entities, (list, tuple)) else entities).strip()
        ranked = list(predictions.get(key, []))[:TOP_K]
        total += next((1.0 / rank for rank, e in enumerate(ranked, 1) if e == target), 0.0)
    return {"map@20": 100.0 * total / len(gold)}


def average_precision_at_k(targets: Sequence[str], ranked: Sequence[str], k: Optional[int] = TOP_K) -> float:
    """AP@k: mean of precision at each rank (within k) holding a not yet seen target, over min(#targets, k)."""
    targets = set(targets)
    ranked = list(ranked)[:k] if k else list(ranked)
    hits, score, seen = 0, 0.0, set()
    for rank, candidate in enumerate(ranked, 1):
        if candidate in targets and candidate not in seen:
            hits += 1
            score += hits / rank
        seen.add(candidate)
    return score / (min(len(targets), k) if k else len(targets))


def _map_at_k(gold, predictions, where):
    if not gold:
        raise MetricsError(f"{_where(where)}no test questions to score")
    total = sum(average_precision_at_k(targets, predictions.get(key, [])) for key, targets in gold.items())
    return {"map@20": 100.0 * total / len(gold)}


# ----------------------------------------------------------------------------------------------- entry

def score_language(task: str, gold, predictions, lang: str, where: Optional[str] = None) -> Dict[str, float]:
    """The official figures of one test language of ``task`` (percent), keys as :data:`TASK_METRICS`.

    ``where`` (the predictions file) is named in errors, e.g. a wrong count of examples or tags.
    """
    kind = family(task)
    if task in ("xquad", "mlqa", "tydiqa"):
        return _qa(task, gold, predictions, lang, where)
    if task == "mewslix":
        return _reciprocal_rank_at_k(gold, predictions, where)
    if task == "lareqa":
        return _map_at_k(gold, predictions, where)
    if task == "bucc2018":
        if not gold:
            raise MetricsError(f"{_where(where)}no gold pairs to score")
        return _bucc(gold, predictions)
    _check_counts(task, gold, predictions, where)
    if kind == "tagging":
        return _seqeval(task, gold, predictions, where)
    return _accuracy(gold, predictions)
