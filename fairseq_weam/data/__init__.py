"""Dataset wrappers of the ``weam`` task: aligned pairs -> pair sampling -> masking -> objective batches."""
from fairseq_weam.data.aligned_pair_dataset import (
    AlignedPairDataset,
    PairDataError,
    find_lang_pairs,
    load_aligned_pairs,
    load_dictionary,
    select_lang_pairs,
)
from fairseq_weam.data.objective_batch_dataset import ObjectiveBatchDataset, is_concat, row_layout
from fairseq_weam.data.pair_masking_dataset import PairMaskingDataset, mask_segments
from fairseq_weam.data.pair_sampling import (
    PairConcatDataset,
    pair_sampling_probabilities,
    sample_pairs_with_temperature,
)

__all__ = [
    "AlignedPairDataset",
    "ObjectiveBatchDataset",
    "PairConcatDataset",
    "PairDataError",
    "PairMaskingDataset",
    "find_lang_pairs",
    "is_concat",
    "load_aligned_pairs",
    "load_dictionary",
    "mask_segments",
    "pair_sampling_probabilities",
    "row_layout",
    "sample_pairs_with_temperature",
    "select_lang_pairs",
]
