"""The last step of the pipeline: format masked pairs into the batch of one objective.

Everything before this wrapper is shared by all objectives; here, and only here, they differ:

* ``mlm``: ``<s> x </s>`` and ``<s> y </s>`` as 2B separate monolingual rows (rows 0..B-1 are x, B..2B-1 y);
* ``tlm``: one row ``<s> x </s> y </s>`` per pair, both sides masked;
* ``weam``: the rows of ``mlm`` (``input_mode=separate``) or of ``tlm`` (``concat``), plus ``cross_links``.

One-row formats present each pair in either order, ``<s> x </s> y </s>`` or ``<s> y </s> x </s>``, drawn per
example from (seed, epoch, index) (``both_orders``; the batch's ``y_first`` says which), so that no language is
confined to the second half of the positions. ``reset_positions`` adds ``net_input["positions"]``: fairseq's
position ids (``pad + 1`` for ``<s>``), restarting at the second sentence, whose first piece gets ``pad + 2`` as
if it were encoded alone.

``cross_links`` is an N x 2 tensor of positions in the flattened ``B' x T`` batch, ``(query, key)``: the
query is a masked piece, the key a piece of the other side linked to it. The criterion predicts the
query's token from the mean of its keys' final states. Both directions (x -> y and y -> x) are listed;
objectives without a cross-lingual loss get an empty ``0 x 2`` tensor, so batches share their keys.
Everything the loss needs to index is computed here, on the CPU (``ml_positions``, ``cross_queries``,
``cross_slot``, and the counts ``ml_tokens`` / ``cl_tokens`` as Python ints), so that the training step
never waits for the device to tell a size.
"""
import numpy as np
import torch
from fairseq.data import BaseWrapperDataset, data_utils

OBJECTIVES = ("weam", "tlm", "mlm")
INPUT_MODES = ("separate", "concat")
ORDER_STREAM = 1  # the pair-order draw of (seed, epoch, index) is a stream of its own, apart from the masks


def is_concat(objective, input_mode):
    """True when a pair is one row ``<s> x </s> y </s>``; False when x and y are two rows of the batch."""
    return objective == "tlm" or (objective == "weam" and input_mode == "concat")


class ObjectiveBatchDataset(BaseWrapperDataset):
    def __init__(self, dataset, dictionary, objective="weam", input_mode="separate", shuffle=True, seed=1,
                 both_orders=True, reset_positions=False):
        super().__init__(dataset)
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}: choose one of {', '.join(OBJECTIVES)}")
        if input_mode not in INPUT_MODES:
            raise ValueError(f"unknown input mode {input_mode!r}: choose one of {', '.join(INPUT_MODES)}")
        self.objective = objective
        self.concat = is_concat(objective, input_mode)
        self.both_orders = both_orders and self.concat
        self.reset_positions = reset_positions and self.concat
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
        """Sort by pair length (for padding efficiency), ties in a per-epoch random order."""
        sizes = np.asarray(self.sizes)
        if not self.shuffle:
            return np.argsort(sizes, kind="mergesort")
        tie_break = np.random.default_rng([self.seed, self.epoch]).permutation(len(self))
        return np.lexsort((tie_break, sizes))

    def num_tokens(self, index):
        return self.dataset.num_tokens(index)

    def size(self, index):
        return self.dataset.size(index)

    def __getitem__(self, index):
        item = self.dataset[index]
        if self.both_orders:
            item["y_first"] = bool(np.random.default_rng([self.seed, self.epoch, index, ORDER_STREAM]).random() < 0.5)
        return item

    def _wrap(self, *sides, fill=None):
        parts = [torch.tensor([self.bos if fill is None else fill])]
        for side in sides:
            parts += [side, torch.tensor([self.eos if fill is None else fill])]
        return torch.cat(parts)

    def collater(self, samples):
        if len(samples) == 0:
            return {}
        B = len(samples)
        y_first = [bool(s.get("y_first", False)) for s in samples]
        if self.concat:
            rows, targets, placement = [], [], []
            for r, (s, swap) in enumerate(zip(samples, y_first)):
                sides = ("y", "x") if swap else ("x", "y")
                rows.append(self._wrap(*(s[f"{side}_masked"] for side in sides)))
                targets.append(self._wrap(*(s[f"{side}_target"] for side in sides), fill=self.pad))
                first = len(s[sides[0]]) + 2  # where the second sentence starts
                placement.append((r, first, r, 1) if swap else (r, 1, r, first))
        else:
            rows = [self._wrap(s["x_masked"]) for s in samples] + [self._wrap(s["y_masked"]) for s in samples]
            targets = [self._wrap(s["x_target"], fill=self.pad) for s in samples]
            targets += [self._wrap(s["y_target"], fill=self.pad) for s in samples]
            placement = [(r, 1, B + r, 1) for r in range(B)]
        src_tokens = data_utils.collate_tokens(rows, self.pad)
        target = data_utils.collate_tokens(targets, self.pad)
        width = src_tokens.size(1)

        links = torch.zeros(0, 2, dtype=torch.long)
        if self.objective == "weam":
            links = self._cross_links(samples, placement, width)
        queries, slot = torch.unique(links[:, 0], return_inverse=True)
        ml_positions = target.reshape(-1).ne(self.pad).nonzero().squeeze(1)
        net_input = {
            "src_tokens": src_tokens,
            "src_lengths": torch.tensor([len(r) for r in rows], dtype=torch.long),
        }
        if self.reset_positions:
            second = torch.tensor([p[3] if not swap else p[1] for p, swap in zip(placement, y_first)])
            net_input["positions"] = self._positions(src_tokens, second)
        return {
            "id": torch.tensor([s["id"] for s in samples], dtype=torch.long),
            "pair": [s["pair"] for s in samples],
            "line": torch.tensor([s["line"] for s in samples], dtype=torch.long),
            "y_first": torch.tensor(y_first, dtype=torch.bool),
            "nsentences": B,
            "ntokens": int(src_tokens.ne(self.pad).sum()),
            "net_input": net_input,
            "target": target,
            "ml_positions": ml_positions,
            "ml_tokens": len(ml_positions),
            "cross_links": links,
            "cross_queries": queries,
            "cross_slot": slot,
            "cl_tokens": len(queries),
        }

    def _positions(self, src_tokens, second):
        """fairseq's position ids (``pad + 1 + t``), restarting at column ``second[r]`` of row r at ``pad + 2``."""
        t = torch.arange(src_tokens.size(1)).unsqueeze(0)
        start = second.unsqueeze(1)
        positions = torch.where(t < start, self.pad + 1 + t, self.pad + 2 + t - start)
        return positions.masked_fill(src_tokens.eq(self.pad), self.pad)

    def _cross_links(self, samples, placement, width):
        edges = []
        for s, (x_row, x_off, y_row, y_off) in zip(samples, placement):
            i, j = s["links"][:, 0], s["links"][:, 1]
            x_pos = x_row * width + x_off + i
            y_pos = y_row * width + y_off + j
            x_masked = s["x_target"][i].ne(self.pad)
            y_masked = s["y_target"][j].ne(self.pad)
            edges.append(torch.stack([x_pos[x_masked], y_pos[x_masked]], dim=1))
            edges.append(torch.stack([y_pos[y_masked], x_pos[y_masked]], dim=1))
        return torch.cat(edges, dim=0) if edges else torch.zeros(0, 2, dtype=torch.long)
