"""Temperature sampling of language pairs, as XLM-R samples languages: ``p_pair ∝ n_pair^α``.

α = 1 keeps the natural proportions, α → 0 flattens them towards uniform (up-sampling small pairs).
Each epoch draws a fresh sample, seeded by (seed, epoch), through fairseq's ``ResamplingDataset``.
"""
import numpy as np
from fairseq.data import ConcatDataset, ResamplingDataset


def pair_sampling_probabilities(sizes, alpha):
    """Probability of each pair given its number of sentence pairs ``sizes``."""
    sizes = np.asarray(sizes, dtype=np.float64)
    if (sizes <= 0).any():
        raise ValueError(f"every language pair needs at least one sentence pair, got sizes {sizes.tolist()}")
    weights = sizes**alpha
    return weights / weights.sum()


def sample_pairs_with_temperature(datasets, alpha, seed, epoch=1):
    """Concatenate per-pair datasets, each resampled to ``p_pair * total`` items per epoch.

    The epoch size stays the total number of pairs; a pair drawn more often than it has lines is sampled
    with replacement, a pair drawn less often without.
    """
    if len(datasets) == 1:
        return datasets[0]
    sizes = [len(d) for d in datasets]
    probabilities = pair_sampling_probabilities(sizes, alpha)
    ratios = probabilities * sum(sizes) / np.asarray(sizes, dtype=np.float64)
    resampled = [
        ResamplingDataset(d, size_ratio=ratio, seed=seed + k, epoch=epoch, replace=ratio >= 1.0)
        for k, (d, ratio) in enumerate(zip(datasets, ratios))
    ]
    return ConcatDataset(resampled)
