"""Mask both sides of a pair, the same way for every objective.

The masks of item ``index`` depend only on (seed, epoch, index): the MLM, TLM and WEAM runs of one seed
mask exactly the same pieces of exactly the same pairs, and only the final formatting differs
(``ObjectiveBatchDataset``). Selection follows BERT: a fraction ``mask_prob`` of the units (pieces, or
whole words) is chosen, and each chosen unit is replaced by ``<mask>`` (80%), by a random piece (10%), or
left unchanged (10%).
"""
import numpy as np
import torch
from fairseq.data import BaseWrapperDataset

from fairseq_weam.text.pieces import word_ids


def mask_pieces(tokens, rng, *, mask_idx, pad_idx, random_tokens, mask_prob, leave_unmasked_prob,
                random_token_prob, starts_table=None):
    """Return ``(masked_tokens, target)`` for one side; target holds the original id where masked, else pad.

    ``starts_table`` (from ``word_start_table``) switches on whole-word masking: all pieces of a word are
    masked, and replaced the same way, or none is.
    """
    tokens = np.asarray(tokens, dtype=np.int64)
    n = len(tokens)
    if n == 0:
        return tokens.copy(), tokens.copy()
    units = word_ids(tokens, starts_table) if starts_table is not None else np.arange(n)
    n_units = int(units[-1]) + 1
    num_mask = min(n_units, int(mask_prob * n_units + rng.random()))
    unit_masked = np.zeros(n_units, dtype=bool)
    unit_masked[rng.choice(n_units, num_mask, replace=False)] = True
    draw = rng.random(n_units)
    unit_random = unit_masked & (draw < random_token_prob)
    unit_keep = unit_masked & (draw >= random_token_prob) & (draw < random_token_prob + leave_unmasked_prob)
    unit_mask_symbol = unit_masked & ~unit_random & ~unit_keep

    masked = unit_masked[units]
    target = np.where(masked, tokens, pad_idx)
    out = tokens.copy()
    out[unit_mask_symbol[units]] = mask_idx
    replace = unit_random[units]
    if replace.any():
        out[replace] = rng.choice(random_tokens, int(replace.sum()))
    return out, target


class PairMaskingDataset(BaseWrapperDataset):
    """Adds ``x_masked``, ``x_target``, ``y_masked``, ``y_target`` to the items of a pair dataset."""

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
        item = dict(self.dataset[index], id=index)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        for side in ("x", "y"):
            masked, target = mask_pieces(item[side].numpy(), rng, **self.options)
            item[f"{side}_masked"] = torch.from_numpy(masked)
            item[f"{side}_target"] = torch.from_numpy(target)
        return item
