"""Dataset wrappers of the ``weam`` task: aligned pairs -> pair sampling -> masking -> objective batches."""
from fairseq_weam.data.aligned_pair_dataset import AlignedPairDataset
from fairseq_weam.data.objective_batch_dataset import ObjectiveBatchDataset
from fairseq_weam.data.pair_masking_dataset import PairMaskingDataset, mask_pieces
from fairseq_weam.data.pair_sampling import pair_sampling_probabilities, sample_pairs_with_temperature

__all__ = [
    "AlignedPairDataset",
    "ObjectiveBatchDataset",
    "PairMaskingDataset",
    "mask_pieces",
    "pair_sampling_probabilities",
    "sample_pairs_with_temperature",
]
