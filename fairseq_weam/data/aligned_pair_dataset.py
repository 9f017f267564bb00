"""One language pair: the pieces of both sides and their piece-level links, cut to a common length.

Also the one reader of a ``weam-prepare`` data directory (``dict.txt``; per pair
``{split}.{l1}-{l2}.{l1|l2}`` and ``{split}.align.{l1}-{l2}``), used by the ``weam`` task and by evaluation.
"""
import os
import re

import numpy as np
import torch
from fairseq.data import Dictionary, FairseqDataset, data_utils

from fairseq_weam.data.objective_batch_dataset import pair_costs
from fairseq_weam.errors import WeamError

LAYOUT = ("dict.txt, {split}.{l1}-{l2}.{lang}.bin/.idx, {split}.align.{l1}-{l2}.bin/.idx "
          "(written by weam-prepare)")


class PairDataError(WeamError, FileNotFoundError):
    """A file of the data directory is missing (the message names it)."""

    def __str__(self):
        return self.args[0]


def load_dictionary(data_dir):
    """The shared dictionary of ``data_dir`` with ``<mask>`` appended (as the model's vocabulary)."""
    path = os.path.join(data_dir, "dict.txt")
    if not os.path.exists(path):
        raise PairDataError(f"{path} not found: a weam data directory holds {LAYOUT}")
    dictionary = Dictionary.load(path)
    dictionary.add_symbol("<mask>")
    return dictionary


def find_lang_pairs(data_dir, split):
    """Language pairs ``l1-l2`` with both sides of ``split`` binarized in ``data_dir``."""
    pattern = re.compile(rf"^{re.escape(split)}\.([^.]+)-([^.]+)\.([^.]+)\.idx$")
    sides = {}
    for name in os.listdir(data_dir):
        match = pattern.match(name)
        if match and match.group(3) in match.group(1, 2):
            sides.setdefault(f"{match.group(1)}-{match.group(2)}", set()).add(match.group(3))
    return sorted(pair for pair, langs in sides.items() if len(langs) == 2)


def select_lang_pairs(data_dir, split, wanted=None):
    """The pairs of ``split`` named in ``wanted`` (comma-separated; default: every pair found)."""
    found = find_lang_pairs(data_dir, split)
    if not wanted:
        if not found:
            raise PairDataError(
                f"no language pair for split '{split}' in {data_dir} "
                f"(expected {split}.l1-l2.l1.idx and {split}.l1-l2.l2.idx)"
            )
        return found
    pairs = [p.strip() for p in wanted.split(",") if p.strip()]
    missing = [p for p in pairs if p not in found]
    if missing:
        raise PairDataError(
            f"--lang-pairs {','.join(missing)}: not binarized for split '{split}' in {data_dir} "
            f"(found: {', '.join(found) or 'none'})"
        )
    return pairs


def load_aligned_pairs(data_dir, split, pair, dictionary, max_pieces, require_alignments=True,
                       layouts=("concat",)):
    """The ``AlignedPairDataset`` of one language pair and split of a weam data directory."""
    l1, l2 = pair.split("-")
    prefix = os.path.join(data_dir, f"{split}.{pair}.")
    src = data_utils.load_indexed_dataset(prefix + l1, dictionary)
    tgt = data_utils.load_indexed_dataset(prefix + l2, dictionary)
    if src is None or tgt is None:
        missing = prefix + (l1 if src is None else l2)
        raise PairDataError(f"{missing}.bin/.idx not found: a weam data directory holds {LAYOUT}")
    align_prefix = os.path.join(data_dir, f"{split}.align.{pair}")
    align = data_utils.load_indexed_dataset(align_prefix, None)
    if align is None and require_alignments:
        raise PairDataError(
            f"{align_prefix}.bin/.idx not found: the word alignments of {pair} ({split}) are needed; "
            "weam-prepare writes them (fairseq-preprocess --align-suffix align)"
        )
    return AlignedPairDataset(src, tgt, align, dictionary.eos(), max_pieces, name=pair, layouts=layouts)


class AlignedPairDataset(FairseqDataset):
    """Items ``{"pair", "line", "x", "y", "links"}``: piece ids without ``</s>`` and a K x 2 tensor of (i, j) links.

    Both sides are cut to ``max_pieces`` pieces so that every objective (two sequences, or
    ``<s> x </s> y </s>``) fits the model, and so that all objectives see exactly the same pieces; links
    that point past a cut are dropped. ``sizes`` is the length of the pair as one sequence
    (``|x| + |y| + 3``) for every objective, so that every objective orders the pairs alike.
    ``num_tokens`` is what the pair costs in the padded batch tensor, which fairseq's ``--max-tokens``
    bounds as ``rows x longest``, for the batch ``layouts`` (``objective_batch_dataset.pair_costs``):
    ``|x| + |y| + 3`` for one row ``<s> x </s> y </s>``, ``|x| + |y| + 4`` packed ``<s> x </s> <s> y </s>``,
    ``2 * (max(|x|, |y|) + 2)`` when x and y are two rows. ``size`` returns the same
    cost, because fairseq's ``ConcatDataset`` counts tokens by ``size``; filtering by ``--max-positions``
    reads ``sizes``, and every pair fits by construction.
    """

    def __init__(self, src, tgt, align, eos, max_pieces, name="", layouts=("concat",)):
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
        self._num_tokens = pair_costs(self.src_lengths, self.tgt_lengths, layouts)

    @staticmethod
    def _lengths(dataset):
        # binarized lines end with </s>, which the pair formats add back themselves
        return np.asarray(dataset.sizes, dtype=np.int64) - 1

    def __getitem__(self, index):
        # binarized lines end with </s>: the first `length` pieces are the side without it, cut to max_pieces
        lx, ly = self.src_lengths[index], self.tgt_lengths[index]
        x, y = self.src[index][:lx], self.tgt[index][:ly]
        if self.align is None:
            return {"pair": self.name, "line": index, "x": x, "y": y, "links": torch.zeros(0, 2, dtype=torch.long)}
        links = self.align[index].numpy().reshape(-1, 2)  # read once: a memory-mapped slice; numpy: cheap when small
        keep = (links[:, 0] < lx) & (links[:, 1] < ly) & (links.min(axis=1, initial=0) >= 0)
        if not keep.all():
            links = links[keep]
        return {"pair": self.name, "line": index, "x": x, "y": y, "links": torch.from_numpy(links)}

    def __len__(self):
        return len(self.src)

    @property
    def sizes(self):
        return self._sizes

    def num_tokens(self, index):
        return self._num_tokens[index]

    def num_tokens_vec(self, indices):
        return self._num_tokens[indices]

    def size(self, index):
        return self._num_tokens[index]

    @property
    def supports_prefetch(self):
        return False
