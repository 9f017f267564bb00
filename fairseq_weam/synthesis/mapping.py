"""Cross-lingual mapping: orthogonal Procrustes on a seed dictionary, iterative refinement, CSLS retrieval.

Conneau et al. (2018, "Word translation without parallel data"): source vectors X are mapped by the
orthogonal W minimizing ||X_s W - Z_s|| over the seed pairs (W = U V^T, U S V^T = svd(X_s^T Z_s)); the
mapping is refined by re-solving Procrustes on the seed pairs plus the mutual CSLS nearest neighbours among
the most frequent words. CSLS(x, z) = 2 cos(xW, z) - r_T(xW) - r_S(z), r the mean cosine to the k nearest
neighbours in the other language.
"""
from typing import Dict, List, Sequence, Tuple

import numpy as np

from fairseq_weam.synthesis.errors import SynthesisError

Pairs = List[Tuple[int, int]]


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Unit length, mean-centred, unit length again (the usual preprocessing before Procrustes)."""
    def unit(m):
        return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
    centred = unit(vectors) - unit(vectors).mean(axis=0, keepdims=True)
    return unit(centred).astype(np.float32)


def procrustes(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The orthogonal W minimizing ||source W - target||_F (rows paired)."""
    u, _, vt = np.linalg.svd(source.T.astype(np.float64) @ target.astype(np.float64))
    return (u @ vt).astype(np.float32)


def mean_top_k_cosine(queries: np.ndarray, keys: np.ndarray, k: int, batch: int = 4096) -> np.ndarray:
    """Per query row, the mean cosine (dot product of unit rows) to its ``k`` nearest key rows."""
    k = min(k, len(keys))
    out = np.empty(len(queries), dtype=np.float32)
    for start in range(0, len(queries), batch):
        sims = queries[start : start + batch] @ keys.T
        out[start : start + batch] = np.partition(sims, -k, axis=1)[:, -k:].mean(axis=1)
    return out


def csls(mapped: np.ndarray, target: np.ndarray, k: int = 10, rows=None, batch: int = 4096):
    """CSLS scores (len(rows) x len(target)) of the mapped source rows ``rows`` (default: all)."""
    r_target = mean_top_k_cosine(target, mapped, k, batch)  # r_S(z): target word's source neighbourhood
    queries = mapped if rows is None else mapped[rows]
    r_source = mean_top_k_cosine(queries, target, k, batch)  # r_T(xW)
    return 2 * (queries @ target.T) - r_source[:, None] - r_target[None, :]


def top_candidates(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` best columns per row, best first."""
    n = min(n, scores.shape[1])
    part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def mutual_neighbours(mapped: np.ndarray, target: np.ndarray, k: int, max_rank: int) -> Pairs:
    """Pairs (i, j) among the ``max_rank`` first words of each side that are each other's CSLS best."""
    a, b = mapped[:max_rank], target[:max_rank]
    scores = csls(a, b, k)
    forward, backward = scores.argmax(axis=1), scores.argmax(axis=0)
    return [(i, int(j)) for i, j in enumerate(forward) if backward[j] == i]


def seed_pairs(src_words: Sequence[str], tgt_words: Sequence[str], dictionary: Dict[str, set]) -> Pairs:
    """Index pairs of the dictionary entries whose two words both have vectors."""
    tgt_index = {w: j for j, w in enumerate(tgt_words)}
    return [(i, tgt_index[t]) for i, w in enumerate(src_words) for t in sorted(dictionary.get(w, ()))
            if t in tgt_index]


def fit_mapping(source: np.ndarray, target: np.ndarray, pairs: Pairs, iterations: int = 5, k: int = 10,
                max_rank: int = 10000) -> np.ndarray:
    """Procrustes on ``pairs``, then ``iterations`` rounds on the pairs plus the mutual CSLS neighbours."""
    if not pairs:
        raise SynthesisError("no seed pair has both words in the vocabularies")
    src_idx, tgt_idx = map(list, zip(*pairs))
    w = procrustes(source[src_idx], target[tgt_idx])
    for _ in range(iterations):
        induced = mutual_neighbours(source @ w, target, k, max_rank)
        both = sorted(set(pairs) | set(induced))
        s, t = map(list, zip(*both))
        w = procrustes(source[s], target[t])
    return w
