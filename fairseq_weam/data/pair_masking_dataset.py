"""Mask both sides of a pair, the same way for every objective.

The masks of item ``index`` depend only on (seed, epoch, index): the MLM, TLM and WEAM runs of one seed
mask exactly the same pieces of exactly the same pairs, whatever batch an item lands in and after a resumed
run, and only the final formatting differs (``ObjectiveBatchDataset``). Selection follows BERT: a fraction
``mask_prob`` of the units (pieces, or whole words) of each side is chosen (``int(mask_prob * units + u)``
of them, u uniform, so the expected count is exact), and each chosen unit is replaced by ``<mask>`` (80%),
by a random piece (10%), or left unchanged (10%).

Cost. Items are not masked one by one: the collater masks every side of a batch at once (``mask_batch``)
with a fixed number of numpy operations, drawing its numbers from keys (``keyed_random``) instead of a
generator seeded per item.
"""
import numpy as np
import torch
from fairseq.data import BaseWrapperDataset

from fairseq_weam.data.keyed_random import derive_key, keyed_uniform

# the streams of one side's key (seed, epoch, index, side): how many units, which, how replaced, by what
COUNT_STREAM, CHOICE_STREAM, REPLACE_STREAM, RANDOM_PIECE_STREAM = range(4)


def mask_segments(tokens, lengths, keys, *, mask_idx, pad_idx, random_tokens, mask_prob, leave_unmasked_prob,
                  random_token_prob, starts_table=None):
    """Mask segments given one after the other (``tokens``, 1-D; ``lengths`` per segment), each with its own
    numbers: segment s draws only from ``keys[s]``. Returns ``(masked_tokens, target)``; target holds the
    original id where masked, else pad.

    ``starts_table`` (from ``word_start_table``) switches on whole-word masking: all pieces of a word are
    masked, and replaced the same way, or none is (pieces before a segment's first word start join its first
    word). Random replacements are drawn per piece.
    """
    tokens = np.asarray(tokens, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    keys = np.asarray(keys, dtype=np.uint64)
    n, segments = len(tokens), len(lengths)
    if n == 0:
        return tokens.copy(), tokens.copy()
    seg_start = np.cumsum(lengths) - lengths
    seg = np.repeat(np.arange(segments), lengths)
    if starts_table is None:
        unit_start = np.ones(n, dtype=bool)
    else:
        unit_start = starts_table[tokens]
        unit_start[seg_start[lengths > 0]] = True
    unit = np.cumsum(unit_start) - 1  # unit of every piece, numbered over the whole batch
    unit_seg = seg[unit_start]
    n_units = np.bincount(unit_seg, minlength=segments)
    unit_first = np.cumsum(n_units) - n_units
    unit_pos = np.arange(len(unit_seg)) - unit_first[unit_seg]  # unit number within its segment
    unit_keys = keys[unit_seg]

    num_mask = np.minimum(n_units, (mask_prob * n_units + keyed_uniform(keys, COUNT_STREAM)).astype(np.int64))
    # the num_mask units of each segment with the smallest choice draws: a uniform choice without replacement
    order = np.lexsort((keyed_uniform(unit_keys, CHOICE_STREAM, unit_pos), unit_seg))
    unit_masked = np.empty(len(unit_seg), dtype=bool)
    unit_masked[order] = np.arange(len(order)) - unit_first[unit_seg[order]] < num_mask[unit_seg[order]]
    draw = keyed_uniform(unit_keys, REPLACE_STREAM, unit_pos)
    unit_random = unit_masked & (draw < random_token_prob)
    unit_keep = unit_masked & (draw >= random_token_prob) & (draw < random_token_prob + leave_unmasked_prob)

    masked = unit_masked[unit]
    target = np.where(masked, tokens, pad_idx)
    out = np.where((unit_masked & ~unit_random & ~unit_keep)[unit], mask_idx, tokens)
    replace = np.flatnonzero(unit_random[unit])
    if len(replace):
        piece_draw = keyed_uniform(keys[seg[replace]], RANDOM_PIECE_STREAM, replace - seg_start[seg[replace]])
        out[replace] = random_tokens[(piece_draw * len(random_tokens)).astype(np.int64)]
    return out, target


class PairMaskingDataset(BaseWrapperDataset):
    """Pair items with their dataset index as ``id``; ``mask_batch`` draws the masks of a batch of them."""

    def __init__(self, dataset, dictionary, mask_idx, seed, mask_prob=0.15, leave_unmasked_prob=0.1,
                 random_token_prob=0.1, starts_table=None):
        super().__init__(dataset)
        if not 0.0 <= mask_prob <= 1.0:
            raise ValueError(f"--mask-prob must be in [0, 1], got {mask_prob}")
        if leave_unmasked_prob + random_token_prob > 1.0:
            raise ValueError(
                f"--leave-unmasked-prob ({leave_unmasked_prob}) + --random-token-prob ({random_token_prob}) "
                "must not exceed 1"
            )
        self.seed = seed
        self.epoch = 1
        special = set(range(dictionary.nspecial)) | {mask_idx}
        self.options = dict(
            mask_idx=mask_idx,
            pad_idx=dictionary.pad(),
            random_tokens=np.array([i for i in range(len(dictionary)) if i not in special], dtype=np.int64),
            mask_prob=mask_prob,
            leave_unmasked_prob=leave_unmasked_prob,
            random_token_prob=random_token_prob,
            starts_table=starts_table,
        )

    def set_epoch(self, epoch):
        super().set_epoch(epoch)
        self.epoch = epoch

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        return self.dataset.can_reuse_epoch_itr_across_epochs

    def num_tokens_vec(self, indices):
        return self.dataset.num_tokens_vec(indices)

    def __getitem__(self, index):
        return dict(self.dataset[index], id=index)

    def mask_batch(self, ids, x, x_lengths, y, y_lengths):
        """``{"x": (masked, target), "y": (masked, target)}`` for the items ``ids`` of a batch, each side given as
        one 1-D tensor (the items' pieces one after the other) and its lengths; a function of (seed, epoch, id)
        per item, whatever the batch."""
        ids = np.asarray(ids, dtype=np.int64)
        epoch_key = derive_key(None, self.seed, self.epoch)
        keys = np.concatenate([derive_key(epoch_key, ids, side) for side in range(2)])
        lengths = np.concatenate([np.asarray(x_lengths), np.asarray(y_lengths)])
        masked, target = mask_segments(torch.cat([x, y]).numpy(), lengths, keys, **self.options)
        masked, target = torch.from_numpy(masked), torch.from_numpy(target)
        cut = len(x)
        return {"x": (masked[:cut], target[:cut]), "y": (masked[cut:], target[cut:])}
