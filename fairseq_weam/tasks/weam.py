"""The ``weam`` task: alignment-aware pre-training on word-aligned parallel data, and its TLM / MLM baselines.

Reads the data directory written by ``weam-prepare`` (one shared ``dict.txt``; per pair
``{split}.{l1}-{l2}.{l1|l2}`` and ``{split}.align.{l1}-{l2}``), samples language pairs with temperature α,
masks both sides of every pair (the same pieces for every objective of one seed), and formats the batch for
``--objective weam|tlm|mlm`` (one-row formats show each pair in both orders), for ``contrastive`` (unmasked pairs,
InfoNCE over in-batch negatives; also added to weam/tlm/mlm by ``--contrastive-weight``), or for ``hybrid``
(several objectives per update, or alternated batch by batch: ``--hybrid-objectives``, ``--hybrid-batching``).
The method is a re-implementation from the paper's Figure 1 (DESIGN.md §4). Settings under which nothing can be
predicted, or that cannot run here, are refused in ``setup_task`` (``WeamTaskError``, one line).
"""
import logging
import os
from dataclasses import dataclass, field
from typing import Optional

import torch
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.tasks import FairseqTask, register_task
from omegaconf import II, MISSING

from fairseq_weam import checkpoint_safety
from fairseq_weam.data import (  # noqa: F401  (find_lang_pairs: re-exported, part of the task's API)
    ObjectiveBatchDataset,
    PairConcatDataset,
    PairMaskingDataset,
    find_lang_pairs,
    is_concat,
    load_aligned_pairs,
    load_dictionary,
    row_layout,
    sample_pairs_with_temperature,
    select_lang_pairs,
)
from fairseq_weam.data.contrastive_batch_dataset import ContrastiveBatchDataset
from fairseq_weam.data.hybrid_batches import (
    BATCHINGS,
    TASK_OBJECTIVES,
    HybridBatchDataset,
    HybridSpecError,
    parse_hybrid_objectives,
)
from fairseq_weam.data.objective_batch_dataset import INPUT_MODES
from fairseq_weam.errors import WeamError
from fairseq_weam.text.pieces import word_start_table

logger = logging.getLogger(__name__)

EMBEDDING_KEY = "encoder.sentence_encoder.embed_tokens.weight"
MIN_TOKENS_PER_SAMPLE = 5  # <s> x </s> y </s> with one piece on each side


class WeamTaskError(WeamError, ValueError):
    """A setting of ``--task weam`` that cannot work (the message names the flag and the fix)."""


@dataclass
class WeamConfig(FairseqDataclass):
    data: str = field(default=MISSING, metadata={"help": "data directory written by weam-prepare"})
    lang_pairs: Optional[str] = field(
        default=None,
        metadata={"help": "comma-separated language pairs to train on, e.g. en-de,en-fr "
                          "(default: every pair found in the data directory)"},
    )
    objective: ChoiceEnum(TASK_OBJECTIVES) = field(
        default="weam",
        metadata={"help": "weam: multilingual + cross-lingual (word-exchange) prediction; tlm: <s> x </s> y </s> "
                          "masked LM; mlm: x and y as separate monolingual masked LM examples; contrastive: "
                          "sentence-level InfoNCE over in-batch negatives (unmasked pairs); hybrid: the objectives "
                          "of --hybrid-objectives"},
    )
    contrastive_weight: Optional[float] = field(
        default=None,
        metadata={"help": "weight w of the contrastive loss: with --objective weam|tlm|mlm, adds w * InfoNCE over the "
                          "unmasked pairs of the same batch (default: no contrastive term); with --objective hybrid, "
                          "weighs the contrastive objective's mean (default 1)"},
    )
    hybrid_objectives: Optional[str] = field(
        default=None,
        metadata={"help": "--objective hybrid: objectives and their shares of the items, e.g. "
                          "weam:0.5,contrastive:0.3,mlm:0.2 (each loss averaged over its own items)"},
    )
    hybrid_batching: ChoiceEnum(BATCHINGS) = field(
        default="mixed",
        metadata={"help": "--objective hybrid: mixed = one update holds items of every objective; alternate = each "
                          "batch holds one objective's items (same assignment of items to objectives)"},
    )
    input_mode: ChoiceEnum(INPUT_MODES) = field(
        default="separate",
        metadata={"help": "weam: x and y as two rows of the batch (separate), as one row <s> x </s> y </s> whose "
                          "sides attend to each other (concat), or packed in one row <s> x </s> <s> y </s> whose "
                          "sides attend only to themselves, positions restarting at the second <s> (packed: the "
                          "outputs of separate, the padding of one row; mlm too)"},
    )
    pair_sampling_alpha: float = field(
        default=0.3,
        metadata={"help": "temperature of language-pair sampling, p_pair ∝ n_pair^alpha (XLM-R's 0.3 for "
                          "languages; 1 keeps the natural proportions)"},
    )
    mask_prob: float = field(default=0.15, metadata={"help": "fraction of pieces (or words) of each side to mask"})
    leave_unmasked_prob: float = field(
        default=0.1, metadata={"help": "share of the masked pieces left unchanged in the input"}
    )
    random_token_prob: float = field(
        default=0.1, metadata={"help": "share of the masked pieces replaced by a random piece"}
    )
    mask_whole_words: bool = field(
        default=False,
        metadata={"help": "mask all pieces of a word or none (a word starts at a piece beginning with ▁)"},
    )
    tokens_per_sample: int = field(
        default=512,
        metadata={"help": "longest model input; each side is cut to (tokens_per_sample - 3) // 2 pieces so "
                          "that <s> x </s> y </s> fits, whatever the objective"},
    )
    fixed_pair_order: bool = field(
        default=False,
        metadata={"help": "tlm and weam --input-mode concat: always <s> l1 </s> l2 </s> (default: each pair in "
                          "either order, drawn per pair and epoch from the seed)"},
    )
    reset_positions: bool = field(
        default=False,
        metadata={"help": "tlm and weam --input-mode concat: positions restart at the second sentence, which "
                          "gets the positions it would have alone (<s> y </s>), as XLM's TLM"},
    )
    order_by_pair_length: bool = field(
        default=False,
        metadata={"help": "batch pairs by |x| + |y| instead of by what they cost in the padded batch (the default: "
                          "2 * (max(|x|, |y|) + 2) for two rows, |x| + |y| + 3 for one row); the cost order pads "
                          "much less for weam --input-mode separate and mlm, whose batches then differ from tlm's"},
    )
    seed: int = II("common.seed")
    fp16: bool = II("common.fp16")
    bf16: bool = II("common.bf16")
    cpu: bool = II("common.cpu")
    train_subset: str = II("dataset.train_subset")
    finetune_from_model: Optional[str] = II("checkpoint.finetune_from_model")
    restore_file: str = II("checkpoint.restore_file")


def checkpoint_vocab_size(path):
    """Rows of the token embedding of a fairseq RoBERTa / XLM-R checkpoint (None if it has none)."""
    try:
        state = checkpoint_safety.load(path, map_location="cpu", mmap=True)
    except RuntimeError:  # legacy (non-zip) serialization cannot be memory-mapped
        state = checkpoint_safety.load(path, map_location="cpu")
    weights = state.get("model", state)
    for key in (EMBEDDING_KEY, "decoder.sentence_encoder.embed_tokens.weight"):
        if key in weights:
            return int(weights[key].shape[0])
    return None


@register_task("weam", dataclass=WeamConfig)
class WeamTask(FairseqTask):
    """Pre-training on aligned language pairs with the WEAM, TLM or MLM objective (see module docstring)."""

    cfg: WeamConfig

    def __init__(self, cfg: WeamConfig, dictionary):
        super().__init__(cfg)
        self.dictionary = dictionary
        self.mask_idx = dictionary.index("<mask>")
        self.starts_table = word_start_table(dictionary) if cfg.mask_whole_words else None

    @classmethod
    def setup_task(cls, cfg: WeamConfig, **kwargs):
        dictionary = load_dictionary(cfg.data)
        logger.info(f"dictionary: {len(dictionary)} types (with <mask>)")
        if not kwargs.get("from_checkpoint"):  # training; a checkpoint loaded for inference is not refused
            cls.check_training_settings(cfg)
            cls.check_checkpoint_vocabulary(cfg, os.path.join(cfg.data, "dict.txt"), len(dictionary))
        return cls(cfg, dictionary)

    @staticmethod
    def check_training_settings(cfg):
        """Refuse settings under which nothing can be predicted, or that cannot run on this machine."""
        if cfg.tokens_per_sample < MIN_TOKENS_PER_SAMPLE:
            raise WeamTaskError(
                f"--tokens-per-sample {cfg.tokens_per_sample} leaves no piece to predict: each side of a pair is "
                f"cut to (tokens_per_sample - 3) // 2 = {max((cfg.tokens_per_sample - 3) // 2, 0)} pieces; "
                f"use at least {MIN_TOKENS_PER_SAMPLE} (512 is usual)"
            )
        if cfg.mask_prob == 0:
            raise WeamTaskError(
                "--mask-prob 0 masks no piece, so nothing would be predicted (loss 0): use a rate in (0, 1], "
                "e.g. 0.15"
            )
        if not 0.0 < cfg.mask_prob <= 1.0:
            raise WeamTaskError(f"--mask-prob {cfg.mask_prob} is not a rate: use a value in (0, 1], e.g. 0.15")
        if cfg.reset_positions and not is_concat(cfg.objective, cfg.input_mode):
            raise WeamTaskError(
                f"--reset-positions applies to <s> x </s> y </s> inputs (--objective tlm, or weam with "
                f"--input-mode concat); --objective {cfg.objective} --input-mode {cfg.input_mode} gives each "
                "sentence its own positions already (two rows, or packed with positions restarting): drop the flag"
            )
        WeamTask.hybrid_shares(cfg)  # refuses bad --objective / --hybrid-objectives / --contrastive-weight settings
        # `is True`: a WeamConfig built outside fairseq holds the unresolved "${common.fp16}" strings
        half = [flag for flag in ("fp16", "bf16") if getattr(cfg, flag, False) is True]
        cpu = getattr(cfg, "cpu", False) is True
        if half and (cpu or not torch.cuda.is_available()):
            flag = f"--{half[0]}"
            raise WeamTaskError(
                f"{flag} needs a CUDA GPU; this run is {'with --cpu' if cpu else 'on a machine without one'}: "
                f"drop {flag} to train in float32 on CPU, or run on a GPU"
            )

    @staticmethod
    def hybrid_shares(cfg):
        """``{objective: share}`` of ``--objective hybrid`` (None otherwise); refuses inconsistent flags."""
        if cfg.objective != "hybrid":
            if cfg.hybrid_objectives:
                raise HybridSpecError(
                    f"--hybrid-objectives needs --objective hybrid (got --objective {cfg.objective}): add it, or "
                    "drop --hybrid-objectives")
            if cfg.objective == "contrastive" and cfg.contrastive_weight is not None:
                raise HybridSpecError(
                    "--contrastive-weight weighs the contrastive term added to weam/tlm/mlm or in a hybrid; with "
                    "--objective contrastive alone it has nothing to weigh: drop it")
            return None
        if not cfg.hybrid_objectives:
            raise HybridSpecError(
                "--objective hybrid needs --hybrid-objectives, e.g. weam:0.5,contrastive:0.3,mlm:0.2")
        shares = parse_hybrid_objectives(cfg.hybrid_objectives)
        if cfg.contrastive_weight is not None and "contrastive" not in shares:
            raise HybridSpecError(
                f"--contrastive-weight with --hybrid-objectives {cfg.hybrid_objectives}: no contrastive objective "
                "to weigh; add contrastive:<share> or drop the flag")
        return shares

    def objective_names(self):
        """The objectives whose batches this task formats."""
        shares = self.hybrid_shares(self.cfg)
        return list(shares) if shares else [self.cfg.objective]

    @staticmethod
    def check_checkpoint_vocabulary(cfg, dict_path, vocab_size):
        """Fail before training when the checkpoint to start from has another vocabulary than the data."""
        candidates = []
        if cfg.finetune_from_model:
            candidates.append(("--finetune-from-model", cfg.finetune_from_model))
        if cfg.restore_file and cfg.restore_file != "checkpoint_last.pt":
            candidates.append(("--restore-file", cfg.restore_file))
        for flag, checkpoint in candidates:
            if not os.path.isfile(checkpoint):
                continue  # fairseq reports missing files itself
            size = checkpoint_vocab_size(checkpoint)
            if size is not None and size != vocab_size:
                raise WeamTaskError(
                    f"vocabulary size mismatch: the checkpoint {checkpoint} ({flag}) has {size} token embeddings, "
                    f"but the data dictionary {dict_path} gives {vocab_size} types (with <mask>). Binarize the "
                    "data with the checkpoint's own dictionary and sentencepiece model "
                    "(weam-prepare --spm-model .../sentencepiece.bpe.model --dict .../dict.txt)"
                )

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary

    def max_positions(self):
        return self.cfg.tokens_per_sample

    def lang_pairs(self, split):
        return select_lang_pairs(self.cfg.data, split, self.cfg.lang_pairs)

    def load_pair(self, split, pair):
        """The ``AlignedPairDataset`` of one language pair and split."""
        return load_aligned_pairs(
            self.cfg.data, split, pair, self.dictionary, (self.cfg.tokens_per_sample - 3) // 2,
            require_alignments="weam" in self.objective_names(),
            layouts={row_layout(name, self.cfg.input_mode) for name in self.objective_names()},
        )

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        pairs = self.lang_pairs(split)
        datasets = [self.load_pair(split, pair) for pair in pairs]
        logger.info(f"{split}: " + ", ".join(f"{p} {len(d)} pairs" for p, d in zip(pairs, datasets)))
        is_train = split == self.cfg.train_subset
        if is_train:
            dataset = sample_pairs_with_temperature(datasets, self.cfg.pair_sampling_alpha, self.cfg.seed, epoch)
        else:
            dataset = datasets[0] if len(datasets) == 1 else PairConcatDataset(datasets)  # every held-out pair once
        masked = PairMaskingDataset(
            dataset, self.dictionary, self.mask_idx, self.cfg.seed,
            mask_prob=self.cfg.mask_prob,
            leave_unmasked_prob=self.cfg.leave_unmasked_prob,
            random_token_prob=self.cfg.random_token_prob,
            starts_table=self.starts_table,
        )
        self.datasets[split] = self.format_batches(dataset, masked, is_train)
        return self.datasets[split]

    def objective_batches(self, masked, objective, is_train):
        """The ``ObjectiveBatchDataset`` formatting ``masked`` pairs for ``objective`` (weam, tlm or mlm)."""
        return ObjectiveBatchDataset(
            masked, self.dictionary, objective, self.cfg.input_mode, shuffle=is_train, seed=self.cfg.seed,
            both_orders=not self.cfg.fixed_pair_order, reset_positions=self.cfg.reset_positions,
            order_by_cost=not self.cfg.order_by_pair_length,
        )

    def format_batches(self, pairs, masked, is_train):
        """The batches of ``--objective``: one objective's, contrastive rows (alone or added to weam/tlm/mlm), or
        hybrid (each item formatted by the objective it is assigned)."""
        def formatter(name):
            if name == "contrastive":  # unmasked rows, ordered and batched as mlm's two rows per pair
                return ContrastiveBatchDataset(self.objective_batches(masked, "mlm", is_train), self.dictionary)
            return self.objective_batches(masked, name, is_train)

        shares = self.hybrid_shares(self.cfg)
        if shares:
            return HybridBatchDataset({name: formatter(name) for name in shares}, shares, self.cfg.seed,
                                      self.cfg.hybrid_batching)
        if self.cfg.objective == "contrastive":
            return ContrastiveBatchDataset(self.objective_batches(pairs, "mlm", is_train), self.dictionary)
        batches = self.objective_batches(masked, self.cfg.objective, is_train)
        if self.cfg.contrastive_weight is not None:
            return ContrastiveBatchDataset(batches, self.dictionary, with_objective_batch=True)
        return batches
