"""One language pair: the pieces of both sides and their piece-level links, cut to a common length."""
import numpy as np
import torch
from fairseq.data import FairseqDataset


class AlignedPairDataset(FairseqDataset):
    """Items ``{"pair", "line", "x", "y", "links"}``: piece ids without ``</s>`` and a K x 2 tensor of (i, j) links.

    Both sides are cut to ``max_pieces`` pieces so that every objective (two sequences, or
    ``<s> x </s> y </s>``) fits the model, and so that all objectives see exactly the same pieces; links
    that point past a cut are dropped. ``sizes`` is the length of the pair as one sequence
    (``|x| + |y| + 3``) for every objective, so that batching does not depend on the objective.
    """

    def __init__(self, src, tgt, align, eos, max_pieces, name=""):
        if len(src) != len(tgt) or (align is not None and len(align) != len(src)):
            raise ValueError(
                f"language pair {name}: {len(src)} source lines, {len(tgt)} target lines and "
                f"{len(align) if align is not None else 0} alignment lines; re-run weam-prepare for this pair"
            )
        self.src, self.tgt, self.align = src, tgt, align
        self.eos = eos
        self.max_pieces = max_pieces
        self.name = name
        self.src_lengths = np.minimum(self._lengths(src), max_pieces)
        self.tgt_lengths = np.minimum(self._lengths(tgt), max_pieces)
        self._sizes = (self.src_lengths + self.tgt_lengths + 3).astype(np.int64)

    @staticmethod
    def _lengths(dataset):
        # binarized lines end with </s>, which the pair formats add back themselves
        return np.asarray(dataset.sizes, dtype=np.int64) - 1

    def _side(self, dataset, index):
        tokens = dataset[index]
        if len(tokens) and tokens[-1] == self.eos:
            tokens = tokens[:-1]
        return tokens[: self.max_pieces].long()

    def __getitem__(self, index):
        x, y = self._side(self.src, index), self._side(self.tgt, index)
        if self.align is not None and len(self.align[index]):
            links = self.align[index].long().view(-1, 2)
            keep = (links[:, 0] < len(x)) & (links[:, 1] < len(y)) & (links >= 0).all(dim=1)
            links = links[keep]
        else:
            links = torch.zeros(0, 2, dtype=torch.long)
        return {"pair": self.name, "line": index, "x": x, "y": y, "links": links}

    def __len__(self):
        return len(self.src)

    @property
    def sizes(self):
        return self._sizes

    def num_tokens(self, index):
        return self._sizes[index]

    def size(self, index):
        return self._sizes[index]

    @property
    def supports_prefetch(self):
        return False
