"""Hybrid batches: several objectives in one update, or the same objectives alternated batch by batch.

One sampler assigns every item of an epoch an objective, with the proportions of ``--hybrid-objectives``
(e.g. ``weam:0.5,contrastive:0.3,mlm:0.2``), drawn from (seed, epoch) in one vectorized draw. An item keeps
its masks (they depend on (seed, epoch, index) only), so an objective sees exactly the items it would see
alone. ``mixed`` batching: fairseq batches the items as usual, so a batch mixes objectives in about those
proportions, and the collater formats each objective's items with that objective's own collater (the batch is
``{"objectives": {name: batch}}``). ``alternate``: the same assignment, but each batch holds the items of one
objective (batched per objective, then shuffled together by fairseq's iterator), so objectives alternate from
batch to batch in the same proportions.
"""
import numpy as np
from fairseq.data import BaseWrapperDataset

from fairseq_weam.errors import WeamError

HYBRID_OBJECTIVES = ("weam", "tlm", "mlm", "contrastive")
TASK_OBJECTIVES = HYBRID_OBJECTIVES + ("hybrid",)
BATCHINGS = ("mixed", "alternate")
ASSIGNMENT_STREAM = 2  # the objective draw of (seed, epoch) is a stream of its own, apart from masks and orders


class HybridSpecError(WeamError, ValueError):
    """A ``--hybrid-objectives`` value that cannot be used (the message says why and what to write)."""


def parse_hybrid_objectives(spec):
    """``"weam:0.5,contrastive:0.3,mlm:0.2"`` -> ``{"weam": 0.5, ...}`` (shares normalized to sum to 1)."""
    example = "e.g. --hybrid-objectives weam:0.5,contrastive:0.3,mlm:0.2"
    parts = [p.strip() for p in (spec or "").split(",") if p.strip()]
    if not parts:
        raise HybridSpecError(f"--hybrid-objectives is empty: list objective:share pairs, {example}")
    shares = {}
    for part in parts:
        name, sep, value = part.partition(":")
        name = name.strip()
        if not sep:
            raise HybridSpecError(f"--hybrid-objectives: {part!r} is not objective:share, {example}")
        if name not in HYBRID_OBJECTIVES:
            raise HybridSpecError(
                f"--hybrid-objectives: unknown objective {name!r}; choose among {', '.join(HYBRID_OBJECTIVES)}")
        if name in shares:
            raise HybridSpecError(f"--hybrid-objectives: {name} is listed twice")
        try:
            share = float(value)
        except ValueError:
            raise HybridSpecError(f"--hybrid-objectives: share {value!r} of {name} is not a number, {example}") \
                from None
        if not share > 0 or not np.isfinite(share):
            raise HybridSpecError(f"--hybrid-objectives: share {value} of {name} must be > 0 (drop the objective)")
        shares[name] = share
    total = sum(shares.values())
    return {name: share / total for name, share in shares.items()}


def assign_objectives(size, shares, seed, epoch):
    """Objective number (in the order of ``shares``) of each of the ``size`` items of an epoch."""
    rng = np.random.default_rng([seed, epoch, ASSIGNMENT_STREAM])
    return rng.choice(len(shares), size=size, p=np.asarray(list(shares.values()), dtype=np.float64))


class HybridBatchDataset(BaseWrapperDataset):
    """Items of one base dataset, each formatted by the dataset of its objective (``formatters``: name ->
    dataset with ``__getitem__`` and ``collater`` over the same items). Ordering and sizes are the first
    formatter's."""

    def __init__(self, formatters, shares, seed, batching="mixed"):
        if batching not in BATCHINGS:
            raise ValueError(f"unknown hybrid batching {batching!r}: choose one of {', '.join(BATCHINGS)}")
        if list(formatters) != list(shares):
            raise ValueError(f"formatters {list(formatters)} and shares {list(shares)} must name the same objectives")
        super().__init__(next(iter(formatters.values())))
        self.formatters = formatters
        self.names = list(shares)
        self.shares = shares
        self.seed = seed
        self.batching = batching
        self.epoch = 1
        self._assignment = None

    def set_epoch(self, epoch):
        for formatter in self.formatters.values():
            formatter.set_epoch(epoch)
        self.epoch = epoch

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        return False  # the assignment changes every epoch

    def assignment(self):
        """The objective number of every item of the current epoch."""
        key = (self.epoch, len(self))
        if self._assignment is None or self._assignment[0] != key:
            self._assignment = (key, assign_objectives(len(self), self.shares, self.seed, self.epoch))
        return self._assignment[1]

    def __getitem__(self, index):
        name = self.names[self.assignment()[index]]
        item = self.formatters[name][index]
        item["objective"] = name
        return item

    def collater(self, samples):
        if len(samples) == 0:
            return {}
        groups = {}
        for sample in samples:
            groups.setdefault(sample["objective"], []).append(sample)
        batches = {name: self.formatters[name].collater(groups[name]) for name in self.names if name in groups}
        return {
            "objectives": batches,
            "nsentences": len(samples),
            "ntokens": sum(batch["ntokens"] for batch in batches.values()),
        }

    def batch_by_size(self, indices, max_tokens=None, max_sentences=None, required_batch_size_multiple=1):
        """``mixed``: fairseq's batches; ``alternate``: batches of one objective each."""
        options = dict(max_tokens=max_tokens, max_sentences=max_sentences,
                       required_batch_size_multiple=required_batch_size_multiple)
        if self.batching == "mixed":
            return self.dataset.batch_by_size(indices, **options)
        indices = np.asarray(indices, dtype=np.int64)
        objective = self.assignment()[indices]
        batches = []
        for k in range(len(self.names)):
            group = indices[objective == k]
            if len(group):
                batches += list(self.dataset.batch_by_size(group, **options))
        return batches
