"""The last step of the pipeline: format masked pairs into the batch of one objective.

Everything before this wrapper is shared by all objectives; here, and only here, they differ:

* ``mlm``: ``<s> x </s>`` and ``<s> y </s>`` as 2B separate monolingual rows (rows 0..B-1 are x, B..2B-1 y);
* ``tlm``: one row ``<s> x </s> y </s>`` per pair, both sides masked;
* ``weam``: the rows of ``mlm`` (``input_mode=separate``) or of ``tlm`` (``concat``), plus ``cross_links``;
* ``packed`` (weam and mlm): one row ``<s> x </s> <s> y </s>`` per pair whose two sentences do not see each
  other: ``net_input["blocks_from"]`` is the column where the second sentence starts, the criterion restricts
  attention to each sentence's own columns, and positions restart at the second ``<s>``. The encoder's outputs
  are those of two rows (the same method), but the batch pads like one row (``|x| + |y| + 4`` cells per pair
  instead of ``2 * (max(|x|, |y|) + 2)``).

One-row formats present each pair in either order, ``<s> x </s> y </s>`` or ``<s> y </s> x </s>``, drawn per
example from (seed, epoch, index) (``both_orders``, ``pair_orders``; the batch's ``y_first`` says which), so that no language is
confined to the second half of the positions. ``reset_positions`` adds ``net_input["positions"]``: fairseq's
position ids (``pad + 1`` for ``<s>``), restarting at the second sentence, whose first piece gets ``pad + 2`` as
if it were encoded alone.

``cross_links`` is an N x 2 tensor of positions in the flattened ``B' x T`` batch, ``(query, key)``: the
query is a masked piece, the key a piece of the other side linked to it. The criterion predicts the
query's token from the mean of its keys' final states. Both directions (x -> y and y -> x) are listed;
objectives without a cross-lingual loss get an empty ``0 x 2`` tensor, so batches share their keys.
The masks are drawn here too, for the whole batch at once (``PairMaskingDataset.mask_batch``), unless the items
carry their own (``x_masked``, ``x_target``, ...; and ``y_first``). Everything the loss needs to index is computed here, on the CPU, with a fixed number of vectorized tensor
operations per batch (no Python per pair beyond gathering the items' tensors): ``ml_positions``,
``cross_queries``, ``cross_slot``, the one gather of every prediction of the LM head (``gather_positions``,
``gather_slot``, ``gather_counts``, ``prediction_target``: masked pieces first, then queries), and the counts
``ml_tokens`` / ``cl_tokens`` as Python ints, so that the training step never waits for the device to tell a size.
"""
import numpy as np
import torch
from fairseq.data import BaseWrapperDataset

from fairseq_weam.data.keyed_random import derive_key, keyed_uniform

OBJECTIVES = ("weam", "tlm", "mlm")
INPUT_MODES = ("separate", "concat", "packed")
ORDER_STREAM = 2  # the pair order is keyed (seed, epoch, index, 2); the masks' keys are (seed, epoch, index, side 0|1, ...)


def row_layout(objective, input_mode):
    """How a pair of ``objective`` sits in the batch: ``rows`` (x and y two rows), ``concat`` (one row
    ``<s> x </s> y </s>``, each side attending to both) or ``packed`` (one row ``<s> x </s> <s> y </s>``, each
    side attending to itself only). tlm is always ``concat``; mlm is ``packed`` or ``rows``, never concat;
    contrastive rows (unmasked x and y) are always ``rows``."""
    if objective == "tlm":
        return "concat"
    if input_mode == "packed" and objective in ("weam", "mlm"):
        return "packed"
    return "concat" if objective == "weam" and input_mode == "concat" else "rows"


def is_concat(objective, input_mode):
    """True when a pair is one row ``<s> x </s> y </s>`` whose sides see each other."""
    return row_layout(objective, input_mode) == "concat"


def pair_costs(x_lengths, y_lengths, layouts):
    """Tensor cells of each pair in a padded batch (what ``--max-tokens`` bounds: rows x longest), the largest
    over ``layouts`` (a hybrid batch formats items by several)."""
    per_layout = {"rows": 2 * (np.maximum(x_lengths, y_lengths) + 2), "concat": x_lengths + y_lengths + 3,
                  "packed": x_lengths + y_lengths + 4}
    return np.max([per_layout[layout] for layout in layouts], axis=0).astype(np.int64)


class ObjectiveBatchDataset(BaseWrapperDataset):
    def __init__(self, dataset, dictionary, objective="weam", input_mode="separate", shuffle=True, seed=1,
                 both_orders=True, reset_positions=False, order_by_cost=True):
        super().__init__(dataset)
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}: choose one of {', '.join(OBJECTIVES)}")
        if input_mode not in INPUT_MODES:
            raise ValueError(f"unknown input mode {input_mode!r}: choose one of {', '.join(INPUT_MODES)}")
        self.objective = objective
        self.layout = row_layout(objective, input_mode)
        self.concat = self.layout == "concat"
        self.both_orders = both_orders and self.concat
        self.reset_positions = reset_positions and self.concat
        self.order_by_cost = order_by_cost
        self.bos, self.eos, self.pad = dictionary.bos(), dictionary.eos(), dictionary.pad()
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 1

    def set_epoch(self, epoch):
        super().set_epoch(epoch)
        self.epoch = epoch

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        # the order is re-shuffled every epoch (and pairs may be re-sampled)
        return not self.shuffle and self.dataset.can_reuse_epoch_itr_across_epochs

    def ordered_indices(self):
        """Sort by what a pair costs in the padded batch, ``num_tokens`` (``order_by_cost``, for padding efficiency):
        2 * (max(|x|, |y|) + 2) for two rows, |x| + |y| + 3 (concat) or + 4 (packed) for one row; without
        ``order_by_cost``, by |x| + |y| whatever the format. Ties in a per-epoch random order."""
        sizes = self.num_tokens_vec(np.arange(len(self))) if self.order_by_cost else np.asarray(self.sizes)
        if not self.shuffle:
            return np.argsort(sizes, kind="mergesort")
        tie_break = np.random.default_rng([self.seed, self.epoch]).permutation(len(self))
        return np.lexsort((tie_break, sizes))

    def num_tokens(self, index):
        return self.dataset.num_tokens(index)

    def size(self, index):
        return self.dataset.size(index)

    def pair_orders(self, indices):
        """Whether item ``indices[k]`` shows y first (one-row formats with ``both_orders``): a function of
        (seed, epoch, index) drawn for all indices at once."""
        indices = np.asarray(indices, dtype=np.int64)
        if not self.both_orders:
            return np.zeros(len(indices), dtype=bool)
        return keyed_uniform(derive_key(None, self.seed, self.epoch), indices, ORDER_STREAM) < 0.5

    def num_tokens_vec(self, indices):
        return self.dataset.num_tokens_vec(indices)

    def collater(self, samples):
        """The batch, built with a fixed number of tensor operations whatever the number of pairs."""
        if len(samples) == 0:
            return {}
        B = len(samples)
        if "y_first" in samples[0]:
            y_first = torch.tensor([bool(s["y_first"]) for s in samples], dtype=torch.bool)
        else:
            y_first = torch.from_numpy(self.pair_orders([s["id"] for s in samples]))
        lx = torch.tensor([s["x"].shape[0] for s in samples], dtype=torch.long)
        ly = torch.tensor([s["y"].shape[0] for s in samples], dtype=torch.long)
        if self.concat:  # row r: <s> x </s> y </s>, or <s> y </s> x </s> where y_first
            row_lengths = lx + ly + 3
            x_row = y_row = torch.arange(B)
            x_col = torch.where(y_first, ly + 2, 1)
            y_col = torch.where(y_first, 1, lx + 2)
        elif self.layout == "packed":  # row r: <s> x </s> <s> y </s>, the second <s> at column lx + 2
            row_lengths = lx + ly + 4
            x_row = y_row = torch.arange(B)
            x_col, y_col = torch.ones(B, dtype=torch.long), lx + 3
        else:  # rows 0..B-1: <s> x </s>; rows B..2B-1: <s> y </s>
            row_lengths = torch.cat([lx + 2, ly + 2])
            x_row, y_row = torch.arange(B), torch.arange(B, 2 * B)
            x_col = y_col = torch.ones(B, dtype=torch.long)
        width = int(row_lengths.max())
        x_start, y_start = x_row * width + x_col, y_row * width + y_col  # flat position of each side's piece 0

        src_tokens = torch.full((len(row_lengths), width), self.pad, dtype=torch.long)
        target = torch.full_like(src_tokens, self.pad)
        flat_src, flat_target = src_tokens.view(-1), target.view(-1)
        masks = self._masks(samples, lx, ly)
        for side, start, lengths in (("x", x_start, lx), ("y", y_start, ly)):
            positions = self._spread(start, lengths)
            flat_src[positions], flat_target[positions] = masks[side]
            flat_src[start + lengths] = self.eos
        src_tokens[:, 0] = self.bos
        if self.layout == "packed":
            flat_src[y_start - 1] = self.bos

        ml_positions = flat_target.ne(self.pad).nonzero().squeeze(1)
        links = torch.zeros(0, 2, dtype=torch.long)
        if self.objective == "weam":
            links = self._cross_links(samples, x_start, y_start, flat_target)
        queries, slot = torch.unique(links[:, 0], return_inverse=True)
        ml_tokens, cl_tokens = len(ml_positions), len(queries)
        net_input = {"src_tokens": src_tokens, "src_lengths": row_lengths}
        if self.reset_positions:
            net_input["positions"] = self._positions(src_tokens, torch.where(y_first, x_col, y_col), self.pad + 2)
        if self.layout == "packed":  # the second sentence's <s> gets <s>'s position, as if encoded alone
            net_input["positions"] = self._positions(src_tokens, y_col - 1, self.pad + 1)
            net_input["blocks_from"] = y_col - 1
        return {
            "id": torch.tensor([s["id"] for s in samples], dtype=torch.long),
            "pair": [s["pair"] for s in samples],
            "line": torch.tensor([s["line"] for s in samples], dtype=torch.long),
            "y_first": y_first,
            "nsentences": B,
            "ntokens": int(row_lengths.sum()),
            "net_input": net_input,
            "target": target,
            "ml_positions": ml_positions,
            "ml_tokens": ml_tokens,
            "cross_links": links,
            "cross_queries": queries,
            "cross_slot": slot,
            "cl_tokens": cl_tokens,
            # what the LM head predicts, in one pass: the ml_tokens masked pieces, then the cl_tokens queries.
            # Prediction k is the sum of the states at gather_positions whose gather_slot is k, / gather_counts[k]
            "gather_positions": torch.cat([ml_positions, links[:, 1]]),
            "gather_slot": torch.cat([torch.arange(ml_tokens), ml_tokens + slot]),
            "gather_counts": torch.cat([torch.ones(ml_tokens), torch.bincount(slot, minlength=cl_tokens).float()]),
            "prediction_target": flat_target[torch.cat([ml_positions, queries])],
        }

    def _masks(self, samples, lx, ly):
        """``{side: (masked, target)}``, the samples' pieces one after the other: the items' own masks, or those
        the wrapped ``PairMaskingDataset`` draws for the batch."""
        if "x_masked" in samples[0]:
            return {side: (torch.cat([s[f"{side}_masked"] for s in samples]),
                           torch.cat([s[f"{side}_target"] for s in samples])) for side in ("x", "y")}
        return self.dataset.mask_batch([s["id"] for s in samples], torch.cat([s["x"] for s in samples]), lx,
                                       torch.cat([s["y"] for s in samples]), ly)

    @staticmethod
    def _spread(start, lengths):
        """Flat positions ``start[k] + t`` for ``t < lengths[k]``, for every k in turn."""
        offsets = torch.cumsum(lengths, 0) - lengths
        return torch.arange(int(lengths.sum())) + torch.repeat_interleave(start - offsets, lengths)

    def _positions(self, src_tokens, second, restart):
        """fairseq's position ids (``pad + 1 + t``), restarting at column ``second[r]`` of row r at ``restart``."""
        t = torch.arange(src_tokens.size(1)).unsqueeze(0)
        start = second.unsqueeze(1)
        positions = torch.where(t < start, self.pad + 1 + t, restart + t - start)
        return positions.masked_fill(src_tokens.eq(self.pad), self.pad)


    def _cross_links(self, samples, x_start, y_start, flat_target):
        """(query, key) flat positions: (x, y) for every link whose x piece is masked, (y, x) for every link whose
        y piece is masked; all x -> y edges first, then all y -> x edges, each in the pairs' own link order."""
        links = torch.cat([s["links"].view(-1, 2) for s in samples])
        pair = torch.repeat_interleave(torch.arange(len(samples)), torch.tensor([len(s["links"]) for s in samples]))
        x_pos, y_pos = x_start[pair] + links[:, 0], y_start[pair] + links[:, 1]
        x_masked, y_masked = flat_target[x_pos].ne(self.pad), flat_target[y_pos].ne(self.pad)
        return torch.cat([torch.stack([x_pos[x_masked], y_pos[x_masked]], dim=1),
                          torch.stack([y_pos[y_masked], x_pos[y_masked]], dim=1)])
