"""Bilingual lexicon induction precision@k on held-out dictionary pairs (the standard BLI evaluation)."""
from typing import Dict, Sequence

import numpy as np


def bli_precision(src_words: Sequence[str], tgt_words: Sequence[str], ranked: np.ndarray,
                  test: Dict[str, set], ks=(1, 5)) -> Dict[str, float]:
    """``ranked[i]``: target indices for source word i, best first. Counted over the test words that have a
    vector and at least one translation with a vector (``evaluated``); p@k is the share of them with a
    correct translation among the first k candidates."""
    src_index = {w: i for i, w in enumerate(src_words)}
    tgt_index = {w: j for j, w in enumerate(tgt_words)}
    hits = {k: 0 for k in ks}
    evaluated = 0
    for word, translations in test.items():
        gold = {tgt_index[t] for t in translations if t in tgt_index}
        if word not in src_index or not gold:
            continue
        evaluated += 1
        row = list(ranked[src_index[word]])
        for k in ks:
            hits[k] += bool(gold.intersection(row[:k]))
    result = {f"p@{k}": (100.0 * hits[k] / evaluated if evaluated else 0.0) for k in ks}
    result.update(evaluated=evaluated, test_words=len(test))
    return result
