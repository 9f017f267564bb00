"""An alignment term on parallel data, mixed into fine-tuning (``--parallel-data DIR``).

Each training step of the fine-tuning criterion also draws one batch of word-aligned pairs from a
``weam-prepare`` data directory (its ``train`` split) and adds ``μ · mean alignment loss`` to the task's
mean loss (``--parallel-weight μ``). The loss (``--parallel-loss``):

- ``weam``: the WEAM pre-training loss (masked-LM on both sides + λ · cross-lingual prediction from the linked
  words' states), computed by ``fairseq_weam.criterions.weam`` on batches built by ``fairseq_weam.tasks.weam``;
- ``agreement``: for every piece link (i, j) of a pair, ``1 - cos(h^x_i, h^y_j)`` of the final-layer states of
  the unmasked sentences encoded apart, averaged over the batch's links.

``--parallel-adversarial`` computes the term on the parallel input perturbed by PGD within the ball of the
``--adv-*`` flags, the perturbation maximizing that same loss (misalignment). The term is logged apart
(``parallel_loss``, for ``weam`` also ``parallel_ml_loss`` / ``parallel_cl_loss``) and is not part of the
logged task ``loss``. It applies in training only. The parallel batches restart from their first epoch when a
run is resumed.
"""
import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from fairseq import utils
from fairseq.data import BaseWrapperDataset
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.logging import metrics
from omegaconf import II

from fairseq_weam.criterions.weam import WeamCriterion
from fairseq_weam.data.aligned_pair_dataset import (PairDataError, load_aligned_pairs, load_dictionary,
                                                   select_lang_pairs)
from fairseq_weam.data.pair_sampling import sample_pairs_with_temperature
from fairseq_weam.errors import WeamError
from fairseq_weam.robust import embedding_forward
from fairseq_weam.robust.embedding_attack import pgd_perturbation
from fairseq_weam.robust.embedding_noise import add_perturbation
from fairseq_weam.tasks.weam import WeamConfig, WeamTask

PARALLEL_LOSSES = ("weam", "agreement")
#: logging keys of the term (each a per-batch mean, summed over batches; ``parallel_batches`` counts them)
PARALLEL_KEYS = ("parallel_loss", "parallel_ml_loss", "parallel_cl_loss")


@dataclass
class ParallelAlignmentConfig(FairseqDataclass):
    parallel_data: Optional[str] = field(
        default=None, metadata={"help": "weam-prepare data directory whose train split is mixed into fine-tuning "
                                        "with an alignment term (default: none)"})
    parallel_weight: float = field(
        default=1.0, metadata={"help": "μ: the update minimizes mean task loss + μ · mean alignment loss"})
    parallel_loss: ChoiceEnum(PARALLEL_LOSSES) = field(
        default="weam", metadata={"help": "weam: the WEAM pre-training loss (masked LM + cross-lingual prediction); "
                                          "agreement: 1 - cos of linked pieces' final states"})
    parallel_adversarial: bool = field(
        default=False, metadata={"help": "compute the alignment term on a PGD perturbation of the parallel input "
                                         "that maximizes it (ball and steps of the --adv-* flags)"})
    parallel_lang_pairs: Optional[str] = field(
        default=None, metadata={"help": "comma-separated pairs of --parallel-data (default: every pair)"})
    parallel_batch_size: int = field(default=16, metadata={"help": "sentence pairs per parallel batch"})
    parallel_max_pieces: int = field(
        default=61, metadata={"help": "each side cut to this many pieces (<s> x </s> y </s> then fits in 2n+3 "
                                      "positions; keep it within the model's --max-positions)"})
    parallel_sampling_alpha: float = field(
        default=0.3, metadata={"help": "temperature of language-pair sampling, p_pair ∝ n_pair^alpha"})
    parallel_mask_prob: float = field(default=0.15, metadata={"help": "--parallel-loss weam: masking rate"})
    parallel_cl_weight: float = field(default=1.0, metadata={"help": "--parallel-loss weam: λ of the WEAM loss"})
    seed: int = II("common.seed")
    distributed_rank: int = II("distributed_training.distributed_rank")


class ParallelDataError(WeamError, ValueError):
    """Parallel data that cannot serve the fine-tuning model (the message names the files and the fix)."""


def _option(value, default):
    return default if isinstance(value, str) and value.startswith("${") else value


class LinkedPairBatches(BaseWrapperDataset):
    """Aligned pairs batched for the agreement loss: rows ``<s> x </s>`` (0..B-1) and ``<s> y </s>`` (B..2B-1),
    and every piece link as flat positions ``link_x`` / ``link_y`` in the ``2B x T`` batch."""

    def __init__(self, dataset, dictionary, seed):
        super().__init__(dataset)
        self.bos, self.eos, self.pad = dictionary.bos(), dictionary.eos(), dictionary.pad()
        self.seed, self.epoch = seed, 1

    def set_epoch(self, epoch):
        super().set_epoch(epoch)
        self.epoch = epoch

    def ordered_indices(self):
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self))

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        return False

    @staticmethod
    def _spread(start, lengths):
        offsets = torch.cumsum(lengths, 0) - lengths
        return torch.arange(int(lengths.sum())) + torch.repeat_interleave(start - offsets, lengths)

    def collater(self, samples):
        if not samples:
            return {}
        B = len(samples)
        lx = torch.tensor([len(s["x"]) for s in samples], dtype=torch.long)
        ly = torch.tensor([len(s["y"]) for s in samples], dtype=torch.long)
        width = int(torch.maximum(lx, ly).max()) + 2
        x_start, y_start = torch.arange(B) * width + 1, torch.arange(B, 2 * B) * width + 1
        tokens = torch.full((2 * B, width), self.pad, dtype=torch.long)
        flat = tokens.view(-1)
        for side, start, lengths in (("x", x_start, lx), ("y", y_start, ly)):
            flat[self._spread(start, lengths)] = torch.cat([s[side] for s in samples])
            flat[start + lengths] = self.eos
        tokens[:, 0] = self.bos
        links = torch.cat([s["links"].view(-1, 2) for s in samples])
        pair = torch.repeat_interleave(torch.arange(B), torch.tensor([len(s["links"]) for s in samples]))
        return {"pair": [s["pair"] for s in samples], "line": torch.tensor([s["line"] for s in samples]),
                "net_input": {"src_tokens": tokens}, "nsentences": B, "ntokens": int((lx + ly + 4).sum()),
                "link_x": x_start[pair] + links[:, 0], "link_y": y_start[pair] + links[:, 1],
                "nlinks": len(links)}


def agreement_loss(states, sample):
    """Mean over the batch's links of 1 - cos(h^x_i, h^y_j) (``states``: 2B x T x C final-layer states)."""
    flat = states.reshape(-1, states.size(-1)).float()
    cosine = F.cosine_similarity(flat.index_select(0, sample["link_x"]), flat.index_select(0, sample["link_y"]),
                                 dim=-1)
    return (1.0 - cosine).sum() / max(sample["nlinks"], 1)


class _FromEmbeddings:
    """The model, run from given input token embeddings: ``WeamCriterion`` calls ``model(src_tokens,
    features_only=True)``, which cannot take embeddings (see ``embedding_forward``)."""

    def __init__(self, model, embeddings):
        self._model, self._embeddings = model, embeddings

    def __call__(self, src_tokens, features_only=True, **kwargs):
        return embedding_forward.features(self._model, src_tokens, self._embeddings), {}

    def __getattr__(self, name):
        return getattr(self._model, name)


class ParallelAlignment:
    """The alignment term of ``cfg`` (a :class:`ParallelAlignmentConfig`) over the task's ``dictionary``."""

    def __init__(self, cfg, dictionary, pgd_settings, attack_loss_scale, num_shards=1):
        self.cfg, self.pgd, self.attack_loss_scale = cfg, pgd_settings, attack_loss_scale
        if cfg.parallel_weight < 0:
            raise ParallelDataError(f"--parallel-weight {cfg.parallel_weight} is negative: use μ >= 0")
        if cfg.parallel_batch_size < 1 or cfg.parallel_max_pieces < 1:
            raise ParallelDataError("--parallel-batch-size and --parallel-max-pieces must be >= 1")
        if cfg.parallel_loss == "weam" and not 0.0 < cfg.parallel_mask_prob <= 1.0:
            raise ParallelDataError(f"--parallel-mask-prob {cfg.parallel_mask_prob} masks nothing to predict: "
                                    "use a rate in (0, 1], e.g. 0.15")
        data = str(cfg.parallel_data)
        self.dictionary = load_dictionary(data)
        if self.dictionary.symbols != dictionary.symbols:
            raise ParallelDataError(
                f"--parallel-data {data}: its dict.txt ({len(self.dictionary)} types with <mask>) is not the "
                f"fine-tuning data's dictionary ({len(dictionary)} types): prepare both with the same --dict")
        try:
            self.pairs = select_lang_pairs(data, "train", cfg.parallel_lang_pairs)
        except PairDataError as err:
            raise ParallelDataError(f"--parallel-data {data}: {err}") from None
        self.seed = _option(cfg.seed, 1)
        self.shard = (num_shards, _option(cfg.distributed_rank, 0) if num_shards > 1 else 0)
        self.task = WeamTask(WeamConfig(data=data, lang_pairs=",".join(self.pairs), objective="weam",
                                        pair_sampling_alpha=cfg.parallel_sampling_alpha,
                                        mask_prob=cfg.parallel_mask_prob,
                                        tokens_per_sample=2 * cfg.parallel_max_pieces + 3, seed=self.seed,
                                        train_subset="train"), self.dictionary)
        self.weam_criterion = WeamCriterion(self.task, cfg.parallel_cl_weight)
        self.dataset, self.batches, self.epoch = None, None, 0

    def _load(self):
        if self.cfg.parallel_loss == "weam":
            self.task.load_dataset("train")
            self.dataset = self.task.dataset("train")
        else:
            sides = [load_aligned_pairs(self.task.cfg.data, "train", pair, self.dictionary,
                                        self.cfg.parallel_max_pieces, layouts=("rows",)) for pair in self.pairs]
            self.dataset = LinkedPairBatches(
                sample_pairs_with_temperature(sides, self.cfg.parallel_sampling_alpha, self.seed), self.dictionary,
                self.seed)

    def next_batch(self):
        """The next parallel batch (a fresh epoch, reshuffled and resampled, when one ends)."""
        if self.dataset is None:
            self._load()
        while True:
            if self.batches is None:
                self.epoch += 1
                self.batches = self.task.get_batch_iterator(
                    self.dataset, max_sentences=self.cfg.parallel_batch_size, seed=self.seed,
                    num_shards=self.shard[0], shard_id=self.shard[1], epoch=self.epoch,
                    disable_iterator_cache=True).next_epoch_itr(shuffle=True)
            batch = next(self.batches, None)
            if batch:
                return batch
            self.batches = None

    def _losses(self, model, sample, embeddings):
        """(loss mean, logged parts) of one parallel batch from its input token embeddings."""
        if self.cfg.parallel_loss == "agreement":
            states = embedding_forward.features(model, sample["net_input"]["src_tokens"], embeddings)
            loss = agreement_loss(states, sample)
            return loss, {"parallel_loss": loss.detach()}
        total, size, logged = self.weam_criterion(_FromEmbeddings(model, embeddings), sample)
        bits = 1.0 / math.log(2)
        return total / size, {"parallel_loss": total.detach() / size * bits,
                              "parallel_ml_loss": logged["ml_loss"] / max(logged["ml_tokens"], 1) * bits,
                              "parallel_cl_loss": logged["cl_loss"] / max(logged["cl_tokens"], 1) * bits}

    def term(self, model):
        """(μ · mean alignment loss of one parallel batch, logging entries)."""
        device = next(model.parameters()).device
        sample = utils.apply_to_sample(lambda t: t.to(device, non_blocking=True), self.next_batch())
        src_tokens = sample["net_input"]["src_tokens"]
        embeddings = embedding_forward.token_embeddings(model, src_tokens)
        if self.cfg.parallel_adversarial:
            pad = embedding_forward.padding_mask(model, src_tokens)
            delta = pgd_perturbation(lambda e: self._losses(model, sample, e)[0], embeddings, pad, self.pgd,
                                     loss_scale=self.attack_loss_scale)
            embeddings = add_perturbation(embeddings, delta)
        loss, logged = self._losses(model, sample, embeddings)
        return self.cfg.parallel_weight * loss, {**logged, "parallel_batches": 1}


def reduce_parallel_metrics(logging_outputs) -> None:
    """Log the term's parts: per-batch means averaged over the batches."""
    batches = sum(log.get("parallel_batches", 0) for log in logging_outputs)
    if not batches:
        return
    for key in PARALLEL_KEYS:
        if key in logging_outputs[0]:
            value = sum(log.get(key, 0) for log in logging_outputs) / batches
            metrics.log_scalar(key, utils.item(value) if torch.is_tensor(value) else value, batches, round=4)
