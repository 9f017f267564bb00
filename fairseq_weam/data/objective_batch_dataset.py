"""The last step of the pipeline: format masked pairs into the batch of one objective.

Everything before this wrapper is shared by all objectives; here, and only here, they differ:

* ``mlm``: ``<s> x </s>`` and ``<s> y </s>`` as 2B separate monolingual rows (rows 0..B-1 are x, B..2B-1 y);
* ``tlm``: one row ``<s> x </s> y </s>`` per pair, both sides masked;
* ``weam``: the rows of ``mlm`` (``input_mode=separate``) or of ``tlm`` (``concat``), plus ``cross_links``.

``cross_links`` is an N x 2 tensor of positions in the flattened ``B' x T`` batch, ``(query, key)``: the
query is a masked piece, the key a piece of the other side linked to it. The criterion predicts the
query's token from the mean of its keys' final states. Both directions (x -> y and y -> x) are listed;
objectives without a cross-lingual loss get an empty ``0 x 2`` tensor, so batches share their keys.
"""
import numpy as np
import torch
from fairseq.data import BaseWrapperDataset, data_utils

OBJECTIVES = ("weam", "tlm", "mlm")
INPUT_MODES = ("separate", "concat")


class ObjectiveBatchDataset(BaseWrapperDataset):
    def __init__(self, dataset, dictionary, objective="weam", input_mode="separate", shuffle=True, seed=1):
        super().__init__(dataset)
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}: choose one of {', '.join(OBJECTIVES)}")
        if input_mode not in INPUT_MODES:
            raise ValueError(f"unknown input mode {input_mode!r}: choose one of {', '.join(INPUT_MODES)}")
        self.objective = objective
        self.concat = objective == "tlm" or (objective == "weam" and input_mode == "concat")
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

    def _wrap(self, *sides, fill=None):
        parts = [torch.tensor([self.bos if fill is None else fill])]
        for side in sides:
            parts += [side, torch.tensor([self.eos if fill is None else fill])]
        return torch.cat(parts)

    def collater(self, samples):
        if len(samples) == 0:
            return {}
        B = len(samples)
        if self.concat:
            rows = [self._wrap(s["x_masked"], s["y_masked"]) for s in samples]
            targets = [self._wrap(s["x_target"], s["y_target"], fill=self.pad) for s in samples]
            placement = [(r, 1, r, len(s["x"]) + 2) for r, s in enumerate(samples)]
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
        return {
            "id": torch.tensor([s["id"] for s in samples], dtype=torch.long),
            "pair": [s["pair"] for s in samples],
            "line": torch.tensor([s["line"] for s in samples], dtype=torch.long),
            "nsentences": B,
            "ntokens": int(src_tokens.ne(self.pad).sum()),
            "net_input": {
                "src_tokens": src_tokens,
                "src_lengths": torch.tensor([len(r) for r in rows], dtype=torch.long),
            },
            "target": target,
            "cross_links": links,
        }

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
