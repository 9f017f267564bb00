"""Temperature sampling of language pairs, as XLM-R samples languages: ``p_pair ∝ n_pair^α``.

α = 1 keeps the natural proportions, α → 0 flattens them towards uniform (up-sampling small pairs).
Each epoch draws a fresh sample, seeded by (seed, epoch), through fairseq's ``ResamplingDataset``.
``PairConcatDataset`` / ``ResampledPairs`` add ``num_tokens_vec`` to fairseq's concatenation and resampling, so
that batching a large corpus reads every pair's cost as one array instead of calling Python per index.
"""
import numpy as np
from fairseq.data import ConcatDataset, ResamplingDataset


class ResampledPairs(ResamplingDataset):
    """fairseq's ``ResamplingDataset`` with the token counts of the current sample as one array."""

    def num_tokens_vec(self, indices):
        return self.dataset.num_tokens_vec(self._cur_indices.array[indices])


class PairConcatDataset(ConcatDataset):
    """fairseq's ``ConcatDataset`` (every ratio 1) with the token counts of all pairs as one array."""

    def num_tokens_vec(self, indices):
        counts = [d.num_tokens_vec(np.arange(len(d))) for d in self.datasets]
        return np.concatenate(counts)[indices]


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
        ResampledPairs(d, size_ratio=ratio, seed=seed + k, epoch=epoch, replace=ratio >= 1.0)
        for k, (d, ratio) in enumerate(zip(datasets, ratios))
    ]
    return PairConcatDataset(resampled)
