"""Translation candidates of every source word from the mapped vectors, with controlled noise.

``--noise`` takes one of: ``none``; ``gaussian:SIGMA`` (noise of expected length SIGMA added to each unit
mapped vector before CSLS); ``sample:K:T`` (the candidates re-ordered by sampling without replacement among
the K best by CSLS, probabilities softmax(CSLS / T): Gumbel top-k). Its level is reported as the BLI
precision of the candidates it gives.
"""
from dataclasses import dataclass

import numpy as np

from fairseq_weam.synthesis.errors import SynthesisError
from fairseq_weam.synthesis.mapping import mean_top_k_cosine, top_candidates


@dataclass(frozen=True)
class Noise:
    kind: str = "none"
    sigma: float = 0.0
    k: int = 0
    temperature: float = 1.0

    @classmethod
    def parse(cls, spec: str) -> "Noise":
        parts = spec.split(":")
        try:
            if parts == ["none"]:
                return cls()
            if parts[0] == "gaussian" and len(parts) == 2 and float(parts[1]) >= 0:
                return cls("gaussian", sigma=float(parts[1]))
            if parts[0] == "sample" and len(parts) == 3 and int(parts[1]) >= 1 and float(parts[2]) > 0:
                return cls("sample", k=int(parts[1]), temperature=float(parts[2]))
        except ValueError:
            pass
        raise SynthesisError(f"--noise {spec!r}: expected none, gaussian:SIGMA (SIGMA >= 0) or sample:K:T "
                             "(K >= 1, T > 0)")


def ranked_candidates(mapped: np.ndarray, target: np.ndarray, n: int, noise: Noise, rng: np.random.Generator,
                      csls_k: int = 10, batch: int = 2048) -> np.ndarray:
    """(len(mapped) x n) target indices per source word, best first under ``noise``."""
    if noise.kind == "gaussian" and noise.sigma > 0:
        mapped = mapped + rng.standard_normal(mapped.shape).astype(np.float32) * (noise.sigma / np.sqrt(mapped.shape[1]))
        mapped = mapped / np.maximum(np.linalg.norm(mapped, axis=1, keepdims=True), 1e-12)
    width = max(n, noise.k) if noise.kind == "sample" else n
    width = min(width, len(target))
    r_target = mean_top_k_cosine(target, mapped, csls_k, batch)
    out = np.empty((len(mapped), min(n, len(target))), dtype=np.int64)
    for start in range(0, len(mapped), batch):
        queries = mapped[start : start + batch]
        scores = 2 * (queries @ target.T) - mean_top_k_cosine(queries, target, csls_k, batch)[:, None] - r_target[None, :]
        top = top_candidates(scores, width)
        if noise.kind == "sample":
            pool = top[:, : noise.k]
            keys = np.take_along_axis(scores, pool, axis=1) / noise.temperature
            keys = keys + rng.gumbel(size=keys.shape)
            top = np.concatenate([np.take_along_axis(pool, np.argsort(-keys, axis=1), axis=1), top[:, noise.k :]], axis=1)
        out[start : start + batch] = top[:, : out.shape[1]]
    return out
